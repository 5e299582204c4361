"""Signed approval tokens for email links, and Slack request verification: who may decide, and only once.

An email link carries ``<payload>.<signature>`` (URL-safe base64): the payload binds the approval id, the
incident, the hashes of the plans it approves, the approver and an expiry; the signature is HMAC-SHA256 with a
key kept in Secrets Manager, compared in constant time. The token only proves who was offered the decision;
deciding still goes through the approval's conditional write (pending, not expired, these plans), so a link
works once.

Slack signs each request: ``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{raw body}`` with the app's signing secret
(``X-Slack-Signature``, ``X-Slack-Request-Timestamp``); requests older than five minutes are refused (a replayed
request), and the clicking user must be on the approver allowlist, since the signature only proves that the
request came from Slack.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from egress_optimizer.errors import InputError

DEFAULT_TTL = 24 * 3600
SLACK_MAX_AGE = 300


class Refused(InputError):
    """A request that must not decide anything (forged, expired, replayed, wrong approver, other plans)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Claims:
    approval_id: str
    incident_id: str
    plan_hashes: tuple[str, ...]
    approver: str
    expires_at: int


def sign(key: bytes, claims: Claims) -> str:
    payload = json.dumps(
        {
            "a": claims.approval_id,
            "i": claims.incident_id,
            "p": list(claims.plan_hashes),
            "u": claims.approver,
            "e": claims.expires_at,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    return f"{_b64(payload)}.{_b64(hmac.new(key, payload, hashlib.sha256).digest())}"


def verify(key: bytes, token: str, now: float | None = None) -> Claims:
    """The claims of a genuine, unexpired token; ``Refused`` otherwise."""
    try:
        payload_text, signature = token.split(".", 1)
        payload = _unb64(payload_text)
        given = _unb64(signature)
    except (ValueError, TypeError):
        raise Refused("malformed approval token") from None
    if not hmac.compare_digest(hmac.new(key, payload, hashlib.sha256).digest(), given):
        raise Refused("approval token signature does not match")
    doc = json.loads(payload)
    claims = Claims(doc["a"], doc["i"], tuple(doc["p"]), doc["u"], int(doc["e"]))
    if claims.expires_at <= (time.time() if now is None else now):
        raise Refused("approval token has expired")
    return claims


def check_binding(claims: Claims, item: dict[str, Any]) -> None:
    """The token is for this approval's incident and exactly its plans."""
    if claims.approval_id != item.get("approval_id") or claims.incident_id != item.get("incident_id"):
        raise Refused("approval token is for another approval")
    if sorted(claims.plan_hashes) != sorted(item.get("plan_hashes") or []):
        raise Refused("the plans changed since this link was sent; a new approval is needed")


def verify_slack(secret: bytes, headers: dict[str, str], body: bytes, now: float | None = None) -> None:
    """Slack's request signature (``Refused`` when it is missing, wrong or older than five minutes)."""
    lower = {k.lower(): v for k, v in headers.items()}
    stamp, signature = lower.get("x-slack-request-timestamp", ""), lower.get("x-slack-signature", "")
    if not stamp.isdigit() or not signature.startswith("v0="):
        raise Refused("not a signed Slack request")
    if abs((time.time() if now is None else now) - int(stamp)) > SLACK_MAX_AGE:
        raise Refused("Slack request is older than five minutes")
    base = b"v0:" + stamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Refused("Slack request signature does not match")


@dataclass(frozen=True)
class SlackDecision:
    approval_id: str
    decision: str  # approved | refused | snoozed
    user_id: str
    response_url: str | None


SLACK_ACTIONS = {"approve": "approved", "reject": "refused", "snooze": "snoozed"}


def slack_decision(body: bytes, approvers: set[str]) -> SlackDecision:
    """The button a Slack user pressed (an interaction payload), if that user may approve."""
    try:
        payload = json.loads(parse_qs(body.decode())["payload"][0])
        action = payload["actions"][0]
        user = payload["user"]["id"]
    except (KeyError, IndexError, ValueError, UnicodeDecodeError):
        raise Refused("not a Slack interaction payload") from None
    kind, _, approval_id = str(action.get("value", "")).partition(":")
    if kind not in SLACK_ACTIONS or not approval_id.startswith("apr-"):
        raise Refused("unknown approval button")
    if user not in approvers:
        raise Refused(f"Slack user {user} is not an approver")
    return SlackDecision(approval_id, SLACK_ACTIONS[kind], user, payload.get("response_url"))
