"""The clients alerts go out through, each delivery retried with backoff: Slack's Web API (slack-sdk; the bot
token from Secrets Manager), email through SNS topics, and signed webhooks (their keys from Secrets Manager).

Slack is reached through ``chat.postMessage`` / ``chat.update``, not an incoming webhook: an incoming webhook
can neither edit its message nor reply in its thread, and one incident keeps one thread. A delivery that still
fails after its retries raises ``retry.Exhausted``; the caller records what did go out and fails the run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.errors import InputError
from egress_optimizer.notify import retry, slack, webhook
from egress_optimizer.notify.routing import Routes


def _slack_retryable(exc: BaseException) -> bool:
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", 0)
        return status >= 500 or status == 429
    return isinstance(exc, SlackClientError | OSError)


def _never(exc: BaseException) -> bool:
    return False  # botocore already retried throttling, 5xx and dropped connections


@dataclass
class Outbound:
    """Where alerts are delivered through; ``slack`` is None when no route has a Slack channel."""

    secrets: Any
    slack: WebClient | None
    backoff: retry.Backoff = field(default_factory=retry.Backoff)
    report_url: str | None = None
    snooze_hours: int = 4
    _keys: dict[str, bytes] = field(default_factory=dict)
    _sns: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, routes: Routes) -> Outbound:
        """``SLACK_BOT_TOKEN_SECRET_ARN`` / ``SLACK_API_URL``, ``ALERT_RETRY_ATTEMPTS`` (4),
        ``ALERT_RETRY_BASE_SECONDS`` (0.5), ``REPORT_BASE_URL``, ``ALERT_SNOOZE_HOURS`` (4)."""
        env = os.environ.get
        secrets = boto3.client("secretsmanager")
        token_arn = env("SLACK_BOT_TOKEN_SECRET_ARN")
        if any(r.slack_channel for r in routes.all) and not token_arn:
            raise InputError("alert routes name Slack channels but SLACK_BOT_TOKEN_SECRET_ARN is not set")
        token = secrets.get_secret_value(SecretId=token_arn)["SecretString"] if token_arn else None
        return cls(
            secrets=secrets,
            slack=slack.web_client(token, env("SLACK_API_URL") or None) if token else None,
            backoff=retry.Backoff(int(env("ALERT_RETRY_ATTEMPTS", "4")), float(env("ALERT_RETRY_BASE_SECONDS", "0.5"))),
            report_url=env("REPORT_BASE_URL") or None,
            snooze_hours=int(env("ALERT_SNOOZE_HOURS", "4")),
        )

    def key(self, secret_arn: str) -> bytes:
        if secret_arn not in self._keys:
            self._keys[secret_arn] = self.secrets.get_secret_value(SecretId=secret_arn)["SecretString"].encode()
        return self._keys[secret_arn]

    def _client(self) -> WebClient:
        if self.slack is None:
            raise InputError("no Slack client: SLACK_BOT_TOKEN_SECRET_ARN is not set")
        return self.slack

    def post(self, channel: str, text: str, blocks: list[dict] | None, thread: str | None = None) -> slack.Posted:
        """A message, or with ``thread`` a quiet reply in that message's thread."""
        send = partial(slack.post_message, self._client(), channel, text, blocks, thread)
        return retry.call(f"slack post to {channel}", send, _slack_retryable, self.backoff)

    def broadcast(self, channel: str, thread: str, text: str) -> slack.Posted:
        """A reply in ``thread`` that also shows (and notifies) in the channel: a re-page keeps its thread."""
        send = partial(slack.post_message, self._client(), channel, text, None, thread, broadcast=True)
        return retry.call(f"slack reply in {channel}", send, _slack_retryable, self.backoff)

    def update(self, channel: str, ts: str, text: str, blocks: list[dict]) -> None:
        send = partial(slack.update, self._client(), channel, ts, text, blocks)
        retry.call(f"slack update in {channel}", send, _slack_retryable, self.backoff)

    def email(self, topic_arn: str, subject: str, text: str, attributes: dict[str, str]) -> str:
        """Publish to an SNS topic; ``attributes`` (team, severity) let subscriptions filter."""
        region = topic_arn.split(":")[3]
        sns = self._sns.setdefault(region, boto3.client("sns", region_name=region))
        attrs = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items() if v}

        def send() -> str:
            try:
                reply = sns.publish(TopicArn=topic_arn, Subject=subject, Message=text, MessageAttributes=attrs)
            except (ClientError, BotoCoreError) as exc:
                raise RuntimeError(f"{type(exc).__name__}: {exc}") from exc
            return str(reply["MessageId"])

        return retry.call(f"email to {topic_arn}", send, _never, self.backoff)

    def webhook(self, hook: webhook.Webhook, incident: Incident, event: str, delivery_id: str) -> int:
        """The incident contract, signed, to a webhook."""
        body = json.dumps(incident.to_json(), separators=(",", ":")).encode()
        try:
            key = self.key(hook.secret_arn)
        except (ClientError, BotoCoreError) as exc:
            raise retry.Exhausted(f"webhook {hook.name} key", 1, exc) from exc
        return webhook.send(hook, key, body, event, delivery_id, self.backoff)
