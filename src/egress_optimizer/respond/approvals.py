"""Approvals: the workflow's task token kept server-side under a short id; a decision is taken once, in time.

What travels in messages, links and buttons is the approval id, never the token (a Slack button value holds
2,000 characters, a task token up to 2,048, and a token is a credential to resume the execution). A decision
is a conditional write (still pending, not expired), so it works once; then the workflow resumes with the
decision, who took it and the plan hashes it approved.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from botocore.exceptions import ClientError

from egress_optimizer.errors import InputError
from egress_optimizer.respond import approval_tokens

DECISIONS = ("approved", "refused")


def request(table: Any, token: str, execution: str, incident_id: str, plan_hashes: list[str], ttl_seconds: int) -> str:
    """Store a pending approval; returns its id. The id derives from the token, so a retried step stores
    nothing twice and names the same approval."""
    approval_id = "apr-" + hashlib.sha256(token.encode()).hexdigest()[:12]
    now = int(time.time())
    try:
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
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    return approval_id


def expiry(table: Any, approval_id: str) -> int:
    return int(table.get_item(Key={"approval_id": approval_id}, ConsistentRead=True)["Item"]["expires_at"])


def record(table: Any, approval_id: str, decision: str, approver: str) -> dict[str, Any]:
    """Record ``decision`` (approved or refused) once, while the approval is pending and unexpired; returns the
    approval. A second decision (a retried request, another click) is an ``InputError``."""
    if decision not in DECISIONS:
        raise InputError(f"decision must be one of {', '.join(DECISIONS)}")
    now = int(time.time())
    values = {":d": decision, ":who": approver, ":now": now}
    return _while_pending(table, approval_id, "SET #s = :d, decided_by = :who, decided_at = :now", values)


def _while_pending(table: Any, approval_id: str, update: str, values: dict[str, Any]) -> dict[str, Any]:
    """Apply ``update`` only to a pending, unexpired approval (``values`` holds ``:now``); returns the approval.
    Anything else (decided, expired, unknown) is an ``InputError``."""
    try:
        return table.update_item(
            Key={"approval_id": approval_id},
            UpdateExpression=update,
            ConditionExpression="#s = :pending AND expires_at > :now",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={**values, ":pending": "pending"},
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise InputError(f"approval {approval_id} was already decided, has expired or does not exist") from None
        raise


def resume(table: Any, sfn: Any, approval_id: str) -> dict[str, Any]:
    """Resume the waiting workflow with a recorded decision, once: a redelivered request finds it resumed and
    does nothing. A workflow that stopped waiting (timed out) marks the approval expired."""
    item = table.get_item(Key={"approval_id": approval_id}, ConsistentRead=True).get("Item")
    if item is None or item.get("status") not in DECISIONS:
        raise InputError(f"approval {approval_id} has no decision to resume with")
    output = {
        "decision": item["status"],
        "approver": item["decided_by"],
        "approval_id": approval_id,
        "plan_hashes": item["plan_hashes"],
    }
    if item.get("resumed_at"):
        return output
    try:
        sfn.send_task_success(taskToken=item["task_token"], output=json.dumps(output))
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
            raise
        _set(table, approval_id, "#s", "expired")
        raise InputError(f"approval {approval_id}: the workflow no longer waits for it (it timed out)") from None
    _set(table, approval_id, "resumed_at", int(time.time()))
    return output


def snooze(table: Any, approval_id: str, who: str, seconds: int) -> dict[str, Any]:
    """Note that ``who`` put off a pending approval for ``seconds`` (its expiry does not move); returns it."""
    now = int(time.time())
    values = {":who": who, ":until": now + seconds, ":now": now}
    return _while_pending(table, approval_id, "SET snoozed_by = :who, snoozed_until = :until", values)


def still_pending(table: Any, approval_id: str) -> dict[str, Any] | None:
    """The approval, if it still waits for a decision and has not expired."""
    item = table.get_item(Key={"approval_id": approval_id}, ConsistentRead=True).get("Item")
    if item is None or item.get("status") != "pending" or int(item["expires_at"]) <= time.time():
        return None
    return item


def _set(table: Any, approval_id: str, name: str, value: Any) -> None:
    names = {"#s": "status"} if name == "#s" else {"#n": name}
    table.update_item(
        Key={"approval_id": approval_id},
        UpdateExpression=f"SET {next(iter(names))} = :v",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={":v": value},
    )


def decide(table: Any, sfn: Any, approval_id: str, decision: str, approver: str) -> dict[str, Any]:
    """Record ``decision`` once and resume the workflow with it at once (the approval Lambda resumes through a
    queue instead, to answer Slack within its three seconds)."""
    record(table, approval_id, decision, approver)
    return resume(table, sfn, approval_id)


def record_with_token(
    table: Any, key: bytes, token: str, decision: str, now: float | None = None
) -> approval_tokens.Claims:
    """An email link's decision: a genuine, unexpired token for this approval and exactly its plans, recorded
    once; returns the token's claims (whose approval, who decided). Resume the workflow with ``resume``."""
    claims = approval_tokens.verify(key, token, now)
    item = table.get_item(Key={"approval_id": claims.approval_id}).get("Item")
    if item is None:
        raise approval_tokens.Refused(f"approval {claims.approval_id} does not exist")
    approval_tokens.check_binding(claims, item)
    record(table, claims.approval_id, decision, claims.approver)
    return claims


def pending(table: Any, incident_id: str | None = None) -> list[dict[str, Any]]:
    """Pending approvals (ids, incidents, expiry), without their tokens."""
    items = table.scan().get("Items", [])
    return [
        {k: v for k, v in i.items() if k != "task_token"}
        for i in items
        if i.get("status") == "pending" and (incident_id is None or i.get("incident_id") == incident_id)
    ]
