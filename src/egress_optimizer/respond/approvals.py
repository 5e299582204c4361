"""Approvals: the workflow's task token kept server-side under a short id; a decision is taken once, in time.

What travels in messages, links and buttons is the approval id, never the token (a Slack button value holds
2,000 characters, a task token up to 2,048, and a token is a credential to resume the execution). A decision
is a conditional write (still pending, not expired), so it works once; then the workflow resumes with the
decision, who took it and the plan hashes it approved.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from botocore.exceptions import ClientError

from egress_optimizer.errors import InputError
from egress_optimizer.respond import approval_tokens

DECISIONS = ("approved", "refused")


def request(table: Any, token: str, execution: str, incident_id: str, plan_hashes: list[str], ttl_seconds: int) -> str:
    """Store a pending approval; returns its id."""
    approval_id = "apr-" + secrets.token_hex(6)
    now = int(time.time())
    table.put_item(
        Item={
            "approval_id": approval_id,
            "task_token": token,
            "execution": execution,
            "incident_id": incident_id,
            "plan_hashes": plan_hashes,
            "status": "pending",
            "created_at": now,
            "expires_at": now + int(ttl_seconds),
        },
        ConditionExpression="attribute_not_exists(approval_id)",
    )
    return approval_id


def decide(table: Any, sfn: Any, approval_id: str, decision: str, approver: str) -> dict[str, Any]:
    """Record ``decision`` (approved or refused) once and resume the workflow with it."""
    if decision not in DECISIONS:
        raise InputError(f"decision must be one of {', '.join(DECISIONS)}")
    try:
        item = table.update_item(
            Key={"approval_id": approval_id},
            UpdateExpression="SET #s = :d, decided_by = :who, decided_at = :now",
            ConditionExpression="#s = :pending AND expires_at > :now",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":d": decision,
                ":who": approver,
                ":now": int(time.time()),
                ":pending": "pending",
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise InputError(f"approval {approval_id} was already decided, has expired or does not exist") from None
        raise
    output = {
        "decision": decision,
        "approver": approver,
        "approval_id": approval_id,
        "plan_hashes": item["plan_hashes"],
    }
    try:
        sfn.send_task_success(taskToken=item["task_token"], output=json.dumps(output))
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
            raise
        table.update_item(
            Key={"approval_id": approval_id},
            UpdateExpression="SET #s = :e",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":e": "expired"},
        )
        raise InputError(f"approval {approval_id}: the workflow no longer waits for it (it timed out)") from None
    return output


def decide_with_token(
    table: Any, sfn: Any, key: bytes, token: str, decision: str, now: float | None = None
) -> dict[str, Any]:
    """An email link's decision: a genuine, unexpired token for this approval and exactly its plans, once."""
    claims = approval_tokens.verify(key, token, now)
    item = table.get_item(Key={"approval_id": claims.approval_id}).get("Item")
    if item is None:
        raise approval_tokens.Refused(f"approval {claims.approval_id} does not exist")
    approval_tokens.check_binding(claims, item)
    return decide(table, sfn, claims.approval_id, decision, claims.approver)


def pending(table: Any, incident_id: str | None = None) -> list[dict[str, Any]]:
    """Pending approvals (ids, incidents, expiry), without their tokens."""
    items = table.scan().get("Items", [])
    return [
        {k: v for k, v in i.items() if k != "task_token"}
        for i in items
        if i.get("status") == "pending" and (incident_id is None or i.get("incident_id") == incident_id)
    ]
