"""``egress explain`` / ``egress respond``: an incident's root cause with its evidence, and the response
workflow run locally (the deployed state machine on moto, the real handlers in-process)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table

from egress_optimizer.cli import app, stdout
from egress_optimizer.cli.detect import LAKE_OPT, full_incident_id
from egress_optimizer.cli.display import short_incident_id, words
from egress_optimizer.errors import EgressError, InputError
from egress_optimizer.lake import Lake

TRAIL_OPT = typer.Option(
    None,
    "--trail",
    help="CloudTrail log folder or s3:// prefix (holding AWSLogs/<account>/CloudTrail); repeatable. A folder of "
    "log buckets (the demo's raw folder) is searched for them.",
)


def _trail_roots(paths: list[str] | None) -> list[str]:
    from egress_optimizer.respond.explain import trail_roots_in

    roots: list[str] = []
    for p in paths or []:
        found = trail_roots_in(p) if "://" not in p and Path(p).is_dir() else [p]
        if not found:
            raise InputError(f"--trail {p}: no AWSLogs/<account>/CloudTrail under it")
        roots += found
    return roots


@app.command("explain")
def explain_cmd(
    incident_id: str = typer.Argument(..., help="Incident id from `egress detect`."),
    lake: str = LAKE_OPT,
    trail: list[str] = TRAIL_OPT,
    aws: bool = typer.Option(False, "--aws", help="Also read the resources' configuration from AWS (credentials)."),
    llm: str = typer.Option("none", "--llm", help="none (the rules' explanation) | bedrock (its checked narrative)."),
    model_id: str = typer.Option(
        None, "--model-id", envvar="BEDROCK_MODEL_ID", help="Bedrock model id for --llm bedrock."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The root cause of an incident, the evidence it rests on and the recommended actions."""
    from egress_optimizer import stages

    if llm not in ("none", "bedrock"):
        raise InputError("--llm must be none or bedrock")
    if llm == "bedrock" and not model_id:
        raise InputError("--llm bedrock needs --model-id (or BEDROCK_MODEL_ID)")
    store = Lake.open(lake, create=False)
    explanation, evidence = stages.explain(
        store, full_incident_id(store, incident_id), _trail_roots(trail), aws, model_id if llm == "bedrock" else None
    )
    if json_out:
        doc = {
            "explanation": explanation.model_dump(mode="json"),
            "evidence": [e.model_dump(mode="json") for e in evidence],
        }
        print(json.dumps(doc))
        return
    stdout.print(
        f"[bold]{words(explanation.category.value)}[/] (confidence {explanation.confidence:.0%}, {explanation.source})"
    )
    stdout.print(explanation.summary, markup=False)
    table = Table(title="Evidence")
    for col in ("id", "kind", "summary"):
        table.add_column(col, overflow="fold")
    for e in evidence:
        table.add_row(e.id, e.kind, e.summary)
    stdout.print(table)
    stdout.print("Recommended actions: " + (", ".join(explanation.action_ids) or "none in the catalogue"))


@app.command("respond")
def respond_cmd(
    incident_id: str = typer.Argument(..., help="Incident id from `egress detect`."),
    lake: str = LAKE_OPT,
    trail: list[str] = TRAIL_OPT,
    decision: str = typer.Option("none", "--decision", help="approved | refused | none (let the approval time out)."),
    approver: str = typer.Option("local user", "--approver"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Run the response state machine locally on one incident (moto plays AWS; nothing real is changed)."""
    from egress_optimizer import stages

    if decision not in ("approved", "refused", "none"):
        raise InputError("--decision must be approved, refused or none")
    store = Lake.open(lake, create=False)
    incident = stages.incident(store, full_incident_id(store, incident_id))
    (result,) = stages.respond_locally(
        store, [incident], _trail_roots(trail), None if decision == "none" else decision, approver
    )
    if json_out:
        print(json.dumps(result, default=str))
        return
    print_responses([result])


def print_responses(results: list[dict]) -> None:
    """One row per incident: its root cause and how sure, the actions planned (an action per resource), and
    how the workflow ended."""
    from collections import Counter

    table = Table(title="Responses (the deployed state machine, run locally)")
    table.add_column("incident", no_wrap=True)
    table.add_column("root cause")  # the one column that wraps: action ids and outcomes stay whole
    table.add_column("actions planned", no_wrap=True, overflow="fold")
    table.add_column("outcome", no_wrap=True)
    for r in results:
        ex = r.get("explanation") or {}
        outcome = r.get("outcome") or {}
        planned = Counter(a["action_id"] for a in r.get("actions", []))  # an action per resource
        cause = words(ex.get("category", r["status"].lower()))
        table.add_row(
            short_incident_id(r["incident_id"]),
            f"{cause} ({ex['confidence']:.0%} sure)" if "confidence" in ex else cause,
            "\n".join(a if n == 1 else f"{a} (x{n})" for a, n in planned.items()) or "-",
            words(outcome.get("outcome", r["status"].lower())),
        )
    stdout.print(table)


remediate_app = typer.Typer(
    help="Remediation: the catalogue of actions (what each does, its risk, the IAM actions it needs), dry-run plans "
    "kept under plan ids, signed single-use approvals, all-or-nothing apply and exact rollback.",
    no_args_is_help=True,
)
app.add_typer(remediate_app, name="remediate")


@remediate_app.command("list")
def remediate_list_cmd(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every action in the catalogue, with its id, risk, resource kinds and IAM actions."""
    from egress_optimizer.respond.actions import CATALOGUE

    described = [a.describe() for a in CATALOGUE.values()]
    if json_out:
        print(json.dumps(described))
        return
    table = Table(title="Remediation actions (each plans a dry run first; nothing applies without approval)")
    for col in ("id", "risk", "applies to", "IAM actions"):
        table.add_column(col, overflow="fold")
    for d in described:
        table.add_row(d["id"], d["risk"], ", ".join(d["resource_kinds"]), ", ".join(d["iam_actions"]))
    stdout.print(table)


STORE_OPT = typer.Option(
    None,
    "--store",
    envvar="EGRESS_STATE_DIR",
    help="Plan store folder: plans by plan id, what each application found, used approval tokens "
    "(default: ~/.egress/remediation). Operators who apply from several machines should share one.",
)
POLICY_OPT = typer.Option(
    None, "--policy", envvar="REMEDIATION_POLICY", help="Remediation policy YAML (who may approve what, when)."
)
KEY_FILE_OPT = typer.Option(
    None,
    "--key-file",
    envvar="EGRESS_APPROVAL_KEY_FILE",
    help="File holding the approval key (HMAC; at least 16 bytes). Holding the key is what makes someone an "
    "approver: it mints and verifies approval tokens, so keep it readable only by approvers (chmod 600).",
)
KEY_ARN_OPT = typer.Option(
    None,
    "--key-secret-arn",
    help="Secrets Manager secret whose SecretString is the approval key (the one the approval Lambda reads as "
    "APPROVAL_KEY_SECRET_ARN); grant GetSecretValue on it to approvers only.",
)
ROLE_OPT = typer.Option(
    None,
    "--role-name",
    envvar="MEMBER_ROLE_NAME",
    help="Role to assume in each plan's account (the response role); default: your own credentials.",
)
AUDIT_LAKE_OPT = typer.Option(
    None, "--lake", help="Lake whose remediation_audit table records every step (without it, only the plan store)."
)


@remediate_app.command("plan")
def remediate_plan_cmd(
    incident_id: str = typer.Argument(..., help="Incident id from `egress detect`."),
    lake: str = LAKE_OPT,
    trail: list[str] = TRAIL_OPT,
    store: str = STORE_OPT,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Dry-run plans for an incident's recommended actions against the resources' live configuration (AWS
    credentials for the incident's account; read-only calls). Each plan is kept in the plan store under the plan
    id printed beside it, for `egress remediate approve` and `apply`."""
    from egress_optimizer import stages

    store_lake = Lake.open(lake, create=False)
    incident_id = full_incident_id(store_lake, incident_id)
    plans = stages.plan_remediation(store_lake, incident_id, _trail_roots(trail))
    plan_ids = stages.keep_plans(incident_id, plans, store)
    if json_out:
        print(json.dumps([{"plan_id": i, **p.model_dump(mode="json")} for i, p in zip(plan_ids, plans, strict=True)]))
        return
    if not plans:
        stdout.print("No action in the catalogue applies (or the resources could not be read).")
    for plan_id, p in zip(plan_ids, plans, strict=True):
        stdout.print(f"[bold]{plan_id}[/]: {p.action_id} on {p.resource}")
        for line in p.changes:
            stdout.print(f"  {line}", markup=False)
    if plans:
        stdout.print(f"Nothing was changed. Approve with: egress remediate approve {' '.join(plan_ids)} --approver WHO",
                     markup=False)  # fmt: skip


@remediate_app.command("approve")
def remediate_approve_cmd(
    plan_ids: list[str] = typer.Argument(..., help="Plan ids from `egress remediate plan` (applied together)."),
    approver: str = typer.Option(..., "--approver", help="Who approves (checked against the policy's approvers)."),
    ttl_hours: float = typer.Option(24.0, "--ttl-hours", help="How long the approval may be used (at most 168)."),
    key_file: str = KEY_FILE_OPT,
    key_secret_arn: str = KEY_ARN_OPT,
    store: str = STORE_OPT,
    policy: str = POLICY_OPT,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Approve stored plans: print a signed, single-use approval token for exactly these plans (HMAC with the
    approval key; the same tokens the approval Lambda's email links carry). Whoever holds the key can approve,
    so keep it readable only by approvers. The token goes to stdout alone (TOKEN=$(egress remediate approve
    ...)); what it approves goes to stderr. Refused when the policy does not let the approver decide an action."""
    from egress_optimizer import stages
    from egress_optimizer.cli import stderr

    approval = stages.approve_remediation(
        plan_ids, approver, key_file, key_secret_arn, round(ttl_hours * 3600), store, policy
    )
    c = approval.claims
    if json_out:
        doc = {"token": approval.token, "approval_id": c.approval_id, "incident_id": c.incident_id,
               "plan_ids": [r.plan_id for r in approval.records], "plan_hashes": list(c.plan_hashes),
               "approver": c.approver, "expires_at": c.expires_at}  # fmt: skip
        print(json.dumps(doc))
        return
    expires = datetime.fromtimestamp(c.expires_at, UTC)
    stderr.print(f"Approval {c.approval_id} by {c.approver} for incident {c.incident_id}, valid until "
                 f"{expires:%Y-%m-%d %H:%M} UTC, once:", markup=False)  # fmt: skip
    for r in approval.records:
        stderr.print(f"  {r.plan_id}: {r.plan.action_id} on {r.plan.resource}", markup=False)
        for line in r.plan.changes:
            stderr.print(f"    {line}", markup=False)
    print(approval.token)


@remediate_app.command("apply")
def remediate_apply_cmd(
    plan_ids: list[str] = typer.Argument(..., help="The plan ids the approval names (all of them)."),
    approve_token: str = typer.Option(
        ..., "--approve-token", envvar="EGRESS_APPROVE_TOKEN", help="Token from `egress remediate approve`."
    ),
    key_file: str = KEY_FILE_OPT,
    key_secret_arn: str = KEY_ARN_OPT,
    store: str = STORE_OPT,
    lake: str = AUDIT_LAKE_OPT,
    role_name: str = ROLE_OPT,
    policy: str = POLICY_OPT,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Apply approved plans to AWS, all or none. The token must be genuine, unexpired, unused and for exactly
    these plans, whose resources must not have changed since they were planned; the policy must let its approver
    decide each action, in a change window. If one plan fails, those applied before it are rolled back. Each
    plan is verified after; what each found is kept for `egress remediate rollback`."""
    from egress_optimizer import stages
    from egress_optimizer.cli import stderr

    outcome = stages.apply_remediation(
        plan_ids, approve_token, key_file, key_secret_arn, store, lake, role_name, policy
    )
    rows = []
    for r, ok in zip(outcome.records, outcome.verified, strict=True):
        run = r.last
        rows.append({"plan_id": r.plan_id, "incident_id": r.incident_id, "action_id": r.plan.action_id,
                     "resource": r.plan.resource, "changed": run.applied.changed, "verified": ok,
                     "prior": run.applied.prior, "proposed": r.plan.proposed, "changes": r.plan.changes,
                     "applied_at": run.applied_at.isoformat(), "approver": run.approver})  # fmt: skip
    if json_out:
        print(json.dumps({"approver": outcome.approver, "plans": rows, "verify_error": outcome.verify_error or None}))
    else:
        for row in rows:
            state = "applied" if row["changed"] else "already in place"
            check = {True: "verified", False: "NOT in place", None: "not verified"}[row["verified"]]
            stdout.print(f"[bold]{row['plan_id']}[/]: {row['action_id']} on {row['resource']}: {state}, {check}")
            for line in row["changes"]:
                stdout.print(f"  {line}", markup=False)
        stdout.print(f"Approved by {outcome.approver}. Undo with: egress remediate rollback PLAN_ID", markup=False)
        if not lake:
            stderr.print("note: no --lake, so no audit rows; the plan store keeps what was applied", markup=False)
    unverified = [row["plan_id"] for row in rows if row["verified"] is not True]
    if unverified:
        why = f" ({outcome.verify_error})" if outcome.verify_error else ""
        raise EgressError(f"applied, but {', '.join(unverified)} could not be verified in place{why}: check the "
                          "resources, or roll back")  # fmt: skip


@remediate_app.command("rollback")
def remediate_rollback_cmd(
    plan_id: str = typer.Argument(..., help="An applied plan's id."),
    store: str = STORE_OPT,
    lake: str = AUDIT_LAKE_OPT,
    role_name: str = ROLE_OPT,
    actor: str = typer.Option(None, "--actor", help="Who rolls back, for the record (default: your login name)."),
    force: bool = typer.Option(
        False, "--force", help="Restore even though the resource changed again after the plan was applied."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Write back exactly the configuration the plan's application found. Refused for a plan never applied or
    already rolled back, and, without --force, when the resource changed since it was applied."""
    from egress_optimizer import stages

    outcome = stages.rollback_remediation(plan_id, actor or _login(), store, lake, role_name, force)
    r = outcome.record
    run = r.last
    if json_out:
        doc = {"plan_id": r.plan_id, "action_id": r.plan.action_id, "resource": r.plan.resource,
               "restored": outcome.restored, "detail": outcome.detail, "prior": run.applied.prior,
               "rolled_back_at": run.rolled_back_at.isoformat(), "rolled_back_by": run.rolled_back_by}  # fmt: skip
        print(json.dumps(doc))
    else:
        stdout.print(f"[bold]{r.plan_id}[/]: {r.plan.action_id} on {r.plan.resource}: {outcome.detail}")
        for line in outcome.changes:
            stdout.print(f"  {line}", markup=False)
    if not outcome.restored:
        raise EgressError(f"{r.plan.resource} does not hold the prior configuration after the rollback: check it")


@remediate_app.command("status")
def remediate_status_cmd(
    plan_ids: list[str] = typer.Argument(None, help="Plan ids (default: every plan in the store)."),
    store: str = STORE_OPT,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The stored plans and what became of them: planned, applied (when, on whose approval, verified or not)
    or rolled back."""
    from egress_optimizer import stages

    records = stages.stored_plans(plan_ids or None, store)
    if json_out:
        print(json.dumps([r.model_dump(mode="json") | {"status": r.status} for r in records]))
        return
    table = Table(title="Remediation plans")
    for col in ("plan", "incident", "action", "resource", "status", "applied", "approver", "rolled back"):
        table.add_column(col, overflow="fold")
    for r in records:
        run = r.last
        table.add_row(
            r.plan_id, r.incident_id, r.plan.action_id, r.plan.resource, r.status,
            f"{run.applied_at:%Y-%m-%d %H:%M}" + ("" if run.verified else " (not verified)") if run else "-",
            run.approver if run else "-",
            f"{run.rolled_back_at:%Y-%m-%d %H:%M} by {run.rolled_back_by}" if run and run.rolled_back_at else "-",
        )  # fmt: skip
    stdout.print(table)


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
