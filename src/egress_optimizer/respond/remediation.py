"""Applying approved remediation plans: all or nothing, verified, rolled back exactly, and audited.

Two callers share the core (``Remediator``, ``policy_refusal``): the response
workflow's steps (``tasks``) and ``egress remediate approve / apply / rollback`` (``approve``,
``apply_approved``, ``roll_back``), which keep their plans in a ``PlanStore``.

Outside the workflow an approval is a signed token (``approval_tokens``: plan hashes, incident, approver,
expiry; HMAC-SHA256 with the approval key, the same key the approval Lambda reads from Secrets Manager).
Holding the key is what makes someone an approver: it both mints and verifies tokens, so keep it readable
only by approvers and by whatever applies their approvals. ``apply_approved`` takes a token only if it is
genuine, unexpired, for exactly these plans and this incident, from someone the remediation policy lets decide
each action, inside a change window, and never used before; then it applies every plan or none.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from egress_optimizer.errors import EgressError, InputError
from egress_optimizer.respond import approval_tokens
from egress_optimizer.respond.actions import CATALOGUE, Applied, Drift, Plan, ResourceGone, diff_lines
from egress_optimizer.respond.approval_tokens import Claims, Refused
from egress_optimizer.respond.aws_config import error_code
from egress_optimizer.respond.plan_store import APPLIED, PLANNED, ROLLED_BACK, PlanStore, Record, Run, plan_id_of
from egress_optimizer.respond.policy import Policy

ClientsFor = Callable[[str, str], Any]
# audit(incident_id, event, plan, actor, before, after, detail): ``audit.record`` with its lake bound.
Audit = Callable[[str, str, Plan, str, dict | None, dict | None, str], None]
MIN_KEY_BYTES = 16
RESERVED_APPROVER = "policy:"  # the workflow's own approvers (``policy:auto-apply``): no token may claim one
MAX_TTL_SECONDS = 7 * 24 * 3600


def _no_audit(*_: Any) -> None:
    return None


class PartialApply(EgressError):
    """Some approved plans failed to apply; those that had been applied were rolled back (or the message says
    which could not be)."""


# ---- the shared core -------------------------------------------------------------------------------------------
def policy_refusal(plans: list[Plan], approver: str, policy: Policy, at: datetime | None) -> str | None:
    """Why the policy refuses ``approver`` applying ``plans`` at ``at`` (None: at any time); None when it does
    not. The workflow's ``tasks._approved_plans`` checks approver and window the same way."""
    barred = [f"{p.action_id} in {p.account}" for p in plans if not policy.allows(p.action_id, p.account)]
    if barred:
        return f"the remediation policy does not allow {', '.join(sorted(set(barred)))}"
    refused = sorted({p.action_id for p in plans if not policy.may_decide(p.action_id, approver)})
    if refused:
        return f"{approver} may not approve {', '.join(refused)} (remediation policy)"
    resources = {p.resource for p in plans}
    if len(resources) > policy.max_resources_per_run:
        return (f"{len(resources)} resources at once is more than the policy's max_resources_per_run "
                f"({policy.max_resources_per_run})")  # fmt: skip
    if at is not None and not policy.in_window(at):
        return "outside every change window of the remediation policy: nothing was applied"
    return None


@dataclass(frozen=True)
class Remediator:
    """Applies, verifies and rolls back plans for one actor and incident, through ``clients_for`` (account, region
    -> boto3 clients), recording every step with ``audit``."""

    clients_for: ClientsFor
    actor: str = ""
    incident_id: str = ""
    audit: Audit = _no_audit

    def apply_all(
        self,
        plans: list[Plan],
        on_applied: Callable[[Applied], None] | None = None,
        on_rolled_back: Callable[[Applied, str], None] | None = None,
    ) -> list[Applied]:
        """Apply every plan, in order, or none. The first plan's failure is raised as it was (nothing changed; a
        transient error may simply be retried); a later one rolls back those applied before it and raises
        ``PartialApply`` saying so. ``on_applied`` runs as soon as each plan is applied (to keep its prior
        configuration before anything else can fail), ``on_rolled_back`` after each is restored."""
        out: list[Applied] = []
        for plan in plans:
            try:
                done = CATALOGUE[plan.action_id].apply(self.clients_for(plan.account, plan.region), plan)
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                self.audit(self.incident_id, "apply_failed", plan, self.actor, None, None, reason)
                if not out:
                    raise
                note = f"rolled back because {plan.action_id} on {plan.resource} failed"
                failed = self.rollback_all(out, on_rolled_back, note)
                message = f"{plan.action_id} on {plan.resource} failed ({reason}); "
                message += f"rolled back the {len(out) - len(failed)} action(s) applied before it"
                if failed:
                    message += "; could NOT roll back " + ", ".join(
                        f"{a.plan.action_id} on {a.plan.resource} ({type(e).__name__}: {e})" for a, e in failed
                    )
                raise PartialApply(message) from exc
            out.append(done)
            if on_applied is not None:
                on_applied(done)
            detail = "applied" if done.changed else "already in place"
            self.audit(self.incident_id, "applied", plan, self.actor, done.prior, plan.proposed, detail)
        return out

    def verify_all(self, applied: list[Applied]) -> list[bool]:
        """Whether each applied plan's proposed configuration is in place now."""
        held = []
        for a in applied:
            ok = CATALOGUE[a.plan.action_id].verify(self.clients_for(a.plan.account, a.plan.region), a)
            self.audit(self.incident_id, "verified" if ok else "not_verified", a.plan, self.actor, None, None, "")
            held.append(ok)
        return held

    def rollback_all(
        self,
        applied: list[Applied],
        on_rolled_back: Callable[[Applied, str], None] | None = None,
        detail: str = "",
    ) -> list[tuple[Applied, Exception]]:
        """Write back the prior configuration of each, last applied first; tries them all and returns those that
        failed, with their error (the caller decides whether that is fatal)."""
        failed: list[tuple[Applied, Exception]] = []
        for a in reversed(applied):
            try:
                CATALOGUE[a.plan.action_id].rollback(self.clients_for(a.plan.account, a.plan.region), a)
            except Exception as exc:
                self.audit(self.incident_id, "rollback_failed", a.plan, self.actor, a.plan.proposed, a.prior,
                           f"{type(exc).__name__}: {exc}")  # fmt: skip
                failed.append((a, exc))
                continue
            self.audit(self.incident_id, "rolled_back", a.plan, self.actor, a.plan.proposed, a.prior, detail)
            if on_rolled_back is not None:
                on_rolled_back(a, detail)
        return failed


# ---- the approval key ------------------------------------------------------------------------------------------
def approval_key(key_file: str | None = None, secret_arn: str | None = None, secrets: Any = None) -> bytes:
    """The HMAC key: the bytes of ``key_file`` (a trailing newline dropped) or the SecretString of
    ``secret_arn`` (the secret the approval Lambda reads as ``APPROVAL_KEY_SECRET_ARN``)."""
    if bool(key_file) == bool(secret_arn):
        raise InputError("give the approval key as one of --key-file (EGRESS_APPROVAL_KEY_FILE) or --key-secret-arn")
    if key_file:
        path = Path(key_file).expanduser()
        try:
            mode = path.stat().st_mode
            key = path.read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise InputError(f"approval key file {key_file}: {exc.strerror or exc}") from None
        if os.name == "posix" and mode & (stat.S_IROTH | stat.S_IWOTH):
            raise InputError(f"approval key file {key_file} is readable or writable by everyone: holding the key "
                             "makes one an approver (chmod 600, or 640 for an approvers' group)")  # fmt: skip
    else:
        assert secret_arn is not None
        if secrets is None:
            import boto3

            parts = secret_arn.split(":")
            region = parts[3] if secret_arn.startswith("arn:") and len(parts) > 3 else None
            secrets = boto3.client("secretsmanager", region_name=region)
        try:
            key = secrets.get_secret_value(SecretId=secret_arn)["SecretString"].encode()
        except ClientError as exc:
            raise InputError(f"approval key secret {secret_arn}: {error_code(exc)}") from None
        except KeyError:
            raise InputError(f"approval key secret {secret_arn} has no SecretString") from None
    if len(key) < MIN_KEY_BYTES:
        raise InputError(f"the approval key is shorter than {MIN_KEY_BYTES} bytes")
    return key


# ---- the command line's approve / apply / rollback ---------------------------------------------------------------
def approval_id_of(plan_ids: list[str]) -> str:
    """The plan id for one plan; for several, an id derived from all of them."""
    if len(plan_ids) == 1:
        return plan_ids[0]
    return "plans-" + hashlib.sha256("\n".join(sorted(plan_ids)).encode()).hexdigest()[:12]


def _unique(plan_ids: list[str]) -> list[str]:
    if not plan_ids:
        raise InputError("name at least one plan id")
    return list(dict.fromkeys(plan_ids))


def _one_incident(records: list[Record]) -> str:
    incidents = sorted({r.incident_id for r in records})
    if len(incidents) > 1:
        raise InputError(f"the plans belong to several incidents ({', '.join(incidents)}): approve one at a time")
    return incidents[0]


def _not_applied(records: list[Record]) -> None:
    for r in records:
        if r.status == APPLIED and r.last is not None:
            raise Refused(f"plan {r.plan_id} is already applied (at {r.last.applied_at:%Y-%m-%d %H:%M:%S} UTC, "
                          f"approved by {r.last.approver}); roll it back first")  # fmt: skip


@dataclass(frozen=True)
class Approval:
    token: str
    claims: Claims
    records: list[Record]


def approve(store: PlanStore, plan_ids: list[str], approver: str, key: bytes, policy: Policy,
            ttl_seconds: int = approval_tokens.DEFAULT_TTL, now: float | None = None) -> Approval:  # fmt: skip
    """A signed approval of exactly these plans by ``approver``, valid for ``ttl_seconds``."""
    if not approver.strip():
        raise InputError("--approver must name who approves")
    if approver.startswith(RESERVED_APPROVER):
        raise Refused(f"{approver!r} is reserved for the remediation policy's own approvals")
    if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
        raise InputError(f"an approval lasts more than 0 and at most {MAX_TTL_SECONDS // 3600} hours")
    records = [store.load(p) for p in _unique(plan_ids)]
    incident_id = _one_incident(records)
    _not_applied(records)
    plans = [r.plan for r in records]
    reason = policy_refusal(plans, approver, policy, at=None)  # the change window applies when applying
    if reason:
        raise Refused(reason)
    claims = Claims(
        approval_id=approval_id_of([r.plan_id for r in records]),
        incident_id=incident_id,
        plan_hashes=tuple(p.hash for p in plans),
        approver=approver,
        expires_at=int((time.time() if now is None else now) + ttl_seconds),
    )
    return Approval(approval_tokens.sign(key, claims), claims, records)


def _check_binding(claims: Claims, records: list[Record]) -> None:
    """The token approves exactly these plans, of this incident."""
    approved = set(claims.plan_hashes)
    outside = [r.plan_id for r in records if r.plan.hash not in approved]
    if outside:
        raise Refused(f"the approval does not cover {', '.join(outside)}: the plans changed since it was given or "
                      "it approves other plans; ask for a new approval")  # fmt: skip
    given = {r.plan.hash for r in records}
    missing = sorted("plan-" + h[:12] for h in approved - given)
    if missing:
        raise Refused(f"the approval is for {len(approved)} plans, applied together: also name {', '.join(missing)}")
    if claims.incident_id != records[0].incident_id:
        raise Refused(f"the approval is for incident {claims.incident_id}, the plans for {records[0].incident_id}")


def preflight(plans: list[Plan], clients_for: ClientsFor) -> None:
    """Read every plan's resource before anything changes or the approval is spent: a resource that drifted is
    refused, one that cannot be read (gone, access denied, no credentials) fails, and nothing is half-applied
    for reasons known in advance. Apply reads again: this only refuses early."""
    for plan in plans:
        try:
            now = CATALOGUE[plan.action_id].read(clients_for(plan.account, plan.region), plan.target)
        except (ClientError, BotoCoreError, ResourceGone) as exc:
            raise EgressError(f"cannot read {plan.resource} for {plan.action_id} ({type(exc).__name__}: {exc}); "
                              "nothing was applied and the approval was not used") from None  # fmt: skip
        if now not in (plan.current, plan.proposed):
            raise Refused(f"{plan.resource} changed since the plan was made ({plan_id_of(plan)}); nothing was "
                          "applied: plan again and ask for a new approval")  # fmt: skip


@dataclass
class ApplyOutcome:
    approver: str
    records: list[Record]
    verified: list[bool | None] = field(default_factory=list)
    verify_error: str = ""


def apply_approved(
    store: PlanStore,
    plan_ids: list[str],
    token: str,
    key: bytes,
    policy: Policy,
    clients_for: ClientsFor,
    audit: Audit = _no_audit,
    now: float | None = None,
) -> ApplyOutcome:
    """Check the approval (see the module's docstring), use it up, apply every plan or none, verify each, and
    keep each application in the store (its prior configuration first of all)."""
    ids = _unique(plan_ids)
    with store.locked(ids):
        records = {r.plan_id: r for r in (store.load(p) for p in ids)}
        claims = _accepted(store, records, token, key, policy, clients_for, now)
        plans, incident_id = [r.plan for r in records.values()], claims.incident_id

        def keep(done: Applied) -> None:
            rid = plan_id_of(done.plan)
            run = Run(applied=done, applied_at=datetime.now(UTC), approver=claims.approver,
                      approval_id=claims.approval_id)  # fmt: skip
            records[rid] = records[rid].with_new_run(run)
            store.save(records[rid])

        def restored(done: Applied, detail: str) -> None:
            rid = plan_id_of(done.plan)
            last = records[rid].last
            assert last is not None
            run = last.model_copy(update={"rolled_back_at": datetime.now(UTC), "rolled_back_by": claims.approver,
                                          "rollback_detail": detail})  # fmt: skip
            records[rid] = records[rid].with_last(run)
            store.save(records[rid])

        try:
            remediator = Remediator(clients_for, claims.approver, incident_id, audit)
            applied = remediator.apply_all(plans, keep, restored)
        except (Drift, ValueError) as exc:  # the first plan: nothing was changed
            raise Refused(f"{exc}; nothing was applied and the approval is used up") from None
        except (ResourceGone, ClientError, BotoCoreError) as exc:
            first = plans[0]
            raise EgressError(f"{first.action_id} on {first.resource} failed ({type(exc).__name__}: {exc}); nothing "
                              "was applied and the approval is used up") from None  # fmt: skip
        outcome = ApplyOutcome(claims.approver, list(records.values()))
        _verify_and_keep(store, records, applied, outcome, remediator)
        outcome.records = [records[p] for p in ids]
        return outcome


def _accepted(
    store: PlanStore, records: dict[str, Record], token: str, key: bytes, policy: Policy, clients_for: ClientsFor,
    now: float | None,
) -> Claims:  # fmt: skip
    """The token's claims once every check passed, the resources were read and the token was used up."""
    claims = approval_tokens.verify(key, token.strip(), now)
    _check_binding(claims, list(records.values()))
    if claims.approver.startswith(RESERVED_APPROVER):
        raise Refused(f"an approval token may not claim the approver {claims.approver!r}")
    plans = [r.plan for r in records.values()]
    at = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    reason = policy_refusal(plans, claims.approver, policy, at)
    if reason:
        raise Refused(reason)
    _not_applied(list(records.values()))
    preflight(plans, clients_for)
    store.consume_token(token, {"approval_id": claims.approval_id, "approver": claims.approver,
                                "plans": list(records)})  # fmt: skip
    return claims


def _verify_and_keep(
    store: PlanStore, records: dict[str, Record], applied: list[Applied], outcome: ApplyOutcome, remediator: Remediator
) -> None:
    try:
        outcome.verified = list(remediator.verify_all(applied))
    except Exception as exc:  # applied but not checked: say so rather than lose the result
        outcome.verified = [None] * len(applied)
        outcome.verify_error = f"{type(exc).__name__}: {exc}"
    for done, ok in zip(applied, outcome.verified, strict=True):
        rid = plan_id_of(done.plan)
        last = records[rid].last
        assert last is not None
        records[rid] = records[rid].with_last(last.model_copy(update={"verified": ok}))
        store.save(records[rid])


@dataclass(frozen=True)
class RollbackOutcome:
    record: Record
    restored: bool  # the resource holds what it held before the plan was applied
    detail: str
    changes: list[str]  # what the rollback changed, as the plan's diff lines


def roll_back(store: PlanStore, plan_id: str, clients_for: ClientsFor, actor: str, audit: Audit = _no_audit,
              force: bool = False) -> RollbackOutcome:  # fmt: skip
    """Write back the configuration the plan's last application found. Refused for a plan never applied or
    already rolled back, and (unless ``force``) when the resource changed since it was applied: restoring would
    undo that later change too."""
    with store.locked([plan_id]):
        record = store.load(plan_id)
        last = record.last
        if record.status == PLANNED or last is None:
            raise Refused(f"plan {plan_id} was never applied: nothing to roll back")
        if record.status == ROLLED_BACK:
            by = f" by {last.rolled_back_by}" if last.rolled_back_by else ""
            raise Refused(
                f"plan {plan_id} was already rolled back (at {last.rolled_back_at:%Y-%m-%d %H:%M:%S} UTC{by})"
            )
        applied, plan = last.applied, record.plan
        action, clients = CATALOGUE[plan.action_id], clients_for(plan.account, plan.region)
        expected = applied.prior if applied.changed else plan.proposed  # what the resource holds once rolled back
        now = action.read(clients, plan.target)
        if not applied.changed:
            detail = "nothing to restore: the action was already in place when it was applied"
        elif now == applied.prior:
            detail = "the prior configuration was already back in place"
        elif now != plan.proposed and not force:
            raise Refused(f"{plan.resource} changed since {plan_id} was applied: rolling back would also undo that "
                          "change; look at it, then roll back with --force")  # fmt: skip
        else:
            detail = "restored the prior configuration"
            if now != plan.proposed:
                detail += ", over a change made after the plan was applied (--force)"
        if detail.startswith("restored"):
            failed = Remediator(clients_for, actor, record.incident_id, audit).rollback_all([applied], detail=detail)
            if failed:
                exc = failed[0][1]
                raise EgressError(f"rollback of {plan_id} failed ({type(exc).__name__}: {exc}); it stays applied")
        else:
            audit(record.incident_id, "rolled_back", plan, actor, now, applied.prior, detail)
        after = action.read(clients, plan.target)
        restored, changes = after == expected, diff_lines(now, after)
        run = last.model_copy(update={"rolled_back_at": datetime.now(UTC), "rolled_back_by": actor,
                                      "rollback_detail": detail})  # fmt: skip
        record = record.with_last(run)
        store.save(record)
        return RollbackOutcome(record, restored, detail, changes)
