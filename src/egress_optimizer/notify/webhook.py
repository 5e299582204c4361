"""Generic signed webhooks for what follows an alert (a ticket, a pager): the incident contract as JSON.

Each request is signed as ``X-Egress-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` with
the webhook's key from Secrets Manager, so a receiver checks both the body and its age (and refuses replays
older than it tolerates). ``X-Egress-Delivery`` is the same for every retry of one delivery, so a receiver that
remembers it handles a delivery once (delivery is at least once). 5xx, 429 and network errors are retried with
backoff; any other answer is final.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from egress_optimizer.errors import InputError
from egress_optimizer.notify import retry

TIMEOUT_SECONDS = 5
SIGNATURE_HEADER = "X-Egress-Signature"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Webhook:
    name: str
    url: str
    secret_arn: str  # the HMAC key's secret (its ARN is not a secret; the key is)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        # Plain http would show incident details to the network; only a local receiver may use it.
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
            raise InputError(f"webhook {self.name!r}: its url must be https")


def signature(key: bytes, body: bytes, timestamp: int) -> str:
    digest = hmac.new(key, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a new destination: the signed incident goes only where it was configured."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500 or exc.code == 429
    return isinstance(exc, urllib.error.URLError | TimeoutError | ConnectionError)


def send(hook: Webhook, key: bytes, body: bytes, event: str, delivery_id: str, backoff: retry.Backoff) -> int:
    """POST ``body`` to the webhook, signed afresh for each attempt; the receiver's status, or
    ``retry.Exhausted`` when no attempt was accepted."""

    def attempt() -> int:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(key, body, int(time.time())),
            "X-Egress-Event": event,
            "X-Egress-Delivery": delivery_id,
        }
        request = urllib.request.Request(hook.url, data=body, headers=headers, method="POST")
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as reply:
            return int(reply.status)

    return retry.call(f"webhook {hook.name}", attempt, _retryable, backoff)
