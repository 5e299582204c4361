"""`egress pricing refresh` against the AWS Price List API, stubbed with botocore's Stubber."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from egress_optimizer.cli import run
from egress_optimizer.pricing import load_catalog
from egress_optimizer.pricing.refresh import refresh_table


def _item(attrs: dict, dims: list[tuple[str, str, str]], family: str = "Data Transfer") -> str:
    return json.dumps(
        {
            "product": {"productFamily": family, "attributes": attrs, "sku": "SKU"},
            "terms": {
                "OnDemand": {
                    "SKU.T": {
                        "priceDimensions": {
                            f"SKU.T.{i}": {"beginRange": b, "endRange": e, "unit": "GB", "pricePerUnit": {"USD": p}}
                            for i, (b, e, p) in enumerate(dims)
                        }
                    }
                }
            },
        }
    )


def _params(service: str, field: str, value: str, token: str | None = None) -> dict:
    p = {
        "ServiceCode": service,
        "Filters": [{"Type": "TERM_MATCH", "Field": field, "Value": value}],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    if token:
        p["NextToken"] = token
    return p


def _stubbed():
    client = boto3.client("pricing", region_name="us-east-1")
    stub = Stubber(client)
    inter = [
        _item(
            {"transferType": "InterRegion Outbound", "fromRegionCode": "us-east-1", "toRegionCode": "us-west-2"},
            [("0", "Inf", "0.0200000000")],
        ),
        _item(
            {"transferType": "InterRegion Outbound", "fromRegionCode": "us-east-1", "toRegionCode": "us-east-2"},
            [("0", "Inf", "0.0100000000")],
        ),
    ]
    stub.add_response(
        "get_products",
        {"PriceList": inter[:1], "FormatVersion": "aws_v1", "NextToken": "p2"},
        _params("AWSDataTransfer", "transferType", "InterRegion Outbound"),
    )
    stub.add_response(
        "get_products",
        {
            "PriceList": [
                *inter[1:],
                _item(
                    {
                        "transferType": "InterRegion Outbound",
                        "fromRegionCode": "ap-southeast-1",
                        "toRegionCode": "us-east-1",
                    },
                    [("0", "Inf", "0.0850000000")],
                ),
            ],
            "FormatVersion": "aws_v1",
        },
        _params("AWSDataTransfer", "transferType", "InterRegion Outbound", "p2"),
    )
    stub.add_response(
        "get_products",
        {
            "PriceList": [
                _item(
                    {"transferType": "AWS Outbound", "fromRegionCode": "eu-west-1", "toLocation": "External"},
                    [
                        ("0", "100", "0.0000000000"),
                        ("100", "10240", "0.0880000000"),
                        ("10240", "51200", "0.0840000000"),
                        ("51200", "Inf", "0.0600000000"),
                    ],
                )
            ],
            "FormatVersion": "aws_v1",
        },
        _params("AWSDataTransfer", "transferType", "AWS Outbound"),
    )
    stub.add_response(
        "get_products",
        {
            "PriceList": [_item({"transferType": "IntraRegion"}, [("0", "Inf", "0.0100000000")])],
            "FormatVersion": "aws_v1",
        },
        _params("AWSDataTransfer", "transferType", "IntraRegion"),
    )
    stub.add_response(
        "get_products",
        {
            "PriceList": [
                _item(
                    {"regionCode": "us-west-2", "usagetype": "USW2-NatGateway-Bytes"},
                    [("0", "Inf", "0.0460000000")],
                    "NAT Gateway",
                ),
                _item(
                    {"regionCode": "us-west-2", "usagetype": "USW2-NatGateway-Hours"},
                    [("0", "Inf", "0.0470000000")],
                    "NAT Gateway",
                ),
                _item(
                    {"regionCode": "us-west-2", "usagetype": "USW2-RegionalNatGateway-Bytes"},
                    [("0", "Inf", "0.9900000000")],
                    "NAT Gateway",
                ),
            ],
            "FormatVersion": "aws_v1",
        },
        _params("AmazonEC2", "productFamily", "NAT Gateway"),
    )
    return client, stub


def test_refresh_updates_prices_and_keeps_the_rest():
    client, stub = _stubbed()
    base = load_catalog()
    with stub:
        table, changes = refresh_table(client, base, "2026-11-22")
    stub.assert_no_pending_responses()
    assert table["version"] == "2026-11-22" and "Price List API" in table["source"]
    assert ["ap-southeast-1", "us-east-1", 0.085] not in table["inter_region"]["pair_overrides"]
    assert table["inter_region"]["from_region"]["ap-southeast-1"] == 0.085
    assert ["us-east-1", "us-east-2", 0.01] in table["inter_region"]["pair_overrides"]
    assert table["internet_egress"]["tiers_gb"]["eu-west-1"] == [[10240.0, 0.088], [51200.0, 0.084], [None, 0.06]]
    assert table["nat_gateway"]["us-west-2"] == {"per_gb": 0.046, "per_hour": 0.047}  # Regional NAT ignored
    # Everything the API did not return is kept from the snapshot.
    assert table["cloudfront"] == base.raw["cloudfront"]
    assert table["internet_egress"]["tiers_gb"]["us-east-1"] == base.raw["internet_egress"]["tiers_gb"]["us-east-1"]
    assert any("ap-southeast-1" in c for c in changes)


def test_cli_writes_a_table_that_loads(tmp_path, monkeypatch, capsys):
    import egress_optimizer.cli.pricing as cli_pricing

    client, stub = _stubbed()
    monkeypatch.setattr(cli_pricing, "_pricing_client", lambda: client)
    out = tmp_path / "prices.json"
    with stub:
        assert run(["pricing", "refresh", "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["changes"]
    monkeypatch.setenv("EGRESS_PRICE_TABLE", str(out))
    cat = load_catalog()
    assert cat.nat_per_gb("us-west-2") == 0.046 and cat.inter_region("ap-southeast-1", "us-east-1") == 0.085


def test_api_errors_are_one_line(tmp_path, monkeypatch, capsys):
    import egress_optimizer.cli.pricing as cli_pricing

    client = boto3.client("pricing", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_client_error("get_products", service_error_code="AccessDeniedException", service_message="denied")
    monkeypatch.setattr(cli_pricing, "_pricing_client", lambda: client)
    with stub:
        assert run(["pricing", "refresh", "--out", str(tmp_path / "p.json")]) == 1
    err = capsys.readouterr().err
    assert "Price List API call failed" in err and "Traceback" not in err
    assert not (tmp_path / "p.json").exists()


@pytest.fixture(autouse=True)
def _no_env_table(monkeypatch):
    monkeypatch.delenv("EGRESS_PRICE_TABLE", raising=False)
