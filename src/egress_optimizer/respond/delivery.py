"""Asking approvers: a Slack message with buttons and, for each approver with an email address, a message
with a link signed for that approver alone, published to an SNS topic with the ``approver`` attribute (each
subscription filters on it, so nobody receives another's link).

Secrets (the Slack bot token, the link-signing key) are read from Secrets Manager when a request is sent;
nothing secret is in the environment or the messages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from slack_sdk.errors import SlackApiError, SlackClientError

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.notify import slack
from egress_optimizer.respond import approval_messages, approval_tokens
from egress_optimizer.respond.actions import Plan
from egress_optimizer.respond.policy import Policy


@dataclass(frozen=True)
class ApprovalDelivery:
    """Where approval requests go; every part is optional (Terraform sets what a deployment uses)."""

    topic_arn: str | None = None
    approval_url: str | None = None
    key_secret_arn: str | None = None
    approver_emails: tuple[str, ...] = ()
    slack_token_secret_arn: str | None = None
    slack_channel: str | None = None
    slack_api_url: str | None = None

    @classmethod
    def from_env(cls) -> ApprovalDelivery:
        emails = os.environ.get("APPROVER_EMAILS", "")
        return cls(
            topic_arn=os.environ.get("APPROVALS_TOPIC_ARN") or None,
            approval_url=os.environ.get("APPROVAL_URL") or None,
            key_secret_arn=os.environ.get("APPROVAL_KEY_SECRET_ARN") or None,
            approver_emails=tuple(e.strip() for e in emails.split(",") if e.strip()),
            slack_token_secret_arn=os.environ.get("SLACK_BOT_TOKEN_SECRET_ARN") or None,
            slack_channel=os.environ.get("SLACK_APPROVAL_CHANNEL") or None,
            slack_api_url=os.environ.get("SLACK_API_URL") or None,
        )


def email_approvers(plans: list[Plan], configured: tuple[str, ...], policy: Policy) -> list[str]:
    """Addresses that may decide every plan: the configured ones and those the policy names, minus anyone the
    policy does not let decide one of the actions."""
    named = {a for p in plans for a in policy.approvers_of(p.action_id) if "@" in a}
    return sorted(a for a in set(configured) | named if all(policy.may_decide(p.action_id, a) for p in plans))


def ask(
    approval_id: str, incident: Incident, plans: list[Plan], expires_at: int, where: ApprovalDelivery, policy: Policy
) -> tuple[list[str], list[str]]:
    """Send the requests; returns (who or what was asked, what failed and why)."""
    sent: list[str] = []
    failed: list[str] = []
    if where.slack_token_secret_arn and where.slack_channel:
        try:
            client = slack.web_client(_secret(where.slack_token_secret_arn), where.slack_api_url)
            blocks = approval_messages.slack_blocks(approval_id, incident, plans, expires_at)
            slack.post(client, where.slack_channel, slack.escape(approval_messages.headline(incident)), blocks)
            sent.append(f"slack:{where.slack_channel}")
        except (SlackApiError, SlackClientError, OSError, ClientError, BotoCoreError) as exc:
            failed.append(f"slack: {type(exc).__name__}: {exc}")
    if where.topic_arn:
        key = _secret(where.key_secret_arn).encode() if where.key_secret_arn and where.approval_url else None
        for approver in email_approvers(plans, where.approver_emails, policy):
            try:
                _email(approval_id, incident, plans, expires_at, where, approver, key)
                sent.append(f"email:{approver}")
            except (ClientError, BotoCoreError) as exc:
                failed.append(f"email {approver}: {type(exc).__name__}: {exc}")
    return sent, failed


def _email(
    approval_id: str, incident: Incident, plans: list[Plan], expires_at: int, where: ApprovalDelivery,
    approver: str, key: bytes | None,
) -> None:  # fmt: skip
    link = None
    if key is not None and where.approval_url:
        claims = approval_tokens.Claims(approval_id, incident.id, tuple(p.hash for p in plans), approver, expires_at)
        link = approval_messages.approval_link(where.approval_url, approval_tokens.sign(key, claims))
    text = approval_messages.email_text(approval_id, incident, plans, link, expires_at)
    subject = "".join(c if 32 <= ord(c) < 127 else "?" for c in approval_messages.headline(incident))[:100]
    sns = boto3.client("sns", region_name=str(where.topic_arn).split(":")[3])
    sns.publish(
        TopicArn=where.topic_arn,
        Subject=subject,
        Message=text,
        MessageAttributes={"approver": {"DataType": "String", "StringValue": approver}},
    )


def _secret(arn: str) -> str:
    return boto3.client("secretsmanager", region_name=arn.split(":")[3]).get_secret_value(SecretId=arn)["SecretString"]
