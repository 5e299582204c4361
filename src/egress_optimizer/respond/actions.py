"""Remediation actions: small registered classes, each with a dry-run plan, apply, verify and rollback.

Only actions in ``CATALOGUE`` can be proposed or applied; each declares its risk, the IAM actions it needs and
the resource kinds it applies to. A plan carries the resource's current configuration and the proposed one,
and a hash of both: apply re-reads the resource and refuses when the hash no longer matches (it changed since
the plan was approved). Applying an action already in place changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from egress_optimizer.contracts.incident import Entity, EntityKind


class Drift(Exception):
    """The resource changed since its plan was made: the plan no longer describes what would change."""


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action_id: str
    resource: str
    account: str
    region: str
    current: dict[str, Any]
    proposed: dict[str, Any]
    changes: list[str]
    hash: str


class Applied(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    plan: Plan
    prior: dict[str, Any]
    changed: bool


def _digest(action_id: str, resource: str, current: dict, proposed: dict) -> str:
    body = json.dumps([action_id, resource, current, proposed], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


class Action:
    id: ClassVar[str]
    description: ClassVar[str]
    risk: ClassVar[str]
    iam_actions: ClassVar[tuple[str, ...]]
    resource_kinds: ClassVar[tuple[EntityKind, ...]]

    def read(self, clients: Any, resource: str) -> dict[str, Any]:
        raise NotImplementedError

    def propose(self, current: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def write(self, clients: Any, resource: str, config: dict[str, Any]) -> None:
        raise NotImplementedError

    def plan(self, clients: Any, entity: Entity) -> Plan:
        current = self.read(clients, entity.id)
        proposed = self.propose(current)
        changes = [f"{k}: {current.get(k)!r} -> {v!r}" for k, v in proposed.items() if current.get(k) != v]
        return Plan(
            action_id=self.id,
            resource=entity.id,
            account=entity.account,
            region=entity.region,
            current=current,
            proposed=proposed,
            changes=changes,
            hash=_digest(self.id, entity.id, current, proposed),
        )

    def apply(self, clients: Any, plan: Plan) -> Applied:
        if plan.action_id != self.id or _digest(self.id, plan.resource, plan.current, plan.proposed) != plan.hash:
            raise ValueError(f"plan for {plan.resource} does not match its hash: it was altered after it was made")
        current = self.read(clients, plan.resource)
        if current == plan.proposed:
            return Applied(plan=plan, prior=plan.current, changed=False)
        if current != plan.current:
            raise Drift(f"{plan.resource} changed since the plan was made; plan again and ask for a new approval")
        self.write(clients, plan.resource, plan.proposed)
        return Applied(plan=plan, prior=current, changed=True)

    def verify(self, clients: Any, applied: Applied) -> bool:
        return self.read(clients, applied.plan.resource) == applied.plan.proposed

    def rollback(self, clients: Any, applied: Applied) -> None:
        if applied.changed:
            self.write(clients, applied.plan.resource, applied.prior)


CATALOGUE: dict[str, Action] = {}


def register(cls: type[Action]) -> type[Action]:
    CATALOGUE[cls.id] = cls()
    return cls


BLOCK_KEYS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


@register
class S3BlockPublicAccess(Action):
    id = "s3.block-public-access"
    description = "Turn on all four settings of the bucket's public access block."
    risk = "medium: anything that reads the bucket anonymously stops working"
    iam_actions = ("s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock")
    resource_kinds = (EntityKind.s3_bucket,)

    def read(self, clients: Any, resource: str) -> dict[str, Any]:
        try:
            cfg = clients.for_service("s3").get_public_access_block(Bucket=resource)["PublicAccessBlockConfiguration"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchPublicAccessBlockConfiguration":
                raise
            return {}
        return {k: bool(cfg.get(k)) for k in BLOCK_KEYS}

    def propose(self, current: dict[str, Any]) -> dict[str, Any]:
        return dict.fromkeys(BLOCK_KEYS, True)

    def write(self, clients: Any, resource: str, config: dict[str, Any]) -> None:
        s3 = clients.for_service("s3")
        if config:
            s3.put_public_access_block(Bucket=resource, PublicAccessBlockConfiguration=config)
        else:
            s3.delete_public_access_block(Bucket=resource)


NOT_PLANNABLE = {"NoSuchBucket", "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "NoSuchEntity"}


def plans_for(action_ids: list[str], entities: list[Entity], clients_for: Any) -> list[Plan]:
    """A plan per catalogue action and resource it applies to. Unknown action ids propose nothing, and neither
    does a resource that is gone or that the response may not read (nothing can be planned, so nothing may be
    approved)."""
    out, seen = [], set()
    for action_id in action_ids:
        action = CATALOGUE.get(action_id)
        if action is None:
            continue
        for e in entities:
            if e.kind not in action.resource_kinds or (action_id, e.id) in seen:
                continue
            seen.add((action_id, e.id))
            try:
                out.append(action.plan(clients_for(e.account, e.region), e))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in NOT_PLANNABLE:
                    raise
    return out
