"""``egress plan from-lake``: the generated estate's replication buckets and NAT-heavy paths are found and priced."""

from __future__ import annotations

import contextlib
import io
import json

import pandas as pd
import pytest

from egress_optimizer.attribution.inventory import Inventory
from egress_optimizer.cli import run
from egress_optimizer.lake import Lake
from egress_optimizer.planners.from_lake import GIB, recommend, total_monthly_savings
from egress_optimizer.pricing import load_catalog


@pytest.fixture(scope="module")
def lake_dir(features_lake):
    """The estate ingested and featurised (`egress ingest` + `egress features`); the recommender only reads it."""
    return features_lake


@pytest.fixture(scope="module")
def doc(lake_dir):
    """The CLI's JSON: one run of the recommender, shared by the tests."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert run(["plan", "from-lake", "--lake", str(lake_dir), "--json"]) == 0
    return json.loads(buf.getvalue())


def _labels(estate_dir) -> dict:
    return json.loads((estate_dir / "labels.json").read_text())


def test_replication_buckets_are_found_with_savings(doc, estate_dir, lake_dir):
    recs = [r for r in doc["recommendations"] if r["kind"] in ("replication-tree", "replica-unread")]
    inv = Inventory.from_lake(Lake.open(str(lake_dir), create=False))
    extra = next(i for i in _labels(estate_dir)["incidents"] if i["kind"] == "s3_replication_extra_region")
    pairs = {(r.source_bucket, r.destination_bucket) for r in inv.replication.itertuples()}
    pairs.add((extra["details"]["source_bucket"], extra["details"]["destination_bucket"]))
    assert len(pairs) == 3
    for src, dst in pairs:
        found = [r for r in recs if src in r["evidence"]["entities"] and dst in r["evidence"]["entities"]]
        assert found, (src, dst)
        assert all(r["monthly_savings_usd"] > 0 and "plan_replication" in r["planner"] for r in found)
    # The replica in the extra region is priced as the planned fan-out with and without sa-east-1.
    sa = next(r for r in recs if r["evidence"]["details"].get("replica_region") == "sa-east-1")
    assert sa["kind"] == "replica-unread" and sa["confidence"] == "review"
    assert sa["evidence"]["details"]["source_bucket"] == extra["details"]["source_bucket"]
    monthly_gib = sa["evidence"]["gib"] * 30 / sa["evidence"]["window_days"]
    rate = load_catalog().inter_region("eu-west-1", "sa-east-1")
    assert sa["monthly_savings_usd"] == pytest.approx(monthly_gib * rate, rel=1e-3)
    # Direct sends are already the cheapest tree for these regions: the planner proposes no relays.
    assert not [r for r in recs if r["kind"] == "replication-tree"]


def test_nat_heavy_paths_get_gateway_endpoints(doc, estate_dir):
    recs = [r for r in doc["recommendations"] if r["kind"] == "gateway-endpoint"]
    inc = next(i for i in _labels(estate_dir)["incidents"] if i["kind"] == "nat_gateway_s3_no_endpoint")
    nats = {r for r in inc["resources"] if r.startswith("nat-")}
    hit = [r for r in recs if nats <= set(r["evidence"]["entities"])]
    assert len(hit) == 1
    rec = hit[0]
    ev = rec["evidence"]
    assert ev["details"]["service"] == "S3" and rec["region"] == "us-east-1"
    assert ev["details"]["existing_endpoint"] in inc["resources"]  # the endpoint the traffic bypassed
    assert "prod-data-lake-raw-4134" in ev["details"]["buckets_via_nat"]
    # What the NAT processed for S3 in the window is the incident's dollar impact.
    assert ev["observed_usd"] == pytest.approx(inc["dollar_impact_usd"], rel=0.02)
    seen = pd.Timestamp(ev["details"]["first_seen"]), pd.Timestamp(ev["details"]["last_seen"])
    assert pd.Timestamp(inc["start"]) <= seen[0] <= seen[1] <= pd.Timestamp(inc["end"])
    assert rec["monthly_savings_usd"] > 0
    # Every VPC whose DynamoDB traffic uses a NAT gateway gets one too, and the ranking is by saving.
    assert any(r["evidence"]["details"]["service"] == "DYNAMODB" for r in recs)
    savings = [r["monthly_savings_usd"] for r in doc["recommendations"]]
    assert savings == sorted(savings, reverse=True)


def test_arithmetic_is_consistent(doc):
    recs = doc["recommendations"]
    assert {"gateway-endpoint", "replica-unread", "cloudfront", "az-affinity"} <= {r["kind"] for r in recs}
    catalog = load_catalog()
    for r in recs:
        ev = r["evidence"]
        scale = 30 / ev["window_days"]
        assert ev["window_days"] == pytest.approx(7.0)
        assert r["monthly_savings_usd"] == pytest.approx(r["current_monthly_usd"] - r["proposed_monthly_usd"], abs=1e-3)
        assert r["monthly_savings_usd"] >= 1.0 and ev["bytes"] > 0 and ev["entities"]
        assert ev["gib"] == pytest.approx(ev["bytes"] / GIB, abs=1e-3)
        if r["kind"] == "gateway-endpoint":  # NAT $/GB on the observed bytes, scaled to 30 days
            expect = ev["gib"] * catalog.nat_per_gb(r["region"]) * scale
            assert r["current_monthly_usd"] == pytest.approx(expect, rel=1e-4)
            assert r["current_monthly_usd"] == pytest.approx(ev["observed_usd"] * scale, rel=1e-4)
            assert r["proposed_monthly_usd"] == 0
        if r["kind"] == "az-affinity":
            assert r["current_monthly_usd"] == pytest.approx(ev["observed_usd"] * scale, rel=1e-4)
        if r["kind"] == "nat-per-az":
            n = ev["details"]["added_nat_gateways"]
            hourly = ev["details"]["nat_usd_per_hour"] + ev["details"]["public_ipv4_usd_per_hour"]
            assert r["proposed_monthly_usd"] == pytest.approx(n * hourly * 730, rel=1e-6)
        if r["kind"] == "cloudfront":  # priced at the margin of the month's tiers, never above the top tier
            assert r["current_monthly_usd"] <= ev["details"]["monthly_gib"] * 0.09 + 1e-6
    total = sum(r["monthly_savings_usd"] for r in recs)
    assert doc["total_monthly_savings_usd"] == pytest.approx(total, abs=0.01)


def test_library_and_table_output(lake_dir, doc, capsys, monkeypatch):
    from egress_optimizer.planners import from_lake

    recs = recommend(Lake.open(str(lake_dir), create=False), min_monthly_usd=30.0, top=1)
    assert recs and all(r.monthly_savings_usd >= 30.0 for r in recs)
    assert sum(r.kind == "cloudfront" for r in recs) == 1
    big = [r for r in doc["recommendations"] if r["monthly_savings_usd"] >= 30.0]
    assert {r.title for r in recs} <= {r["title"] for r in big}
    assert [r.to_dict() for r in recs] == [r for r in doc["recommendations"] if r["title"] in {x.title for x in recs}]
    # The table prints what the library returns (patched in, so the lake is not scanned again).
    monkeypatch.setattr(from_lake, "recommend", lambda lake, **kw: recs)
    assert run(["plan", "from-lake", "--lake", str(lake_dir)]) == 0
    out = capsys.readouterr().out
    assert f"total: ${total_monthly_savings(recs):,.2f} a month across {len(recs)} recommendations" in out
    assert "Recommendations from" in out and "saving" in out
    monkeypatch.setattr(from_lake, "recommend", lambda lake, **kw: [])
    assert run(["plan", "from-lake", "--lake", str(lake_dir), "--min-usd", "1e9"]) == 0
    assert "no recommendation" in capsys.readouterr().out
    assert run(["plan", "from-lake", "--lake", str(lake_dir / "missing")]) == 2
