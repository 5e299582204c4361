"""The default (realistic) estate: its departures from a tidy one are all in the labels, and reconciliation
names every coverage gap the labels list, with unexplained dollars by reason that add up exactly."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from egress_optimizer.cli import run

SEED = 21  # a development seed (bench/RESULTS.md lists them)


@pytest.fixture(scope="module")
def realistic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    from egress_optimizer import stages
    from egress_optimizer.estate.generate import generate

    out = tmp_path_factory.mktemp("realistic")
    generate(out / "estate", days=3, seed=SEED, scale="small")
    stages.ingest(str(out / "lake"), [str(out / "estate")])
    labels = json.loads((out / "estate" / "labels.json").read_text())
    return out, labels, {}


def _reconcile_json(out: Path, capsys: pytest.CaptureFixture) -> dict:
    assert run(["reconcile", "--lake", str(out / "lake"), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_labels_list_every_departure(realistic):
    _, labels, _ = realistic
    assert labels["profile"] == "realistic"
    kinds = {g["kind"] for g in labels["coverage_gaps"]}
    assert kinds == {
        "vpc_without_flow_logs",
        "bucket_without_access_logs",
        "missing_delivery",
        "late_delivery",
        "duplicated_delivery",
        "damaged_delivery",
    }
    assert {b["kind"] for b in labels["benign_events"]} & {"batch_job", "crawler", "retry_storm"}
    assert all(b["resources"] for b in labels["benign_events"])
    declared = labels["planned_activities"]
    assert any(p["declared_at"] > p["start"] for p in declared)  # one declared after it started
    assert all(not p["resources"] for p in declared)  # account-wide, as people declare work
    assert labels["run_rate_changes"] and all(c["resources"] for c in labels["run_rate_changes"])
    billing = labels["billing"]
    assert billing["edp_discount_rate"] > 0 and billing["credits_usd_per_month"]
    assert {s["product"] for s in billing["unlogged_services"]} == {"AmazonRDS", "AmazonApiGateway", "AWSLambda"}


def test_reconcile_names_every_labelled_gap_and_its_reasons_add_up(realistic, capsys):
    out, labels, _ = realistic
    rec = _reconcile_json(out, capsys)
    # Exactly: decimal sums of the printed amounts.
    for total, parts in (
        ("unexplained_usd", "unexplained_by_reason"),
        ("unexplained_net_usd", "unexplained_net_by_reason"),
    ):
        assert sum(Decimal(repr(x["usd"])) for x in rec[parts]) == Decimal(repr(rec[total]))
    assert rec["unexplained_net_usd"] == pytest.approx(rec["billed_net_usd"] - rec["attributed_usd"], abs=0.01)
    for row in rec["rows"]:  # each day's unexplained dollars by reason, and at net the discount besides
        assert sum(row["reasons"].values()) == pytest.approx(row["unexplained_usd"], abs=1e-5)
        assert row["unexplained_usd"] + row["discount_usd"] == pytest.approx(row["unexplained_net_usd"], abs=3e-6)
    cov = rec["coverage"]
    assert 0.5 < cov["attributed_share"] < 1.0
    named = {(g["kind"], g["resource"]) for g in cov["enable_logging"]}
    reasons = {(x["reason"], x["detail"]): x["usd"] for x in rec["unexplained_by_reason"]}
    for gap in labels["coverage_gaps"]:
        if gap["kind"] == "vpc_without_flow_logs":
            assert ("vpc", gap["resource"]) in named
            assert reasons[("no_flow_logs", gap["resource"])] == pytest.approx(gap["hides_usd"], abs=1e-4)
        elif gap["kind"] == "bucket_without_access_logs":
            assert ("bucket", gap["resource"]) in named
            assert reasons[("no_access_logs", gap["resource"])] == pytest.approx(gap["hides_usd"], abs=1e-4)
        elif gap["kind"] == "missing_delivery":
            hour = pd.Timestamp(gap["start"]).strftime("%Y-%m-%dT%H:00Z")
            assert {"source": gap["resource"], "hour": hour} in [
                {k: g[k] for k in ("source", "hour")} for g in cov["delivery_gaps"]
            ]
        elif gap["kind"] == "late_delivery":
            late = [d for d in cov["late_deliveries"] if gap["account"] in d["key"] and gap["region"] in d["key"]]
            assert {pd.Timestamp(d["newest_hour"]) for d in late} >= {pd.Timestamp(gap["start"])}
        elif gap["kind"] == "damaged_delivery":
            flow = sum(q["records"] for q in cov["quarantined"] if q["source"] == "vpc-flow")
            assert flow == sum(g.get("records", 0) for g in labels["coverage_gaps"] if g["kind"] == "damaged_delivery")
        elif gap["kind"] == "duplicated_delivery":
            hour = pd.Timestamp(gap["start"]).strftime("%Y-%m-%dT%H:00Z")
            assert any(d["bucket"] == gap["resource"] and d["hour"] == hour for d in cov["duplicated_deliveries"])
    for service in labels["billing"]["unlogged_services"]:
        assert reasons[("service_without_logs", service["product"])] == pytest.approx(service["list_usd"], abs=1e-4)
    net = {x["reason"]: x["usd"] for x in rec["unexplained_net_by_reason"]}
    rate = labels["billing"]["edp_discount_rate"]
    assert net["discount"] == pytest.approx(-rate * rec["billed_usd"], rel=1e-4)
    # What is left without a reason is small: boundary effects the reasons do not model.
    assert abs(reasons[("unexplained", None)]) < 0.005 * rec["billed_usd"]
    months = {pd.Timestamp(labels["estate"]["start"]).strftime("%Y-%m")}
    months |= {(pd.Timestamp(labels["estate"]["end"]) - pd.Timedelta(hours=1)).strftime("%Y-%m")}
    expected_credits = -sum(labels["billing"]["credits_usd_per_month"].values()) * len(months)
    assert sum(c["usd"] for c in rec["credits"]) == pytest.approx(expected_credits)


def test_a_duplicated_delivery_is_counted_once(realistic):
    """The repeated S3 access log object adds no dollars: attribution of its bucket matches the bill."""
    out, labels, _ = realistic
    from egress_optimizer import stages
    from egress_optimizer.lake import Lake

    gap = next(g for g in labels["coverage_gaps"] if g["kind"] == "duplicated_delivery")
    lake = Lake.open(str(out / "lake"), create=False)
    rec = stages.reconcile(lake)
    rows = rec.explanation.rows
    mine = rows[rows.resource_id == gap["resource"]]
    assert mine.attributed_gb.sum() == pytest.approx(mine.billed_gb.sum(), rel=1e-6)
