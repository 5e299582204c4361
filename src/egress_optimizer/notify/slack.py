"""Slack delivery: the Web API client for a bot token kept in Secrets Manager, and text made safe for mrkdwn.

Text from logs and tags is data: Slack turns ``<!channel>``, ``<@U…>`` and ``<url|label>`` in mrkdwn into
pings and links, so every value we did not write ourselves is escaped (``&``, ``<``, ``>``, as Slack
specifies) before it enters a message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

# GovSlack and Enterprise Grid use other hosts (e.g. https://slack-gov.com/api/); the default is Slack's own.
DEFAULT_API_URL = "https://slack.com/api/"
RESPONSE_URL_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")
TIMEOUT_SECONDS = 5


def escape(text: object) -> str:
    """``text`` as literal mrkdwn: no mention, link or channel ping can come from it."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def web_client(token: str, api_url: str | None = None) -> WebClient:
    return WebClient(token=token, base_url=api_url or DEFAULT_API_URL, timeout=TIMEOUT_SECONDS)


def post(client: WebClient, channel: str, text: str, blocks: list[dict[str, Any]]) -> str:
    """Post a message (``text`` is what notifications and screen readers show); returns its ``ts``."""
    return str(client.chat_postMessage(channel=channel, text=text, blocks=blocks)["ts"])


def replace_interactive(response_url: str, text: str, allowed_hosts: tuple[str, ...] = RESPONSE_URL_HOSTS) -> None:
    """Replace the message whose button was pressed (its buttons go) with ``text``, through the interaction's
    ``response_url``, which must be on one of Slack's hosts."""
    host = urlsplit(response_url).hostname or ""
    if host not in allowed_hosts:
        raise ValueError(f"response_url host {host!r} is not Slack's")
    reply = WebhookClient(response_url, timeout=TIMEOUT_SECONDS).send(text=text, replace_original=True)
    if reply.status_code >= 300:
        raise RuntimeError(f"Slack answered {reply.status_code} to the message update")
