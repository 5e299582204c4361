"""Attribution and reconciliation on the generated estate: every billed data-transfer dollar is explained."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from egress_optimizer import stages
from egress_optimizer.attribution.features import build_features
from egress_optimizer.cli import run
from egress_optimizer.ipranges import shipped
from egress_optimizer.lake import Lake


@pytest.fixture(scope="module")
def lake_dir(features_lake, tmp_path_factory):
    """A writable copy of the shared lake (tests here rebuild its features and add a bad object)."""
    import shutil

    root = tmp_path_factory.mktemp("attr") / "lake"
    shutil.copytree(features_lake, root)
    return root


@pytest.fixture(scope="module")
def rec(features_lake):
    return stages.reconcile(Lake.open(str(features_lake), create=False))


def test_reconcile_json_leaves_what_the_readme_claims_unexplained(lake_dir, capsys):
    assert run(["reconcile", "--lake", str(lake_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["unexplained_pct"] < 0.05  # the README: 0.0 % on the generated estate
    assert out["billed_usd"] > 1000
    row = out["rows"][0]
    assert {"day", "account", "region", "usage_type", "attributed_usd", "billed_usd", "unexplained_usd"} <= set(row)


def test_every_transfer_family_is_attributed(rec):
    by_type = rec.rows.groupby("usage_type")[["billed_usd", "attributed_usd"]].sum()
    families = [
        "DataTransfer-Out-Bytes",
        "DataTransfer-Regional-Bytes",
        "-AWS-Out-Bytes",
        "NatGateway-Bytes",
        "VpcEndpoint-Bytes",
    ]
    for fam in families:
        sub = by_type[by_type.index.str.endswith(fam)]
        assert sub.billed_usd.sum() > 0, fam
        assert sub.attributed_usd.sum() == pytest.approx(sub.billed_usd.sum(), rel=5e-4), fam


def test_internet_egress_through_nat_is_counted_once_per_resource(attributed, lake_dir):
    """NAT-translated traffic appears on the instance and the gateway; it must be billed to the gateway once."""
    con = Lake.open(str(lake_dir), create=False).connect()
    cur = (
        con.execute("""
      SELECT resource_id, sum(usage_amount) AS gb FROM cur
      WHERE cur_version = 'cur2' AND regexp_matches(usage_type, '(^|-)DataTransfer-Out-Bytes$')
        AND product_code = 'AmazonEC2' AND resource_id LIKE '%natgateway%' GROUP BY 1
    """)
        .fetchdf()
        .set_index("resource_id")
        .gb
    )
    a = attributed
    mine = a[a.usage_type.str.endswith("DataTransfer-Out-Bytes") & a.resource_id.str.contains("natgateway", na=False)]
    got = mine.groupby("resource_id").gb.sum()
    assert set(got.index) == set(cur.index)
    for res, gb in got.items():
        assert gb == pytest.approx(cur[res], rel=0.01), res


def test_attribution_carries_owner_tags(attributed):
    a = attributed
    assert a.team.notna().mean() > 0.99
    assert {"storefront", "data-platform", "platform"} <= set(a.team.dropna())
    assert {"internet", "cross-az", "inter-region", "replication"} <= set(a.destination)
    assert any(d.startswith("cloudfront:") for d in a.destination)
    assert any("via NAT" in d for d in a.destination)


def test_cloudfront_rows_count_requests_and_cache_misses(attributed, lake_dir):
    """Each CloudFront row carries its requests (records) and how many missed the edge cache, exactly as the
    access logs say; flow and S3 rows have no cache misses."""
    con = Lake.open(str(lake_dir), create=False).connect()
    n, miss = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE edge_result_type = 'Miss') FROM cloudfront"
        " WHERE distribution_id IS NOT NULL"
    ).fetchone()
    a = attributed
    cf = a[a["product"] == "AmazonCloudFront"]
    assert int(cf.records.sum()) == n and int(cf.cache_misses.sum()) == miss > 0
    assert 0.02 < miss / n < 0.3  # a healthy edge cache serves most requests
    assert a[a["product"] != "AmazonCloudFront"].cache_misses.isna().all()


def _interfaces(estate_dir) -> list[dict]:
    """Every ENI of the estate's inventory snapshot, read straight from the EC2 responses."""
    files = (estate_dir / "inventory").rglob("describe_network_interfaces.json")
    return [n for f in files for n in json.loads(f.read_text())["NetworkInterfaces"]]


def test_an_instances_cross_az_hop_to_a_nat_gateway_names_the_gateway_it_crossed_to(attributed, estate_dir):
    """Only cross-AZ-to-NAT rows carry ``via``, and it is a NAT gateway of the instance's VPC in another zone."""
    enis = _interfaces(estate_dir)
    nats = {n["Description"].rsplit(" ", 1)[-1]: n for n in enis if n.get("InterfaceType") == "nat_gateway"}
    instances = {n["Attachment"]["InstanceId"]: n for n in enis if (n.get("Attachment") or {}).get("InstanceId")}
    a = attributed
    hop = a[a.destination == "cross-az to NAT"]
    assert len(hop) and hop.via.notna().all() and a[a.destination != "cross-az to NAT"].via.isna().all()
    pairs = hop[hop.resource_id.isin(instances)].groupby(["resource_id", "via"]).size().index
    assert len(pairs)
    for instance, via in pairs:
        nat = nats[via.rsplit("/", 1)[-1]]
        assert nat["VpcId"] == instances[instance]["VpcId"], (instance, via)
        assert nat["AvailabilityZoneId"] != instances[instance]["AvailabilityZoneId"], (instance, via)


def _incident(estate_dir, kind):
    labels = json.loads((estate_dir / "labels.json").read_text())
    inc = next(i for i in labels["incidents"] if i["kind"] == kind)
    return inc, pd.Timestamp(inc["start"]), pd.Timestamp(inc["end"])


def test_s3_through_a_nat_gateway_is_labelled_s3(rec, attributed, estate_dir):
    """The missing-S3-endpoint incident: its bytes are NAT processing of S3 traffic, on the incident's gateways,
    only while the endpoint is gone; the row's peer is the S3 address, not the instance."""
    inc, start, end = _incident(estate_dir, "nat_gateway_s3_no_endpoint")
    nats = [r for r in inc["resources"] if r.startswith("nat-")]
    a = attributed
    on_nat = a[a.resource_id.str.rsplit("/", n=1).str[-1].isin(nats) & a.usage_type.str.endswith("NatGateway-Bytes")]
    hour = pd.to_datetime(on_nat.hour, utc=True)
    s3 = on_nat[on_nat.destination == "aws-service:S3 via NAT"]
    assert not s3.empty and (hour[s3.index] >= start).all() and (hour[s3.index] < end).all()
    # The incident's dollar impact is exactly this NAT processing (the counterfactual is the free endpoint).
    assert s3.usd.sum() == pytest.approx(inc["dollar_impact_usd"], rel=0.01)
    owners = shipped().owners(s3.peer.unique().tolist())
    assert {o.service for o in owners if o} == {"S3"} and all(owners)
    # Elsewhere: DynamoDB behind NAT gateways is named too, and internet NAT rows point at internet peers.
    assert "aws-service:DYNAMODB via NAT" in set(a.destination)
    internet = a[a.destination == "internet via NAT"]
    assert not internet.peer.str.startswith("10.").any()
    assert rec.unexplained_pct <= 2.0


def test_cloudfront_origin_fetches_reconcile_and_show_the_cache_collapse(rec, attributed, lake_dir, estate_dir):
    a = attributed
    origin = a[a.destination == "cloudfront origin"]
    assert set(origin["product"]) == {"AWSELB", "AmazonS3"} and (origin.usd == 0).all()
    con = Lake.open(str(lake_dir), create=False).connect()
    cur = (
        con.execute("""
      SELECT resource_id, usage_type, sum(usage_amount) AS gb FROM cur
      WHERE cur_version = 'cur2' AND usage_type LIKE '%CloudFront-Out-Bytes' GROUP BY ALL
    """)
        .fetchdf()
        .set_index(["resource_id", "usage_type"])
        .gb
    )
    got = origin.groupby(["resource_id", "usage_type"]).gb.sum()
    assert set(got.index) == set(cur.index)
    for key, gb in got.items():
        assert gb == pytest.approx(cur[key], rel=1e-6), key
    rows = rec.rows[rec.rows.usage_type.str.endswith("CloudFront-Out-Bytes")]
    assert len(rows) and (rows.billed_usd == 0).all() and (rows.attributed_usd == 0).all()
    # The cache-hit collapse multiplies the load balancer's origin-fetch bytes: visible in the hourly features.
    _, start, end = _incident(estate_dir, "cloudfront_cache_hit_collapse")
    hourly = build_features(a)[0].to_pandas()
    alb = hourly[(hourly.destination == "cloudfront origin") & hourly.entity.str.contains("loadbalancer")]
    during = pd.to_datetime(alb.hour, utc=True).between(start, end, inclusive="left")
    assert during.any() and alb[during].bytes.mean() > 3 * alb[~during].bytes.mean()
    assert alb[during].ratio_to_same_hour_7d.max() > 3


@pytest.mark.parametrize("by", ["resource", "peer", "account", "team"])
def test_top_talkers(lake_dir, capsys, by, attributed):
    assert run(["top", "--lake", str(lake_dir), "--by", by, "--limit", "5", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert 0 < len(rows) <= 5
    usd = [r["usd"] for r in rows]
    assert usd == sorted(usd, reverse=True)
    if by == "account":
        assert sum(usd) == pytest.approx(attributed.usd.sum(), rel=1e-6)


def test_top_since_and_bad_input(lake_dir, capsys, tmp_path):
    assert run(["top", "--lake", str(lake_dir), "--since", "2d", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)
    assert run(["top", "--lake", str(lake_dir), "--since", "soon"]) == 2
    assert "--since" in capsys.readouterr().err
    empty = tmp_path / "empty-lake"
    Lake.open(str(empty))
    assert run(["reconcile", "--lake", str(empty)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no inventory" in err[0]


def test_feature_tables(lake_dir, estate_dir, capsys, rec):
    assert run(["features", "--lake", str(lake_dir), "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["egress_hourly"] == counts["attributed"] == 0  # the copy is up to date: nothing to do
    lake = Lake.open(str(lake_dir), create=False)
    hourly = lake.read("egress_hourly").to_pandas()
    attributed = lake.read("attributed").to_pandas()
    keyed = attributed[attributed.resource_id.notna()]
    assert int(hourly.bytes.sum()) == int(keyed.bytes.sum())  # exact for bytes
    assert hourly.cost_usd.sum() == pytest.approx(keyed.usd.sum(), rel=1e-9)
    share = hourly.new_peer_share.dropna()
    assert ((share >= 0) & (share <= 1)).all()
    first_hour = hourly.hour.min()
    assert hourly[hourly.hour == first_hour].median_same_hour_7d.isna().all()  # no history yet
    assert hourly.ratio_to_same_hour_7d.notna().mean() > 0.5
    # The planned migration stands out as an inter-region burst of its source instance.
    labels = json.loads((estate_dir / "labels.json").read_text())
    mig = next(i for i in labels["incidents"] if i["kind"] == "planned_migration")
    src = mig["resources"][0]
    burst = hourly[(hourly.entity == src) & (hourly.destination == "inter-region")]
    assert burst.ratio_to_same_hour_7d.max() > 10
    daily = lake.read("cur_daily").to_pandas()
    assert daily.cost_usd.sum() == pytest.approx(rec.billed_usd, rel=1e-9)


def test_athena_views_run_against_the_local_lake(lake_dir, rec, attributed, capsys, tmp_path):
    """The dashboard views are plain SQL: they must run (here on DuckDB over the lake) and add up."""
    from importlib import resources

    bad = tmp_path / "AWSLogs" / "123456789012" / "vpcflowlogs" / "us-east-1" / "bad.log"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
        "action log-status\n2 123456789012 eni-1 only five fields\n"
    )
    stages.ingest(Lake.open(str(lake_dir), create=False), [str(bad)])  # something in the quarantine table
    # the lake's features were built from its logs; tables nothing wrote yet (incidents) read as empty
    con = Lake.open(str(lake_dir), create=False).connect(empty=True)
    views = resources.files("egress_optimizer") / "sql" / "athena" / "views"
    names = sorted(p.name for p in views.iterdir() if p.name.endswith(".sql"))
    assert len(names) >= 4
    for name in names:
        con.execute((views / name).read_text())
    rec_view = con.execute(
        "SELECT sum(billed_usd), sum(attributed_usd), sum(abs(unexplained_usd)) FROM v_reconciliation_daily"
    ).fetchone()
    assert rec_view[0] == pytest.approx(rec.billed_usd, rel=1e-9)
    assert rec_view[2] <= 0.02 * rec_view[0]
    teams = con.execute("SELECT sum(cost_usd) FROM v_egress_daily_by_team").fetchone()[0]
    assert teams == pytest.approx(attributed[attributed.resource_id.notna()].usd.sum(), rel=1e-9)
    assert con.execute("SELECT count(*) FROM v_top_talkers_7d").fetchone()[0] > 0
    con.execute("SELECT * FROM v_quarantine_summary").fetchall()
