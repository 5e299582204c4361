"""Slack delivery: the Web API client for a bot token kept in Secrets Manager, and text made safe for mrkdwn.

Text from logs and tags is data: Slack turns ``<!channel>``, ``<@U…>`` and ``<url|label>`` in mrkdwn into
pings and links, so every value we did not write ourselves is escaped (``&``, ``<``, ``>``, as Slack
specifies) before it enters a message.
"""

from __future__ import annotations

from typing import Any, NamedTuple
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


def button(
    label: str, action_id: str, value: str, style: str | None = None, confirm: tuple[str, str, str] | None = None
) -> dict[str, Any]:
    """A Block Kit button; ``confirm`` (title, text, confirm label) asks before the click counts."""
    out: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": value,
    }
    if style:
        out["style"] = style
    if confirm:
        title, text, yes = confirm
        out["confirm"] = {
            "title": {"type": "plain_text", "text": title},
            "text": {"type": "plain_text", "text": text},
            "confirm": {"type": "plain_text", "text": yes},
            "deny": {"type": "plain_text", "text": "Cancel"},
        }
    return out


def web_client(token: str, api_url: str | None = None) -> WebClient:
    return WebClient(token=token, base_url=api_url or DEFAULT_API_URL, timeout=TIMEOUT_SECONDS)


class Posted(NamedTuple):
    channel: str  # the channel's id as Slack answers it (chat.update needs the id, not a #name)
    ts: str


def post(client: WebClient, channel: str, text: str, blocks: list[dict[str, Any]]) -> str:
    """Post a message (``text`` is what notifications and screen readers show); returns its ``ts``."""
    return post_message(client, channel, text, blocks).ts


def post_message(
    client: WebClient,
    channel: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    thread_ts: str | None = None,
    broadcast: bool = False,
) -> Posted:
    """Post a message, or with ``thread_ts`` a reply in that message's thread (``broadcast`` also shows the
    reply in the channel, which notifies like a new message)."""
    extra: dict[str, Any] = {"thread_ts": thread_ts, "reply_broadcast": broadcast} if thread_ts else {}
    reply = client.chat_postMessage(channel=channel, text=text, blocks=blocks, **extra)
    return Posted(str(reply.get("channel") or channel), str(reply["ts"]))


def update(client: WebClient, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
    """Rewrite a posted message in place (an edit notifies nobody)."""
    client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)


def replace_interactive(response_url: str, text: str, allowed_hosts: tuple[str, ...] = RESPONSE_URL_HOSTS) -> None:
    """Replace the message whose button was pressed (its buttons go) with ``text``, through the interaction's
    ``response_url``, which must be on one of Slack's hosts."""
    _answer(response_url, allowed_hosts, text=text, replace_original=True)


def reply_privately(response_url: str, text: str, allowed_hosts: tuple[str, ...] = RESPONSE_URL_HOSTS) -> None:
    """Answer the user who pressed a button with a message only they see; the original message stays."""
    _answer(response_url, allowed_hosts, text=text, response_type="ephemeral", replace_original=False)


def _answer(response_url: str, allowed_hosts: tuple[str, ...], **message: Any) -> None:
    host = urlsplit(response_url).hostname or ""
    if host not in allowed_hosts:
        raise ValueError(f"response_url host {host!r} is not Slack's")
    reply = WebhookClient(response_url, timeout=TIMEOUT_SECONDS).send(**message)
    if reply.status_code >= 300:
        raise RuntimeError(f"Slack answered {reply.status_code} to the interaction's reply")
