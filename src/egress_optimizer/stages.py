"""The pipeline, composed in one place: ingest -> attribute -> features -> train -> detect -> deliver.

Every entry point (the ``egress`` command line and its demo, the Lambdas, the Glue and SageMaker scripts,
``bench/`` and the tests) runs a stage through these functions; nothing else wires one stage to the next.
Each takes a :class:`Lake` and returns typed results; rendering them is the caller's job. Stages talk
through the lake's tables (``egress_optimizer.tables``) and the incident contract
(``egress_optimizer.contracts``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from egress_optimizer.attribution.attribute_runs import AttributionRun, attribute_lake
from egress_optimizer.attribution.feature_runs import FeatureRun, build_hourly_features, roll_up_cur
from egress_optimizer.attribution.inputs import AttributionInputs
from egress_optimizer.attribution.reconcile import Reconciliation
from egress_optimizer.attribution.reconcile import reconcile as reconcile_tables
from egress_optimizer.attribution.top_talkers import top_talkers as rank_talkers
from egress_optimizer.contracts.incident import Incident
from egress_optimizer.detection.events import MIN_IMPACT_SHARE, PlannedWindow
from egress_optimizer.detection.feedback import Feedback, add_planned
from egress_optimizer.detection.feedback import record_feedback as store_feedback
from egress_optimizer.errors import InputError
from egress_optimizer.glue_catalog import register_files
from egress_optimizer.ingest.aws_event import S3ObjectRef, ingest_s3_object, s3_objects
from egress_optimizer.ingest.objects import discover
from egress_optimizer.ingest.pipeline import SOURCES, IngestReport, ObjectResult, ingest_objects
from egress_optimizer.lake import Lake
from egress_optimizer.notify.eventbridge import Delivery, put_incidents
from egress_optimizer.processing import Backlog, backlog
from egress_optimizer.tables import ATTRIBUTED, CUR, CUR_DAILY, EGRESS_HOURLY, QUARANTINE, S3_ACCESS

if TYPE_CHECKING:  # detection loads scikit-learn: only the stages that detect import it (a features run does not)
    from egress_optimizer.detection.detector import DetectorParams
    from egress_optimizer.detection.lake_runs import DetectResult


# ---- ingest ---------------------------------------------------------------------------------------------------
def ingest(
    lake: Lake | str,
    paths: list[str],
    source: str = "auto",
    progress: Callable[[ObjectResult, int, int], None] | None = None,
    key_base: str | None = None,
) -> IngestReport:
    """Parse files and folders (local or s3://) into the lake's log tables; nothing is lost (see ingest).
    ``lake`` may be a root to open: it is created only once the paths are found, so a typo makes no lake.
    ``key_base``: files given one by one are keyed by their path below it (a mirrored bucket)."""
    if source != "auto" and source not in SOURCES:
        raise InputError(f"unknown source {source!r}; choose auto or one of {', '.join(SOURCES)}")
    found = list(discover(paths, key_base))  # bad paths fail here, before anything is written
    target = lake if isinstance(lake, Lake) else Lake.open(lake, create=True)
    return ingest_objects(found, target, source, progress)


def announced_objects(message_body: str | bytes | dict) -> list[S3ObjectRef]:
    """The objects an S3, SNS or EventBridge notification announces as created."""
    return s3_objects(message_body)


@dataclass(frozen=True)
class GlueTarget:
    """Where ingestion registers the partitions it writes (``session`` None: the default boto3 session)."""

    database: str
    session: Any = None


def ingest_announced(
    lake: Lake, ref: S3ObjectRef, glue: GlueTarget | None = None, registered: set[str] | None = None
) -> tuple[ObjectResult, int]:
    """Ingest one announced S3 object and register the Glue partitions it wrote; returns the result and the
    partitions created. ``registered`` (partition folders known to exist) saves Glue calls across objects and
    grows only after Glue accepted them."""
    result = ingest_s3_object(ref, lake)
    if glue is None or result.skipped:
        return result, 0
    known = registered if registered is not None else set()
    new_files = [f for f in result.files if f.rsplit("/", 1)[0] not in known]
    if not new_files:
        return result, 0
    created = sum(register_files(glue.session, glue.database, lake, new_files).partitions.values())
    known.update(f.rsplit("/", 1)[0] for f in new_files)
    return result, created


# ---- attribute and features -------------------------------------------------------------------------------------
def attribution_inputs(
    lake: Lake, inventory_dir: str | Path | None = None, networks_file: str | Path | None = None
) -> AttributionInputs:
    return AttributionInputs.load(lake, inventory_dir, networks_file)


def attribute(
    lake: Lake, inputs: AttributionInputs | None = None, rebuild: bool = False, progress=None, engine=None
) -> AttributionRun:
    """Bring ``attributed`` up to date with the logs: the hours whose logs changed since the last run, priced
    against the carried tier meter (all of them on a first run, a rebuild, or new attribution inputs)."""
    return attribute_lake(lake, inputs or attribution_inputs(lake), rebuild, progress, engine)


@dataclass
class FeatureBuild:
    attribution: AttributionRun
    features: FeatureRun
    cur_daily_rows: int

    def to_json(self) -> dict:
        return {
            ATTRIBUTED.name: self.attribution.rows,
            EGRESS_HOURLY.name: self.features.rows,
            CUR_DAILY.name: self.cur_daily_rows,
            "attribution": self.attribution.to_json(),
            "features": self.features.to_json(),
        }


def build_features(
    lake: Lake, inputs: AttributionInputs | None = None, rebuild: bool = False, progress=None, engine=None
) -> FeatureBuild:
    """Bring ``attributed``, ``egress_hourly`` and ``cur_daily`` up to date with the logs, hour by hour; a run
    with nothing new does nothing; ``rebuild`` rebuilds them whole (the same tables). ``engine``: where the
    rows are worked on (this process, or ``spark_engine``)."""
    attribution = attribute(lake, inputs, rebuild, progress, engine)
    features = build_hourly_features(lake, rebuild or attribution.rebuild, progress, engine)
    return FeatureBuild(attribution, features, roll_up_cur(lake, rebuild))


def processing_backlog(lake: Lake, inputs: AttributionInputs | None = None) -> Backlog:
    """What the next attribute + features run has to do, from the journal (decides Lambda or Glue)."""
    return backlog(lake, inputs or attribution_inputs(lake))


def spark_engine(spark: Any):
    """The engine the Glue jobs run the stages with (attribution by hour on executors, Spark SQL)."""
    from egress_optimizer.attribution.spark import SparkEngine

    return SparkEngine(spark)


def build_lake(lake: Lake, paths: list[str], inputs: AttributionInputs | None = None) -> IngestReport:
    """Ingest, attribute and build features: a lake ready to train and detect on."""
    report = ingest(lake, paths)
    build_features(lake, inputs)
    return report


def reconcile(lake: Lake, inputs: AttributionInputs | None = None) -> Reconciliation:
    """Attributed against billed dollars per account, region, usage type and day (``attributed`` brought up
    to date first)."""
    from egress_optimizer.attribution.log_coverage import LogCoverage
    from egress_optimizer.attribution.reconcile import duplicated_deliveries, quarantined_records
    from egress_optimizer.changes import late_deliveries

    inputs = inputs or attribution_inputs(lake)
    attribute(lake, inputs)
    con = lake.connect([ATTRIBUTED, CUR, S3_ACCESS, QUARANTINE])
    deliveries = {
        "late": late_deliveries(lake),
        "duplicated": duplicated_deliveries(con),
        "quarantined": quarantined_records(con),
    }
    return reconcile_tables(con, LogCoverage.from_documents(inputs.inventory.documents), deliveries)


def top_talkers(
    lake: Lake, by: str = "resource", since: str | None = None, limit: int = 10, inputs: AttributionInputs | None = None
) -> pd.DataFrame:
    """Who paid the most for data transfer (``by`` resource, peer, account or team), over the last ``since``
    (``attributed`` brought up to date first)."""
    attribute(lake, inputs)
    return rank_talkers(lake.connect([ATTRIBUTED]), by, since, limit)


# ---- detect ---------------------------------------------------------------------------------------------------
def train(lake: Lake, params: DetectorParams | None = None) -> dict:
    """Fit the detector on the lake's hourly features; returns the stored model's metadata."""
    from egress_optimizer.detection import lake_runs

    return lake_runs.train(lake, params)


def detect(
    lake: Lake,
    since: pd.Timestamp | None = None,
    planned: list[PlannedWindow] | None = None,
    min_impact_usd: float = 0.0,
    min_impact_pct: float = 0.0,
    min_impact_share: float = MIN_IMPACT_SHARE,
    record_emitted: bool = True,
) -> DetectResult:
    """Score the hours since the last run; write anomalies and incidents; return the incidents."""
    from egress_optimizer.detection import lake_runs

    return lake_runs.detect(
        lake,
        since,
        planned,
        min_impact_usd,
        min_impact_pct,
        record_emitted=record_emitted,
        min_impact_share=min_impact_share,
    )


def install_model(
    lake: Lake, s3_client: Any, uri: str, allowed_prefix: str, training_job_name: str | None = None
) -> dict:
    """Make a SageMaker-trained ``model.tar.gz`` (``s3://`` ``uri``) the lake's current model: refused unless it
    lies under ``allowed_prefix`` (the deployment's model output path: an event must not choose what gets
    unpickled), read with ``get_object``, checked (an egress detector, trained on this version's signals) and stored
    as a new version; returns its metadata. A refused model leaves the current one in place."""
    from egress_optimizer.detection import model_store

    bucket, key = model_store.artifact_location(uri, allowed_prefix)
    archive = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return model_store.install(lake, archive, uri, training_job_name)


def train_from_files(train_dir: Path, model_dir: Path, mode: str, seed: int, n_estimators: int) -> dict:
    """SageMaker training: ``egress_hourly`` Parquet files in, ``model.joblib`` and ``metadata.json`` out."""
    from egress_optimizer.detection.training import train_from_files as fit_files

    return fit_files(train_dir, model_dir, mode, seed, n_estimators)


def load_model(model_dir: str | Path) -> Any:
    """A detector from a SageMaker model directory (refused when trained on other signals)."""
    from egress_optimizer.detection.training import load_model_dir

    return load_model_dir(model_dir)[0]


def score_request(detector: Any, request: dict) -> dict:
    """SageMaker inference: hourly rows in, incidents (the contract, as JSON) and anomalous rows out."""
    from egress_optimizer.detection.training import score_request as score_rows

    return score_rows(detector, request)


def deliver_incidents(lake: Lake, client: Any, bus: str, incidents: list[Incident]) -> Delivery:
    """Put incidents on an EventBridge bus and remember the accepted ones as reported."""
    from egress_optimizer.detection import lake_runs

    delivery = put_incidents(client, bus, incidents)
    lake_runs.mark_emitted(lake, delivery.delivered)
    return delivery


def incident(lake: Lake, incident_id: str) -> Incident:
    from egress_optimizer.detection import lake_runs

    return lake_runs.read_incident(lake, incident_id)


def record_feedback(lake: Lake, incident_id: str, verdict: str, note: str = "") -> Feedback:
    """A person's verdict on an incident (true, false, planned); future scoring of its series adjusts."""
    return store_feedback(lake, incident(lake, incident_id), verdict, note)


def declare_planned(lake: Lake, windows: list[dict]) -> int:
    """Planned work declared ahead of time: matching hours inside the windows never alert."""
    return add_planned(lake, windows)


def evaluate(
    lake: Lake,
    labels: dict,
    seeds: int = 5,
    mode: str | None = None,
    progress: Callable | None = None,
    trail_roots: list[str] | None = None,
) -> dict:
    """Train and score the lake once per model seed and compare the incidents with labelled ground truth; with
    ``trail_roots`` (CloudTrail log folders) also explain each detected incident and score the root causes."""
    from egress_optimizer.detection.evaluate import evaluate_lake

    kept: list = []
    result = evaluate_lake(lake, labels, seeds, mode, progress=progress, keep_incidents=kept)
    if trail_roots is not None:
        result.update(root_cause_accuracy(lake, labels, result["runs"][0], kept, trail_roots))
    return result


def root_cause_accuracy(lake: Lake, labels: dict, run: dict, incidents: list, trail_roots: list[str]) -> dict:
    """Explain the first incident that detected each labelled one (offline: the lake and the trail files)."""
    from egress_optimizer.respond.explain import explain_incident, rca_accuracy

    by_id = {i.id: i for i in incidents}
    causes = {i["id"]: i.get("expected_root_cause") for i in labels.get("incidents", [])}
    pairs = []
    for p in run["incidents"]:
        if p["detected"] and p["events"] and p["events"][0] in by_id and causes.get(p["id"]):
            explanation, _ = explain_incident(by_id[p["events"][0]], lake, trail_roots)
            pairs.append((causes[p["id"]], explanation.category))
    return rca_accuracy(pairs)


# ---- respond ----------------------------------------------------------------------------------------------------
def explain(
    lake: Lake, incident_id: str, trail_roots: list[str], live_aws: bool = False, bedrock_model: str | None = None
) -> tuple[Any, list]:
    """The root cause of a stored incident and its evidence: from the lake and CloudTrail log folders, and with
    ``live_aws`` from the AWS APIs too (the resources' configuration; LookupEvents when no trail is given); with
    ``bedrock_model``, Bedrock's checked narrative of it (``respond.narrative``)."""
    return _explain(lake, incident(lake, incident_id), trail_roots, live_aws, bedrock_model)


def _explain(
    lake: Lake, found: Incident, trail_roots: list[str], live_aws: bool, bedrock_model: str | None = None
) -> tuple[Any, list]:
    from egress_optimizer.respond import tasks
    from egress_optimizer.respond.clients import for_account
    from egress_optimizer.respond.explain import gather
    from egress_optimizer.respond.narrative import BedrockSettings

    clients_for = (lambda account, region: for_account(account, region, None)) if live_aws else None
    settings = tasks.Settings.from_env()
    evidence = gather(found, lake, trail_roots, clients_for, settings.cost_anomalies)
    bedrock = BedrockSettings(model_id=bedrock_model) if bedrock_model else None
    return tasks.explain(found, evidence, dataclasses.replace(settings, bedrock=bedrock)), evidence


def plan_remediation(lake: Lake, incident_id: str, trail_roots: list[str]) -> list:
    """Dry-run plans of the actions the incident's root cause recommends, against the live configuration."""
    from egress_optimizer.respond.actions import plans_for
    from egress_optimizer.respond.clients import for_account

    found = incident(lake, incident_id)
    explanation, _ = _explain(lake, found, trail_roots, live_aws=True)
    return plans_for(explanation.action_ids, list(found.entities), lambda a, r: for_account(a, r, None))


def keep_plans(incident_id: str, plans: list, store: str | None = None) -> list[str]:
    """Keep dry-run plans in the plan store (``respond.plan_store``; ``store`` or its default); their plan ids."""
    from egress_optimizer.respond.plan_store import PlanStore

    kept = PlanStore.open(store)
    return [kept.add(incident_id, p).plan_id for p in plans]


def approve_remediation(
    plan_ids: list[str],
    approver: str,
    key_file: str | None = None,
    key_secret_arn: str | None = None,
    ttl_seconds: int = 24 * 3600,
    store: str | None = None,
    policy_file: str | None = None,
) -> Any:
    """A signed approval token of stored plans by ``approver`` (``respond.remediation.approve``)."""
    from egress_optimizer.respond import remediation
    from egress_optimizer.respond.plan_store import PlanStore
    from egress_optimizer.respond.policy import Policy

    policy, kept = Policy.load(policy_file), PlanStore.open(store)
    key = remediation.approval_key(key_file, key_secret_arn)
    return remediation.approve(kept, plan_ids, approver, key, policy, ttl_seconds)


def apply_remediation(
    plan_ids: list[str],
    token: str,
    key_file: str | None = None,
    key_secret_arn: str | None = None,
    store: str | None = None,
    lake: str | None = None,
    role_name: str | None = None,
    policy_file: str | None = None,
) -> Any:
    """Apply stored plans on a signed approval, all or none, with live AWS clients (through ``role_name`` in
    each plan's account when given), recording each step in ``lake``'s audit table when given."""
    from egress_optimizer.respond import remediation
    from egress_optimizer.respond.clients import for_account
    from egress_optimizer.respond.plan_store import PlanStore
    from egress_optimizer.respond.policy import Policy

    policy, kept = Policy.load(policy_file), PlanStore.open(store)
    key = remediation.approval_key(key_file, key_secret_arn)
    record = _remediation_audit(lake)  # a wrong lake fails here, before anything changes
    return remediation.apply_approved(
        kept, plan_ids, token, key, policy, lambda a, r: for_account(a, r, role_name), record
    )


def rollback_remediation(
    plan_id: str,
    actor: str,
    store: str | None = None,
    lake: str | None = None,
    role_name: str | None = None,
    force: bool = False,
) -> Any:
    """Restore the configuration a stored plan's application found (``respond.remediation.roll_back``)."""
    from egress_optimizer.respond import remediation
    from egress_optimizer.respond.clients import for_account
    from egress_optimizer.respond.plan_store import PlanStore

    kept, record = PlanStore.open(store), _remediation_audit(lake)
    return remediation.roll_back(kept, plan_id, lambda a, r: for_account(a, r, role_name), actor, record, force)


def stored_plans(plan_ids: list[str] | None = None, store: str | None = None) -> list:
    """Plan records of the plan store (these, or all), with what became of each."""
    from egress_optimizer.respond.plan_store import PlanStore

    kept = PlanStore.open(store)
    return [kept.load(p) for p in plan_ids] if plan_ids else kept.records()


def _remediation_audit(lake: str | None) -> Callable[..., None]:
    """``audit.record`` on the lake at ``lake``; a no-op without one."""
    from egress_optimizer.respond import audit

    if not lake:
        return lambda *_: None
    opened = Lake.open(lake, create=False)
    return lambda *args: audit.record(opened, *args)


def respond_locally(
    lake: Lake,
    incidents: list[Incident],
    trail_roots: list[str],
    decision: str | None = None,
    approver: str = "",
    world: Any = None,
) -> list[dict]:
    """Run the deployed response state machine on each incident, on moto, with the real handlers in-process
    (``respond.local``); ``decision`` answers each approval (``approved``/``refused``; None lets it time out).
    ``world``: a generated estate (``estate.generate.GenerateResult``) to simulate on moto first, with its
    incidents' misconfigurations (``estate.aws_world``), its accounts read through the member role as deployed;
    without it moto holds no resources and no action can be planned."""
    from egress_optimizer.respond.local import LocalWorkflow, load_handlers

    env = {"LAKE_URI": lake.root, "TRAIL_LOGS": ",".join(trail_roots), "APPROVAL_TIMEOUT_SECONDS": "2"}
    if decision is not None:
        env["APPROVAL_TIMEOUT_SECONDS"] = "300"
    simulate = None
    if world is not None:
        from egress_optimizer.estate import aws_world

        env["MEMBER_ROLE_NAME"] = aws_world.MEMBER_ROLE

        def simulate() -> None:
            aws_world.materialize(world.estate, world.incidents, aws_world.MEMBER_ROLE)

    results = []
    with LocalWorkflow(load_handlers(), env, simulate) as wf:
        for inc in incidents:
            started = wf.start(inc.to_json())
            arn = started["execution_arn"]
            if decision is not None:
                wf.wait(arn, until=lambda i=inc: bool(wf.pending_approvals(i.id)))
                for pending in wf.pending_approvals(inc.id):
                    wf.decide(pending["approval_id"], decision, approver or "local user")
            done = wf.wait(arn, timeout=120)
            out = json.loads(done.get("output") or "{}")
            results.append(
                {
                    "incident_id": inc.id,
                    "status": done["status"],
                    "explanation": out.get("explained", {}).get("explanation"),
                    "actions": out.get("plan", {}).get("actions", []),
                    "outcome": out.get("outcome"),
                }
            )
    return results


# ---- plan -----------------------------------------------------------------------------------------------------
def recommend(lake: Lake, min_monthly_usd: float = 1.0, top: int = 5, inputs: AttributionInputs | None = None):
    """Savings the planners find in the lake (needs ``build_features``), largest first."""
    from egress_optimizer.planners.from_lake import recommend as find

    if inputs is None:
        return find(lake, min_monthly_usd=min_monthly_usd, top=top)
    return find(
        lake,
        inventory=inputs.inventory,
        catalog=inputs.prices,
        ranges=inputs.ip_ranges,
        min_monthly_usd=min_monthly_usd,
        top=top,
    )


def record_savings(lake: Lake, min_monthly_usd: float = 1.0, top: int = 5, inputs: AttributionInputs | None = None):
    """The planners' savings (``recommend``), appended to the lake's ``savings`` table as one run for the
    dashboard; returns the recommendations."""
    from egress_optimizer.planners.record import write_savings

    found = recommend(lake, min_monthly_usd, top, inputs)
    write_savings(lake, found)
    return found


def record_coverage_gaps(lake: Lake, coverage: dict) -> int:
    """A reconciliation's coverage gaps (``Reconciliation.coverage``: what to enable and the dollars it would
    explain), appended to the lake's ``coverage_gaps`` table as one run for the dashboard; returns the rows."""
    from egress_optimizer.planners.record import write_coverage_gaps

    return write_coverage_gaps(lake, coverage.get("enable_logging", []))


# ---- the report -------------------------------------------------------------------------------------------------
def write_report(lake: Lake, out: Path, coverage: dict | None = None) -> Path:
    """The self-contained HTML report of ``lake`` at ``out``: the dashboard's views and a page per incident
    (``coverage``: a reconciliation's coverage, for what to enable)."""
    from egress_optimizer.report.gather import report_data
    from egress_optimizer.report.page import render

    html = render(report_data(lake, coverage))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out


# ---- the demo ---------------------------------------------------------------------------------------------------
@dataclass
class DemoRun:
    raw: Path
    lake: Lake
    estate: Any  # estate.generate.GenerateResult
    ingest: IngestReport
    reconciliation: Reconciliation
    features: dict  # what build_features did
    top_resources: pd.DataFrame
    detection: dict  # model_version, incidents, evaluation (or skipped: why)
    incidents: list[Incident]
    responses: list[dict]  # the response workflow's result per incident (respond_locally)
    report: Path | None = None  # the HTML report


def run_demo(
    out: Path,
    seed: int = 42,
    days: int = 14,
    start: str | None = None,
    generate_progress: Callable[[str, float], None] | None = None,
    ingest_progress: Callable[[ObjectResult, int, int], None] | None = None,
) -> DemoRun:
    """The main job end to end on a small generated estate: generate, ingest, attribute and reconcile, top
    talkers, features, train, detect every hour, score the incidents against the generator's labels, respond
    to each (locally, dry runs) and write the HTML report."""
    from egress_optimizer.estate.generate import generate

    raw, lake_dir = out / "raw", out / "lake"
    _fresh_lake(lake_dir)
    out.mkdir(parents=True, exist_ok=True)
    estate = generate(raw, days, seed, "small", start, progress=generate_progress)
    lake = Lake.open(str(lake_dir), create=True)
    report = ingest(lake, [str(raw)], progress=ingest_progress)
    features = build_features(lake).to_json()
    rec = reconcile(lake)
    top = top_talkers(lake, "resource", None, 5)
    detection, incidents = _demo_detection(lake, raw)
    responses = _demo_responses(lake, raw, incidents, detection, estate)
    record_coverage_gaps(lake, rec.coverage)  # the dashboard's and the report's coverage and savings sheets
    record_savings(lake)
    page = write_report(lake, out / "report.html")
    return DemoRun(raw, lake, estate, report, rec, features, top, detection, incidents, responses, page)


def _demo_responses(lake: Lake, raw: Path, incidents: list[Incident], detection: dict, world: Any = None) -> list[dict]:
    """The response state machine on every detected incident (locally, on moto, in a simulation of the generated
    estate ``world``; nobody approves, so the plans stay dry runs), and how many root causes agree with the
    generator's labels (into ``detection``)."""
    from egress_optimizer.respond.explain import LABELLED_CAUSES, trail_roots_in

    if not incidents:
        return []
    try:
        responses = respond_locally(lake, incidents, trail_roots_in(raw), world=world)
    except (ImportError, InputError) as exc:  # moto (the `local` extra) or the handlers' source are missing
        detection["responses_skipped"] = f"the local workflow cannot run here: {exc}"
        return []
    category = {r["incident_id"]: (r.get("explanation") or {}).get("category") for r in responses}
    labels = {i["id"]: i for i in json.loads((raw / "labels.json").read_text())["incidents"]}
    pairs = [
        (labels[p["id"]]["expected_root_cause"], category.get(p["events"][0]))
        for p in detection.get("per_incident", [])
        if p["detected"] and p["events"]
    ]
    right = sum(LABELLED_CAUSES.get(cause) == got for cause, got in pairs)
    detection["root_causes"] = {"explained": len(pairs), "agree_with_labels": right}
    return responses


def _demo_detection(lake: Lake, raw: Path) -> tuple[dict, list[Incident]]:
    """Declare the estate's planned work, train, detect every hour, and score the result against the labels."""
    import json

    from egress_optimizer.detection.evaluate import evaluate_events
    from egress_optimizer.detection.feedback import read_planned_file
    from egress_optimizer.detection.signals import WARMUP_HOURS

    declare_planned(lake, read_planned_file(raw / "planned_activities.json"))
    try:
        meta = train(lake)
    except InputError as exc:  # too few days for baselines (the demo allows short runs)
        return {"skipped": str(exc)}, []
    result = detect(lake)
    labels = json.loads((raw / "labels.json").read_text())
    start = pd.Timestamp(meta["training_window"]["start"]) + pd.Timedelta(hours=WARMUP_HOURS)
    end = pd.Timestamp(meta["training_window"]["end"]) + pd.Timedelta(hours=1)
    ev = evaluate_events(result.incidents, labels, start, end)
    summary = {
        "model_version": meta["version"],
        "incidents": len(result.incidents),
        "evaluation": {k: ev[k] for k in ("precision", "recall", "f1", "planned_alerts", "false_alerts")},
        "per_incident": [{k: p[k] for k in ("id", "kind", "detected", "events")} for p in ev["incidents"]],
    }
    return summary, result.incidents


def _fresh_lake(lake_dir: Path) -> None:
    """The demo builds its lake from scratch, as `generate` does its raw folder: a lake left by an earlier demo
    would carry that estate's rows and the detector's "already scored" state into this run."""
    import shutil

    from egress_optimizer.lake import MARKER

    if not lake_dir.exists() or not any(lake_dir.iterdir()):
        return
    if not (lake_dir / MARKER).exists():
        raise InputError(f"{lake_dir} is not empty and is not a lake written by egress; choose another --out")
    shutil.rmtree(lake_dir)


# ---- query ------------------------------------------------------------------------------------------------------
def query(lake: Lake, sql: str) -> tuple[list[str], list[tuple]]:
    """Run SQL with DuckDB over every lake table; returns (column names, rows)."""
    import duckdb

    try:
        result = lake.connect().execute(sql)
    except duckdb.Error as e:
        raise InputError(f"query failed: {e}") from None
    return [d[0] for d in result.description or []], result.fetchall()


def query_athena(
    sql: str, database: str, workgroup: str | None = None, output: str | None = None, session: Any = None
) -> tuple[list[str], list[tuple]]:
    """Run SQL in Amazon Athena over the lake's Glue tables; returns (column names, rows)."""
    from egress_optimizer.athena import run_query

    return run_query(sql, database, workgroup, output, session)
