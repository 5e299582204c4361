"""Every unexplained dollar gets the first reason that holds, and the reasons add up to the total exactly."""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import pytest

from egress_optimizer.attribution.explain import explain
from egress_optimizer.attribution.log_coverage import LogCoverage

ACCT, REGION = "111122223333", "us-east-1"


def _coverage() -> LogCoverage:
    eni = {
        "NetworkInterfaceId": "eni-1",
        "OwnerId": ACCT,
        "VpcId": "vpc-dark",
        "SubnetId": "subnet-1",
        "InterfaceType": "interface",
        "Attachment": {"InstanceId": "i-dark"},
    }
    logged_eni = {**eni, "NetworkInterfaceId": "eni-2", "VpcId": "vpc-lit", "Attachment": {"InstanceId": "i-lit"}}
    docs = {
        f"{ACCT}/{REGION}/ec2/describe_vpcs.json": json.dumps(
            {"Vpcs": [{"VpcId": "vpc-dark", "OwnerId": ACCT}, {"VpcId": "vpc-lit", "OwnerId": ACCT}]}
        ),
        f"{ACCT}/{REGION}/ec2/describe_flow_logs.json": json.dumps(
            {"FlowLogs": [{"ResourceId": "vpc-lit", "FlowLogStatus": "ACTIVE", "TrafficType": "ALL"}]}
        ),
        f"{ACCT}/{REGION}/ec2/describe_network_interfaces.json": json.dumps({"NetworkInterfaces": [eni, logged_eni]}),
        "s3/buckets.json": json.dumps(
            {"Buckets": [{"Name": "quiet-bucket", "OwnerAccountId": ACCT, "GetBucketLogging": {}}]}
        ),
    }
    return LogCoverage.from_documents(docs)


def _row(hour: str, resource: str, product: str, billed: float, attributed: float, billed_gb=None, attributed_gb=None):
    return {
        "hour": pd.Timestamp(hour, tz="UTC"),
        "account": ACCT,
        "region": REGION,
        "usage_type": "DataTransfer-Out-Bytes",
        "resource_id": resource,
        "product": product,
        "billed_usd": billed,
        "billed_net_usd": billed * 0.94,
        "billed_gb": billed / 0.09 if billed_gb is None else billed_gb,
        "attributed_usd": attributed,
        "attributed_gb": attributed / 0.09 if attributed_gb is None else attributed_gb,
    }


def test_each_difference_takes_the_first_reason_that_holds_and_they_add_up():
    rows = [
        _row("2026-10-01T10:00", "arn:aws:rds:us-east-1:111122223333:db:x", "AmazonRDS", 1.25, 0),
        _row("2026-10-01T10:00", "i-dark", "AmazonEC2", 2.5, 0),
        _row("2026-10-01T10:00", "quiet-bucket", "AmazonS3", 0.75, 0),
        # i-lit logs every hour but 12:00, which the bill still shows
        *[_row(f"2026-10-01T{h:02d}:00", "i-lit", "AmazonEC2", 0.9, 0.9) for h in (10, 11, 13)],
        _row("2026-10-01T12:00", "i-lit", "AmazonEC2", 0.9, 0.0),
        # the same bytes at another price (tiers met in another order): 10 GB billed $0.90, attributed $0.85
        _row("2026-10-01T14:00", "i-lit", "AmazonEC2", 0.9, 0.85, billed_gb=10, attributed_gb=10),
        # a resource the inventory does not know
        _row("2026-10-01T10:00", "i-stranger", "AmazonEC2", 0.3, 0),
    ]
    ex = explain(pd.DataFrame(rows), _coverage())
    got = {(x["reason"], x["detail"]): x["usd"] for x in ex.by_reason}
    assert got[("service_without_logs", "AmazonRDS")] == Decimal("1.25")
    assert got[("no_flow_logs", "vpc-dark")] == Decimal("2.5")
    assert got[("no_access_logs", "quiet-bucket")] == Decimal("0.75")
    assert got[("delivery_gap", "vpc-lit 2026-10-01T12:00Z")] == Decimal("0.9")
    assert got[("not_in_inventory", "i-stranger")] == Decimal("0.3")
    assert got[("tier_allocation", None)] == Decimal("0.05")
    assert got[("unexplained", None)] == 0
    assert sum(got.values()) == ex.unexplained_usd == Decimal("5.75")


def test_bytes_counted_on_the_neighbouring_day_are_timing_and_the_rest_unexplained():
    rows = [
        # a flow record straddling midnight: 0.2 GB billed on day 1, attributed on day 2 (1 % of the day)
        _row("2026-10-01T23:00", "i-lit", "AmazonEC2", 1.8, 1.782, billed_gb=20, attributed_gb=19.8),
        _row("2026-10-02T00:00", "i-lit", "AmazonEC2", 1.8, 1.818, billed_gb=20, attributed_gb=20.2),
        # a day whose bytes are half missing with no named cause
        _row("2026-10-03T05:00", "i-lit", "AmazonEC2", 0.9, 0.45, billed_gb=10, attributed_gb=5),
    ]
    ex = explain(pd.DataFrame(rows), _coverage())
    got = {x["reason"]: x["usd"] for x in ex.by_reason}
    assert got.get("timing", Decimal(0)) == 0  # +0.018 on one day, -0.018 on the next: nets to nothing
    assert got["unexplained"] == Decimal("0.45")
    assert sum(got.values()) == ex.unexplained_usd
    parts = ex.parts.groupby(["day", "reason"]).usd.sum()
    assert parts[(pd.Timestamp("2026-10-01", tz="UTC"), "timing")] == pytest.approx(0.018)


def test_a_vpc_logged_by_subnet_is_not_called_unlogged_and_a_shared_vpc_keeps_its_owners_flow_log():
    docs = {
        "organization.json": "{}",
        f"{ACCT}/{REGION}/ec2/describe_vpcs.json": json.dumps(
            {"Vpcs": [{"VpcId": "vpc-part", "OwnerId": ACCT}, {"VpcId": "vpc-shared", "OwnerId": ACCT}]}
        ),
        f"{ACCT}/{REGION}/ec2/describe_flow_logs.json": json.dumps(
            {"FlowLogs": [{"ResourceId": "subnet-a"}, {"ResourceId": "vpc-shared"}]}
        ),
        f"{ACCT}/{REGION}/ec2/describe_network_interfaces.json": json.dumps(
            {
                "NetworkInterfaces": [
                    {
                        "NetworkInterfaceId": "eni-a",
                        "OwnerId": ACCT,
                        "VpcId": "vpc-part",
                        "SubnetId": "subnet-a",
                        "Attachment": {"InstanceId": "i-a"},
                    }
                ]
            }
        ),
        # a participant account sees the shared VPC but lists no flow log of it
        f"444455556666/{REGION}/ec2/describe_vpcs.json": json.dumps(
            {"Vpcs": [{"VpcId": "vpc-shared", "OwnerId": ACCT}]}
        ),
        f"444455556666/{REGION}/ec2/describe_flow_logs.json": json.dumps({"FlowLogs": []}),
    }
    cov = LogCoverage.from_documents(docs)
    assert cov.sources["vpc-part"].logged is None and cov.sources["vpc-shared"].logged is True
    assert cov.unlogged() == []


def test_every_product_attribution_prices_counts_as_logged():
    import re
    from pathlib import Path

    from egress_optimizer.attribution import attribute
    from egress_optimizer.attribution.explain import LOGGED_PRODUCTS

    text = Path(attribute.__file__).read_text()
    products = set(re.findall(r'"(?:=)?(Amazon\w+|AWS\w+)"', text))
    assert products and products <= LOGGED_PRODUCTS
