"""``egress explain`` / ``egress respond``: an incident's root cause with its evidence, and the response
workflow run locally (the deployed state machine on moto, the real handlers in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from egress_optimizer.cli import app, stdout
from egress_optimizer.cli.detect import LAKE_OPT
from egress_optimizer.errors import InputError
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
    explanation, evidence = stages.explain(
        Lake.open(lake, create=False), incident_id, _trail_roots(trail), aws, model_id if llm == "bedrock" else None
    )
    if json_out:
        doc = {
            "explanation": explanation.model_dump(mode="json"),
            "evidence": [e.model_dump(mode="json") for e in evidence],
        }
        print(json.dumps(doc))
        return
    stdout.print(
        f"[bold]{explanation.category.value}[/] (confidence {explanation.confidence:.0%}, {explanation.source})"
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
    incident = stages.incident(store, incident_id)
    (result,) = stages.respond_locally(
        store, [incident], _trail_roots(trail), None if decision == "none" else decision, approver
    )
    if json_out:
        print(json.dumps(result, default=str))
        return
    print_responses([result])


def print_responses(results: list[dict]) -> None:
    table = Table(title="Responses (the deployed state machine, run locally)")
    for col in ("incident", "root cause", "confidence", "actions", "outcome"):
        table.add_column(col, overflow="fold")
    for r in results:
        ex = r.get("explanation") or {}
        outcome = r.get("outcome") or {}
        table.add_row(
            r["incident_id"],
            str(ex.get("category", r["status"].lower())),
            f"{ex['confidence']:.0%}" if "confidence" in ex else "-",
            ", ".join(a["action_id"] for a in r.get("actions", [])) or "-",
            str(outcome.get("outcome", r["status"].lower())),
        )
    stdout.print(table)


remediate_app = typer.Typer(
    help="The remediation catalogue: what each action does, its risk and the IAM actions it needs; dry-run plans.",
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


@remediate_app.command("plan")
def remediate_plan_cmd(
    incident_id: str = typer.Argument(..., help="Incident id from `egress detect`."),
    lake: str = LAKE_OPT,
    trail: list[str] = TRAIL_OPT,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Dry-run plans for an incident's recommended actions against the resources' live configuration (AWS
    credentials for the incident's account; read-only calls)."""
    from egress_optimizer import stages

    plans = stages.plan_remediation(Lake.open(lake, create=False), incident_id, _trail_roots(trail))
    if json_out:
        print(json.dumps([p.model_dump(mode="json") for p in plans]))
        return
    if not plans:
        stdout.print("No action in the catalogue applies (or the resources could not be read).")
    for p in plans:
        stdout.print(f"[bold]{p.action_id}[/] on {p.resource} (plan {p.hash[:12]})")
        for line in p.changes:
            stdout.print(f"  {line}", markup=False)
