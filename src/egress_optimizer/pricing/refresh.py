"""Refresh the price table from the AWS Price List API (boto3 ``pricing.get_products``).

The shipped table is the offline default; a refresh starts from it and replaces every price the API
returns, so a partial answer (a region the API does not list, a product family it renamed) keeps the
snapshot's value instead of losing it. What changed is reported.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

from egress_optimizer.pricing.catalog import PriceCatalog

INF = float("inf")


def _products(client: Any, service: str, filters: dict[str, str]) -> Iterator[dict]:
    token = None
    while True:
        kwargs: dict[str, Any] = {
            "ServiceCode": service,
            "Filters": [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()],
            "FormatVersion": "aws_v1",
            "MaxResults": 100,
        }
        if token:
            kwargs["NextToken"] = token
        page = client.get_products(**kwargs)
        for item in page.get("PriceList", []):
            yield json.loads(item) if isinstance(item, str) else item
        token = page.get("NextToken")
        if not token:
            return


def _dimensions(item: dict) -> list[tuple[float, float, float]]:
    """(begin GB, end GB, USD per unit) of an item's on-demand price dimensions, sorted by begin."""
    dims = []
    for term in item.get("terms", {}).get("OnDemand", {}).values():
        for d in term.get("priceDimensions", {}).values():
            end = d.get("endRange", "Inf")
            dims.append(
                (float(d.get("beginRange", 0)), INF if end == "Inf" else float(end), float(d["pricePerUnit"]["USD"]))
            )
    return sorted(dims)


def _tiers(dims: list[tuple[float, float, float]]) -> list[list]:
    """Price dimensions -> the table's tier format ``[[upper GB or None, price], ...]``.

    A leading $0 dimension is the free allowance, which the table keeps separately."""
    if dims and dims[0][2] == 0.0 and len(dims) > 1:
        dims = dims[1:]
    return [[None if end == INF else end, price] for _, end, price in dims]


def refresh_table(client: Any, base: PriceCatalog, version: str) -> tuple[dict, list[str]]:
    """A new price table (same schema as the shipped one) and a list of human-readable changes."""
    table = copy.deepcopy(base.raw)
    changes: list[str] = []

    def note(what: str, old: object, new: object) -> None:
        if old != new:
            changes.append(f"{what}: {old} -> {new}")

    # Inter-region and internet data transfer.
    overrides: dict[tuple[str, str], float] = {}
    for item in _products(client, "AWSDataTransfer", {"transferType": "InterRegion Outbound"}):
        a = item["product"]["attributes"]
        dims = _dimensions(item)
        if dims and a.get("fromRegionCode") and a.get("toRegionCode"):
            overrides[(a["fromRegionCode"], a["toRegionCode"])] = dims[0][2]
    if overrides:
        by_source: dict[str, list[float]] = {}
        for (src, _), price in overrides.items():
            by_source.setdefault(src, []).append(price)
        from_region = table["inter_region"]["from_region"]
        for src, prices in by_source.items():
            common = max(set(prices), key=prices.count)  # the usual price from this source
            note(f"inter-region from {src}", from_region.get(src), common)
            from_region[src] = common
        table["inter_region"]["pair_overrides"] = sorted(
            [s, d, p] for (s, d), p in overrides.items() if p != from_region[s]
        )
    for item in _products(client, "AWSDataTransfer", {"transferType": "AWS Outbound"}):
        a = item["product"]["attributes"]
        if a.get("toLocation") != "External" or not a.get("fromRegionCode"):
            continue
        tiers = _tiers(_dimensions(item))
        region = a["fromRegionCode"]
        if tiers:
            note(f"internet egress tiers {region}", table["internet_egress"]["tiers_gb"].get(region), tiers)
            table["internet_egress"]["tiers_gb"][region] = tiers
    for item in _products(client, "AWSDataTransfer", {"transferType": "IntraRegion"}):
        dims = _dimensions(item)
        if dims:
            old = table["inter_az"]["per_gb_each_direction"]
            note("inter-AZ per GB", old, dims[0][2])
            table["inter_az"]["per_gb_each_direction"] = dims[0][2]
            break
    # NAT gateways: processing per GB and hours, per region.
    for item in _products(client, "AmazonEC2", {"productFamily": "NAT Gateway"}):
        a = item["product"]["attributes"]
        region, usage = a.get("regionCode"), a.get("usagetype", "")
        dims = _dimensions(item)
        if not region or not dims or "Regional" in usage:
            continue
        entry = table["nat_gateway"].setdefault(region, dict(table["nat_gateway"]["default"]))
        key = (
            "per_gb"
            if usage.endswith("NatGateway-Bytes")
            else "per_hour"
            if usage.endswith("NatGateway-Hours")
            else None
        )
        if key:
            note(f"NAT gateway {key} {region}", entry.get(key), dims[0][2])
            entry[key] = dims[0][2]
    table["version"] = version
    table["captured"] = version
    table["source"] = (
        f"AWS Price List API (pricing.get_products) on {version}; entries the API did not "
        f"return are kept from price table {base.version}"
    )
    return table, changes
