"""The CUR's data-transfer line items equal the bytes in the logs times list prices, within 1%.

Everything on the log side is computed by ``estate_oracle`` from the raw files and the inventory, and the
dollars from AWS's list prices as the oracle transcribes them: nothing here imports the library's pricing,
usage-type or attribution code (``test_the_oracle_stands_apart`` checks it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from egress_optimizer.cloudfront_edges import geography
from tests.estate_oracle import (
    CLOUDFRONT_FREE_GB,
    CLOUDFRONT_TIERS,
    GIB,
    INTER_AZ_PER_GB_EACH_WAY,
    INTER_REGION_OUT_PER_GB,
    INTERNET_FREE_GB,
    INTERNET_TIERS_US_EU,
    NAT_PROCESSING_PER_GB,
    EstateReader,
    tiered_usd,
)

TOL = 0.01


@pytest.fixture(scope="module")
def est(estate_dir, shared) -> EstateReader:
    return EstateReader(estate_dir, shared / "aws" / "ip-ranges.json")


def _cur(est: EstateReader, pattern: str, products: tuple[str, ...] | None = None) -> pd.DataFrame:
    c = est.cur
    sel = c.line_item_usage_type.str.contains(pattern, regex=True)
    if products:
        sel &= c.line_item_product_code.isin(products)
    return c[sel]


def _close(log_value: float, cur_value: float) -> None:
    assert cur_value > 0, "the CUR has no such line items"
    assert abs(log_value - cur_value) <= TOL * cur_value, (log_value, cur_value)


def test_internet_egress_from_ec2_elb_and_nat(est):
    f = est.flows
    enis = est.enis.set_index("interface_id")
    direct = f.interface_id.map(enis.public | enis.alb | (enis.type == "nat_gateway")) | f.srcaddr.str.contains(":")
    to_internet = f.dstaddr.map(est.aws.is_internet)
    sel = est.egress(f) & to_internet & direct
    by_region = f[sel].groupby(f[sel].interface_id.map(enis.region)).bytes.sum() / GIB
    cur = _cur(est, r"(?:^|-)DataTransfer-Out-Bytes$", ("AmazonEC2", "AWSELB"))
    cur_by_region = cur.groupby("product_region_code").line_item_usage_amount.sum()
    assert set(by_region.index) == set(cur_by_region.index)
    for region, gb in by_region.items():
        _close(gb, cur_by_region[region])


def test_nat_gateway_processed_bytes(est):
    f = est.flows
    nat = est.enis[est.enis.type == "nat_gateway"]
    on_nat = f[f.interface_id.isin(nat.interface_id)]
    processed = on_nat[on_nat.dstaddr == on_nat.interface_id.map(nat.set_index("interface_id").ip)]
    gb = processed.bytes.sum() / GIB
    cur = _cur(est, r"NatGateway-Bytes$")
    _close(gb, cur.line_item_usage_amount.sum())
    log_dollars = sum(
        processed[processed.interface_id.map(nat.set_index("interface_id").region) == r].bytes.sum()
        / GIB
        * NAT_PROCESSING_PER_GB[r]
        for r in nat.region.unique()
    )
    _close(log_dollars, cur.line_item_unblended_cost.sum())


def test_inter_az_regional_bytes_both_directions(est):
    f = est.flows
    src, dst = f.srcaddr.map(est.ip_to_eni), f.dstaddr.map(est.ip_to_eni)
    both = src.notna() & dst.notna()
    cross = both & np.array(
        [
            isinstance(s, dict) and isinstance(d, dict) and s["region"] == d["region"] and s["az_id"] != d["az_id"]
            for s, d in zip(src, dst, strict=True)
        ]
    )
    gb = f[cross].bytes.sum() / GIB
    cur = _cur(est, r"DataTransfer-Regional-Bytes$")
    _close(gb, cur.line_item_usage_amount.sum())
    _close(gb * INTER_AZ_PER_GB_EACH_WAY, cur.line_item_unblended_cost.sum())


def test_inter_region_out(est):
    f = est.flows
    src, dst = f.srcaddr.map(est.ip_to_eni), f.dstaddr.map(est.ip_to_eni)
    inter = [
        isinstance(s, dict) and isinstance(d, dict) and s["region"] != d["region"]
        for s, d in zip(src, dst, strict=True)
    ]
    sel = pd.Series(inter, index=f.index) & est.egress(f)
    gb = f[sel].bytes.sum() / GIB
    cur = _cur(est, r"^[A-Z0-9]+-[A-Z0-9]+-AWS-Out-Bytes$", ("AmazonEC2",))
    _close(gb, cur.line_item_usage_amount.sum())
    regions = [s["region"] for s in src[sel]]
    dollars = sum(b / GIB * INTER_REGION_OUT_PER_GB[r] for b, r in zip(f[sel].bytes, regions, strict=True))
    _close(dollars, cur.line_item_unblended_cost.sum())


def test_s3_internet_egress_and_replication(est):
    s3 = est.s3
    internet = s3[s3.remote_ip.map(est.aws.is_internet)]
    cur = _cur(est, r"DataTransfer-Out-Bytes$", ("AmazonS3",))
    _close(internet.bytes_sent.sum() / GIB, cur.line_item_usage_amount.sum())
    replicas = s3[(s3.operation == "REST.PUT.OBJECT") & s3.requester.str.contains("s3-replication")]
    cur = _cur(est, r"-AWS-Out-Bytes$", ("AmazonS3",))
    _close(replicas.object_size.sum() / GIB, cur.line_item_usage_amount.sum())


def test_cloudfront_by_geography_and_internet_dollars(est):
    cf = est.cloudfront
    geo = cf["x-edge-location"].map(geography)
    assert geo.notna().all()
    by_geo = cf["sc-bytes"].astype("int64").groupby(geo).sum() / GIB
    cur = _cur(est, r"^[A-Z]{2}-DataTransfer-Out-Bytes$", ("AmazonCloudFront",))
    cur_by_geo = cur.groupby(cur.line_item_usage_type.str[:2]).line_item_usage_amount.sum()
    assert set(by_geo.index) == set(cur_by_geo.index)
    for g, gb in by_geo.items():
        _close(gb, cur_by_geo[g])
    # Dollars through the tiers: one month, so per-geography totals decide the tiered cost.
    total = by_geo.sum()
    free_share = min(total, CLOUDFRONT_FREE_GB) / total
    dollars = sum(tiered_usd(gb * (1 - free_share), CLOUDFRONT_TIERS[g]) for g, gb in by_geo.items())
    _close(dollars, cur.line_item_unblended_cost.sum())


def test_internet_dollars_with_free_tier_and_tiers(est):
    """All internet egress (EC2, ELB, NAT, S3) shares one monthly meter per region and one free allowance."""
    cur = _cur(est, r"(?:^|-)DataTransfer-Out-Bytes$", ("AmazonEC2", "AWSELB", "AmazonS3"))
    gb_by_region = cur.groupby("product_region_code").line_item_usage_amount.sum()
    # The estate's regions (US and EU) share one tier table, so where the free allowance lands cannot change the total.
    assert set(gb_by_region.index) <= {"us-east-1", "us-west-2", "eu-west-1"}
    total = gb_by_region.sum()
    free_left = INTERNET_FREE_GB
    dollars = 0.0
    for gb in gb_by_region:
        free = min(free_left, gb)
        free_left -= free
        dollars += tiered_usd(gb - free, INTERNET_TIERS_US_EU)
    assert total > INTERNET_FREE_GB
    _close(dollars, cur.line_item_unblended_cost.sum())


def test_the_oracle_stands_apart():
    """The bill oracle shares no code with what it checks: no import of pricing, usage types or attribution."""
    import ast
    from pathlib import Path

    forbidden = ("egress_optimizer.pricing", "egress_optimizer.usage_types", "egress_optimizer.attribution")
    here = Path(__file__).resolve().parent
    for path in (here / "test_estate_consistency.py", here / "estate_oracle.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            assert not any(n.startswith(forbidden) for n in names), (path.name, names)
