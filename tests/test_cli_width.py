"""Issue 20: what the demo, `egress detect` and `egress plan from-lake` print stays readable at 80 columns.

Each output is rendered at 80 columns from the generator's estate (its inventory snapshot, its resources' ids
and ARNs) and checked for lines that fit, table columns no narrower than 3 characters, ids and names that stay
whole, and no internal function name of the planners."""

from __future__ import annotations

import json
import pkgutil
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from rich.cells import cell_len

from egress_optimizer.cli import run, stdout
from egress_optimizer.cli.display import Names, short_id, short_incident_id
from egress_optimizer.contracts.incident import Incident
from egress_optimizer.lake import Lake

WIDTH = 80
SEED = 7
START = 1_792_800_000  # 2026-10-24 UTC, epoch seconds


# ---- what every rendering must satisfy --------------------------------------------------------------------------
def _planner_names() -> tuple[set[str], set[str]]:
    """The planners' module names and the public functions they define."""
    import importlib

    import egress_optimizer.planners as planners

    modules, functions = set(), set()
    for m in pkgutil.iter_modules(planners.__path__):
        modules.add(m.name)
        mod = importlib.import_module(f"egress_optimizer.planners.{m.name}")
        functions |= {k for k, v in vars(mod).items() if callable(v) and not k.startswith("_") and "_" in k}
    return modules, functions


PLANNER_MODULES, PLANNER_FUNCTIONS = _planner_names()
DOTTED = re.compile(r"\b([a-z_]+)\.([a-z_]+)\b")


def check(text: str, whole: list[str] = ()) -> str:
    """``text`` fits in 80 columns (but for paths longer than that), its tables' columns are at least 3 characters
    wide (unless their header is narrower) and end at their right border (nothing cropped), the strings of
    ``whole`` appear unbroken, and no planner function is named."""
    lines = text.splitlines()
    assert lines, "nothing was printed"
    # too wide, unless a path or URI longer than the line: it stays whole, to be copied
    too_wide = [line for line in lines if cell_len(line) > WIDTH and " " in line.strip()]
    assert not too_wide, "\n".join(too_wide)
    for n, line in enumerate(lines):
        if line[:1] in "┏┌":  # a table's top border: its column widths, padding included
            widths = [len(seg) - 2 for seg in re.split("[┳┬]", line[1:-1])]
            cells = [re.split("[┃│]", h)[1:-1] for h in _header(lines[n + 1 :])]
            header = [" ".join(h) for h in zip(*cells, strict=True)]
            squeezed = [(w, h.strip()) for w, h in zip(widths, header, strict=True) if w < 3 and len(h.strip()) > w]
            assert not squeezed, f"columns squeezed narrower than 3: {squeezed}\n{text}"
        if line[:1] in "┃│":
            assert line.rstrip()[-1] in "┃│", f"a cropped table row: {line!r}"
    for s in whole:
        assert s in text, f"{s!r} not whole in:\n{text}"
    named = [m.group(0) for m in DOTTED.finditer(text) if m[1] in PLANNER_MODULES or m[2] in PLANNER_FUNCTIONS]
    assert not named, named
    return text


def _header(lines: list[str]) -> list[str]:
    """A table's header rows: the lines after its top border, down to the rule under them."""
    return [line for line in lines[: next(i for i, x in enumerate(lines) if x[:1] in "┡├")]]


@pytest.fixture()
def render(monkeypatch):
    """Call a printer with the CLI's console at 80 columns; returns what it printed."""
    monkeypatch.setattr(stdout, "width", WIDTH)

    def call(fn, *args, **kw) -> str:
        with stdout.capture() as cap:
            fn(*args, **kw)
        return cap.get()

    return call


# ---- the generator's estate, without its logs --------------------------------------------------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The small estate's organisation, scheduled incidents and inventory snapshot (what `egress ingest` copies
    into a lake), written in a second; the names the tables show come from that snapshot."""
    from egress_optimizer.attribution.inventory import Inventory
    from egress_optimizer.estate import incidents, topology, traffic
    from egress_optimizer.estate.writers.inventory import write_inventory

    estate = topology.build_estate(SEED, "small")
    streams = traffic.build_streams(estate, np.random.default_rng([SEED, 1]))
    incs = incidents.schedule(estate, streams, 72, np.random.default_rng([SEED, 2]))
    out = tmp_path_factory.mktemp("inventory")
    write_inventory(out, estate, incs, START, START + 72 * 3600, 72)
    root = out / "inventory"
    files = {str(p.relative_to(root)): p.read_text() for p in root.rglob("*.json")}
    inv = Inventory.from_documents(files)
    return SimpleNamespace(estate=estate, incidents=incs, files=files, inv=inv, names=Names.from_documents(files))


def _one(inv, kind: str, **where):
    enis = inv.enis[inv.enis.kind == kind]
    for k, v in where.items():
        enis = enis[enis[k] == v]
    return enis.iloc[0]


def _incident(n: int, eni_or_id, destination: str, usd: float, hours: int, **entity) -> Incident:
    """An incident as detection writes it, its top entity on ``eni_or_id`` (an inventory row or a bucket)."""
    if isinstance(eni_or_id, str):
        rid, account, region, kind = eni_or_id, entity.pop("account"), entity.pop("region"), "s3_bucket"
    else:
        rid, account, region = eni_or_id.resource_arn, eni_or_id.account, eni_or_id.region
        kind = {"nat": "nat_gateway", "alb": "load_balancer", "ec2": "instance", "ecs": "ecs_task"}[eni_or_id.kind]
    kind = entity.pop("kind", kind)
    start = datetime(2026, 10, 21, 19, tzinfo=UTC) + timedelta(hours=7 * n)
    doc = {
        "id": f"evt-{n:02d}{'c0ffee5eed1234'[: 14]}",
        "accounts": [account],
        "region": region,
        "window": {"start": start, "end": start + timedelta(hours=hours), "detected_at": start + timedelta(hours=1)},
        "severity": "critical" if usd / hours * 24 >= 1000 else "medium" if usd / hours * 24 >= 10 else "low",
        "score": 0.97,
        "impact": {"expected_usd": 10.0, "actual_usd": 10.0 + usd, "total_usd": usd, "percentage": usd * 10,
                   "per_day_usd": usd / hours * 24, "max_hourly_usd": usd / 3},
        "root_causes": [],
        "entities": [{"kind": kind, "id": rid, "account": account, "region": region, "destination_class": destination,
                      "peer": None, "bytes": 10**11, "dollars": usd + 1, "expected_dollars": 1.0,
                      "impact_dollars": usd, "share": 1.0, **entity}],
        "destinations": [destination],
        "teams": ["storefront"],
        "evidence": [],
    }  # fmt: skip
    return Incident.model_validate(doc)


@pytest.fixture(scope="module")
def incidents(world):
    inv, estate = world.inv, world.estate
    bucket = max(estate.buckets, key=lambda b: len(b.name))
    dist = inv.distributions.iloc[0]
    return [
        _incident(1, _one(inv, "nat"), "internet", 1234.56, 29),
        _incident(2, _one(inv, "ec2"), "cross-az to NAT", 0.63, 11),
        _incident(3, bucket.name, "replication", 3.45, 15, account=bucket.account, region=bucket.region),
        _incident(4, _one(inv, "alb"), "internet", 33.84, 24),
        _incident(5, _one(inv, "ecs"), "aws-service:S3 via NAT", 12_345.67, 8),
        _incident(6, dist.arn, "cloudfront:JP", 1.09, 10, account=dist.account, region="global",
                  kind="cloudfront_distribution", cache_hit_ratio=0.61, cache_hit_ratio_before=0.93),
    ]  # fmt: skip


# ---- egress detect and the demo's incidents ----------------------------------------------------------------------
def test_detect_table_fits_with_short_ids_and_names(render, world, incidents):
    from egress_optimizer.cli.detect import print_incidents

    inv = world.inv
    ec2, alb, nat = _one(inv, "ec2"), _one(inv, "alb"), _one(inv, "nat")
    account = world.names.account(nat.account)
    assert account != nat.account  # the organisation names its accounts
    text = render(print_incidents, incidents, "Scored 2026-10-21 19:00 .. 2026-10-24 00:00: 7 incidents", world.names)
    whole = [short_incident_id(i.id) for i in incidents] + [short_id(nat.resource_arn), ec2.resource_id, ec2.app,
             short_id(alb.resource_arn), "12,345.67", "1,021.70/day", "cache hits 93% -> 61%", account, "critical",
             "aws-service:S3 via NAT", max(world.estate.buckets, key=lambda b: len(b.name)).name]  # fmt: skip
    check(text, whole)
    assert short_id(alb.resource_arn) in alb.resource_arn.split("/")  # a load balancer shows its name
    assert not any(i.id in text for i in incidents) and "arn:aws" not in text

    wide = check(render(print_incidents, incidents, "incidents", world.names, wide=True))
    assert all(i.id in wide for i in incidents) and f"({nat.account})" in wide


def test_short_incident_ids_are_accepted_where_an_incident_id_is_taken(tmp_path, incidents):
    from egress_optimizer.cli.detect import full_incident_id
    from egress_optimizer.detection.lake_runs import _write_incidents
    from egress_optimizer.errors import InputError

    lake = Lake.open(str(tmp_path / "lake"), create=True)
    assert full_incident_id(lake, "evt-01c0ffee") == "evt-01c0ffee"  # no incidents yet: left to the stage to refuse
    _write_incidents(lake, incidents)
    for i in incidents:
        assert full_incident_id(lake, short_incident_id(i.id)) == i.id == full_incident_id(lake, i.id)
    assert full_incident_id(lake, "evt-nope") == "evt-nope"
    with pytest.raises(InputError, match="ambiguous"):
        full_incident_id(lake, "evt-0")
    assert run(["feedback", "evt-nope", "--verdict", "true", "--lake", str(tmp_path / "lake")]) == 2


# ---- the rest of the demo ----------------------------------------------------------------------------------------
def test_estate_summary_fits(render, world):
    from egress_optimizer.cli.generate import print_estate_summary

    counts = {"vpc_flow": {"objects": 1_359, "records": 12_154_711}, "s3_access": {"objects": 450, "records": 28_163},
              "cloudfront": {"objects": 144, "records": 8_698}, "cur": {"objects": 4, "records": 19_042}}  # fmt: skip
    for i in world.incidents:
        i.dollar_impact_usd = 12_345.67 if i.planned else 0.82
    result = SimpleNamespace(out=Path("/tmp/egress-demo/raw"), counts=counts, incidents=world.incidents,
                             start_epoch=START, line_items=19_042, cur_cost_usd=3_414.75, seconds=6.0)  # fmt: skip
    text = check(render(print_estate_summary, result), ["12,154,711", "12,345.67"])
    for i in world.incidents:
        assert re.search(rf"│ {re.escape(i.id[:7])} +│", text)  # inc-001: the rest of the id is its kind
    assert "public S3" in text and "(planned)" in text


def test_ingest_report_fits(render):
    from egress_optimizer.cli.ingest import print_ingest_report
    from egress_optimizer.ingest.pipeline import IngestReport, ObjectResult

    uri = "s3://org-logs-321362791607/AWSLogs/321362791607/vpcflowlogs/us-east-1/2026/10/21/" + "x" * 60 + ".log.gz"
    objects = [
        ObjectResult("a", "vpc-flow", 154_711_000, 154_710_000, 1_000, 20_001_634_112),
        ObjectResult("b", "s3-access", 28_163, 28_163, 0, 3_861_899),
        ObjectResult("c", "cloudfront", 8_698, 8_698, 0, 993_124),
        ObjectResult("d", "cur", 26_957, 26_957, 0, 2_617_358),
        ObjectResult(uri, "vpc-flow", failed=True, reason="not gzip: bad magic number"),
    ]
    text = check(render(print_ingest_report, IngestReport(objects)), ["154,711,000", "20.0 GB", "quarantined", uri])
    assert "unreadable" in text


def test_reconciliation_and_coverage_fit(render, features_lake):
    from egress_optimizer import stages
    from egress_optimizer.cli.attribution import print_reconciliation

    rec = stages.reconcile(Lake.open(str(features_lake), create=False))
    text = check(render(print_reconciliation, rec, limit=8), ["Coverage:", "By reason (net):"])
    after = text.split("By reason (net):\n", 1)[1].splitlines()
    assert after and all(line.startswith(" ") or line.startswith("Coverage:") for line in after), after


def test_top_resources_fit(render, world):
    from egress_optimizer.cli.demo import print_top_resources

    inv = world.inv
    rows = [_one(inv, k) for k in ("alb", "ecs", "ec2", "nat")]
    dist = inv.distributions.iloc[0]
    top = pd.DataFrame(
        [{"resource_id": r.resource_arn, "account": r.account, "team": r.team, "gb": 12_417.483, "usd": 977.9}
         for r in rows] + [{"resource_id": dist.arn, "account": dist.account, "team": None, "gb": 1.5, "usd": 0.1}]
    )  # fmt: skip
    text = check(render(print_top_resources, top, world.names), [short_id(r.resource_arn) for r in rows])
    assert "arn:aws" not in text and world.names.account(rows[0].account) in text and "12,417.5" in text
    assert all(r.region in text for r in rows) and "global" in text  # two load balancers may share a name
    assert "nan" not in text and "│ -  " in text  # a resource without a team


def _responses(world, incidents) -> list[dict]:
    inv = world.inv
    nats = inv.enis[inv.enis.kind == "nat"].resource_id.tolist()[:3]
    bucket = max(world.estate.buckets, key=lambda b: len(b.name)).name
    dist = inv.distributions.iloc[0].distribution_id
    explained = [
        ("unintended_replication", 0.9),
        ("nat_gateway_service_traffic", 0.95),
        ("cloudfront_cache_collapse", 0.85),
        ("public_object_exfiltration", 0.8),
        ("organic_growth", 0.55),
    ]
    rule = {"ID": f"copy-{bucket}", "Status": "Enabled"}
    actions = [
        [("s3.disable-replication-rule", bucket, {"configuration": {"Rules": [rule]}},
          {"configuration": {"Rules": [rule | {"Status": "Disabled"}]}})],
        [("vpc.add-gateway-endpoint", n, {"on_endpoint": []}, {"on_endpoint": [f"rtb-a7eb8373aedf0a6e{k}"]})
         for k, n in enumerate(nats)],
        [("cloudfront.attach-caching-policy", dist, {"CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"},
          {"CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"})],
        [("s3.block-public-access", bucket, {"BlockPublicPolicy": False}, {"BlockPublicPolicy": True}),
         ("s3.remove-public-policy-statements", bucket, {"policy": {"Version": "2012-10-17"}}, {"policy": None})],
        [],
    ]  # fmt: skip
    out = []
    for inc, (category, confidence), acts in zip(incidents, explained, actions, strict=False):
        out.append({
            "incident_id": inc.id,
            "status": "SUCCEEDED",
            "explanation": {"incident_id": inc.id, "category": category, "confidence": confidence},
            "actions": [{"action_id": a, "target": {"id": t}, "current": c, "proposed": p, "changes": []}
                        for a, t, c, p in acts],
            "outcome": {"outcome": "timed_out" if acts else "explained"},
        })  # fmt: skip
    out.append({"incident_id": incidents[-1].id, "status": "FAILED", "actions": []})
    return out


def test_responses_and_planned_changes_fit(render, world, incidents):
    from egress_optimizer.cli.demo import print_planned_changes
    from egress_optimizer.cli.respond import print_responses

    responses = _responses(world, incidents)
    whole = [short_incident_id(i.id) for i in incidents] + ["cloudfront.attach-caching-policy", "timed out",
             "s3.remove-public-policy-statements", "vpc.add-gateway-endpoint (x3)", "(90% sure)"]  # fmt: skip
    text = check(render(print_responses, responses), whole)
    assert not any(i.id in text for i in incidents) and "_" not in text  # root causes and outcomes in words
    changes = check(render(print_planned_changes, responses), ["unintended replication", '"Enabled" -> "Disabled"'])
    assert f"{short_incident_id(incidents[0].id)}  unintended replication" in changes.splitlines()


# ---- egress plan from-lake ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def recs(features_lake):
    from egress_optimizer.planners.from_lake import recommend

    return recommend(Lake.open(str(features_lake), create=False), min_monthly_usd=1.0, top=3)


def test_plan_from_lake_fits_and_names_methods_in_words(render, recs, features_lake, monkeypatch, capsys):
    from egress_optimizer.cli.plan_from_lake import print_recommendations
    from egress_optimizer.planners import from_lake
    from egress_optimizer.planners.record import METHODS

    lake = Lake.open(str(features_lake), create=False)
    assert {"cloudfront", "gateway-endpoint", "replica-unread"} <= {r.kind for r in recs}
    assert any(DOTTED.search(r.planner) for r in recs)  # what the JSON keeps, and the table must not show
    text = render(print_recommendations, recs, "Recommendations", Names.from_lake(lake))
    savings = [f"{r.monthly_savings_usd:,.2f}" for r in recs]
    check(text, [*savings, "How each kind is priced:"])
    legend = " ".join(text.split("How each kind is priced:")[1].split())
    assert all(f"{r.kind}: {METHODS[r.kind]}" in legend for r in recs)
    assert "arn:aws" not in text and "calculators" not in text and "plan_replication" not in text
    served = next(r for r in recs if r.kind == "cloudfront")
    assert short_id(served.evidence.entities[0]) in text

    # the command prints the same table (the recommender patched in, so the lake is not scanned again)
    monkeypatch.setattr(from_lake, "recommend", lambda lake, **kw: recs)
    monkeypatch.setattr(stdout, "width", WIDTH)
    assert run(["plan", "from-lake", "--lake", str(features_lake)]) == 0
    check(capsys.readouterr().out, [*savings, "total: $"])
    assert run(["plan", "from-lake", "--lake", str(features_lake), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["planner"] for r in doc["recommendations"]] == [r.planner for r in recs]  # the JSON is unchanged
