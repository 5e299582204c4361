"""The shipped price table and AWS's monthly tier accumulation."""

from __future__ import annotations

import csv

import pytest

from egress_optimizer import usage_types as ut
from egress_optimizer.cloudfront_edges import geography
from egress_optimizer.pricing import TierMeter, load_catalog
from egress_optimizer.pricing.tiers import tiered_cost
from egress_optimizer.regions import REGIONS

# Cumulative upper bounds: first 10 TB, next 40 TB, next 100 TB, over 150 TB (1 TB = 1024 GB).
STD = [(10240, 0.09), (51200, 0.085), (153600, 0.07), (None, 0.05)]


def test_table_has_version_and_source():
    cat = load_catalog()
    assert cat.version and "aws.amazon.com" in cat.source


def test_inter_region_and_internet_prices_match_the_skyplane_cross_check(shared):
    cat = load_catalog()
    checked = 0
    with (shared / "cloud_profiles/skyplane_pricing/aws_transfer_costs.csv").open() as f:
        for row in csv.DictReader(f):
            src, dst, price = row["src"], row["dst"], float(row["cost"])
            if src not in REGIONS or (dst != "internet" and dst not in REGIONS):
                continue
            ours = cat.internet_egress_tiers(src)[0][1] if dst == "internet" else cat.inter_region(src, dst)
            assert ours == pytest.approx(price), (src, dst)
            checked += 1
    assert checked > 400


def test_tier_meter_free_tier_then_tiers():
    m = TierMeter()
    s = m.consume(("p", "2026-10", "us-east-1"), 150, STD, ("p", "2026-10"), 100)
    assert [(x.gb, x.rate) for x in s] == [(100, 0.0), (50, 0.09)]
    # The free allowance is shared across regions; paid tiers accumulate per region.
    s = m.consume(("p", "2026-10", "eu-west-1"), 10, STD, ("p", "2026-10"), 100)
    assert [(x.gb, x.rate) for x in s] == [(10, 0.09)]
    # A record that straddles the 10 TB boundary is billed as two slices.
    s = m.consume(("p", "2026-10", "us-east-1"), 10240, STD, ("p", "2026-10"), 100)
    assert [(x.gb, x.rate) for x in s] == [(10190, 0.09), (50, 0.085)]
    assert sum(x.cost for x in s) == pytest.approx(10190 * 0.09 + 50 * 0.085)


def test_tiered_cost_reaches_the_last_tier():
    gb = 200_000
    want = 10240 * 0.09 + 40960 * 0.085 + 102400 * 0.07 + (gb - 153600) * 0.05
    assert tiered_cost(gb, STD) == pytest.approx(want)
    assert tiered_cost(50, STD, free_gb=100) == 0.0
    assert tiered_cost(0, STD) == 0.0


def test_shipped_tiers_are_cumulative_bounds_of_the_published_tiers():
    """AWS publishes tier sizes (first 10 TB / next 40 TB / ...); the table stores where each tier ends in the
    month, as the Price List's endRange does and as TierMeter reads it."""
    cat = load_catalog()
    internet = [10, 10 + 40, 10 + 40 + 100]
    for region in (*REGIONS, "default"):
        assert [t[0] for t in cat.internet_egress_tiers(region)] == [tb * 1024 for tb in internet] + [None], region
    assert cat.internet_egress_tiers("us-east-1") == STD
    cloudfront = [10, 50, 150, 150 + 350, 500 + 524, 1024 + 4 * 1024]  # ... next 350 TB, next 524 TB, next 4 PB
    for geo in cat.raw["cloudfront"]["tiers_gb"]:
        assert [t[0] for t in cat.cloudfront_tiers(geo)] == [tb * 1024 for tb in cloudfront] + [None], geo
    # 50 TB in a month: 10 TB at the first rate, 40 TB at the second, nothing at the third.
    assert tiered_cost(51200, cat.internet_egress_tiers("us-east-1")) == pytest.approx(10240 * 0.09 + 40960 * 0.085)
    assert cat.cloudfront_origin_fetch_per_gb == 0.0


def test_catalog_lookups():
    cat = load_catalog()
    assert cat.inter_region("us-east-1", "us-east-2") == 0.01
    assert cat.inter_region("ap-southeast-1", "us-east-1") == 0.09
    assert cat.nat_per_gb("us-east-1") == 0.045 and cat.nat_per_gb("eu-west-1") == 0.048
    assert cat.inter_az_each_direction == 0.01
    assert cat.cloudfront_tiers("US")[0] == (10240, 0.085)


@pytest.mark.parametrize(
    ("got", "want"),
    [
        (ut.internet_out("us-east-1", "AmazonEC2"), "DataTransfer-Out-Bytes"),
        (ut.internet_out("us-east-1", "AmazonS3"), "USE1-DataTransfer-Out-Bytes"),
        (ut.internet_out("eu-west-1", "AmazonEC2"), "EU-DataTransfer-Out-Bytes"),
        (ut.inter_region_out("us-east-1", "us-west-2"), "USE1-USW2-AWS-Out-Bytes"),
        (ut.regional("us-west-2"), "USW2-DataTransfer-Regional-Bytes"),
        (ut.nat_bytes("us-east-1"), "NatGateway-Bytes"),
        (ut.nat_bytes("eu-west-1"), "EU-NatGateway-Bytes"),
        (ut.cloudfront_out("JP"), "JP-DataTransfer-Out-Bytes"),
    ],
)
def test_usage_type_spelling(got, want):
    assert got == want


def test_usage_type_regions():
    assert ut.region_of("USE1-USW2-AWS-Out-Bytes") == "us-east-1"
    assert ut.region_of("EU-NatGateway-Bytes") == "eu-west-1"
    assert ut.region_of("NatGateway-Bytes") == "us-east-1"
    assert ut.region_of("US-DataTransfer-Out-Bytes") is None


def test_edge_geographies_from_real_logs():
    assert geography("IAD89-C1") == "US"
    assert geography("FRA2") == "EU"
    assert geography("SEA19-C1") == "US"
    assert geography("NRT57-P2") == "JP"
    assert geography("XYZ1") is None and geography("") is None
