"""Why billed data-transfer dollars are not attributed: a named reason for every unexplained dollar.

Bill and attribution are compared per hour and billed resource. Each difference takes the first reason
that holds, each a general fact about what logs can show:

- ``service_without_logs``: the line belongs to a service none of the logs we read covers (a managed
  database's replication, API Gateway, Lambda: no flow log carries their traffic);
- ``no_flow_logs`` / ``no_access_logs`` / ``no_cloudfront_logs``: the resource's VPC, bucket or distribution
  writes no log (named, from the inventory);
- ``not_in_inventory``: a logged service, but a resource the inventory does not know;
- ``delivery_gap``: the source logs every other hour, but for this hour nothing of it arrived;
- ``timing``: the same bytes counted in a neighbouring day (a flow record that straddles midnight);
- ``tier_allocation``: the bytes agree, the price does not. Tiers and the free tier are metered across the
  whole organisation in an order the bill does not publish, so when part of the usage is invisible (above),
  the visible part falls in different tiers;
- ``unexplained``: what no reason covers.

At net cost, ``discount`` adds the enterprise discount the usage lines carry (net minus list). The amounts of
the reasons sum to the unexplained total exactly (decimal arithmetic, to the micro-dollar).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from egress_optimizer.attribution.log_coverage import LogCoverage

# Services whose data transfer the logs we read can show (flow logs, S3 access logs, CloudFront logs): every
# product attribution prices (a test holds them together), and ECS, whose tasks' ENIs write flow logs.
LOGGED_PRODUCTS = {"AmazonEC2", "AmazonVPC", "AWSELB", "AWSDirectConnect", "AmazonS3", "AmazonCloudFront", "AmazonECS"}
NO_LOG_REASON = {"vpc": "no_flow_logs", "bucket": "no_access_logs", "distribution": "no_cloudfront_logs"}
REASONS = (
    "service_without_logs",
    "no_flow_logs",
    "no_access_logs",
    "no_cloudfront_logs",
    "not_in_inventory",
    "delivery_gap",
    "timing",
    "tier_allocation",
    "unexplained",
)
TIMING_TOLERANCE = 0.02  # a resource-day whose bytes agree within 2 % has only boundary (timing) differences
MICRODOLLAR = Decimal("0.000001")
KEYS = ["day", "account", "region", "usage_type"]


@dataclass
class Explanation:
    rows: pd.DataFrame  # per hour and billed resource: billed, attributed, source, reason, detail, diff_usd
    parts: pd.DataFrame  # per day, account, region, usage type, resource: reason, detail, usd
    by_reason: list[dict]  # reason, detail, usd (list), summing exactly to unexplained_usd
    unexplained_usd: Decimal


def label(hourly: pd.DataFrame, coverage: LogCoverage) -> pd.DataFrame:
    """``hourly``: per hour, account, region, usage type, resource and product, billed and attributed dollars
    and GB. Returns it with ``source`` (the log source), ``reason`` and ``detail`` for the rows whose whole
    difference one reason explains; the others get reason None (split later by ``split_bytes_and_price``)."""
    df = hourly.copy()
    by_resource = {r: coverage.source_of(r) for r in df.resource_id.unique()}
    df["source"] = df.resource_id.map({r: s.id for r, s in by_resource.items() if s})
    df["reason"], df["detail"] = None, None
    service = ~df["product"].isin(LOGGED_PRODUCTS) & df["product"].notna()
    df.loc[service, "reason"] = "service_without_logs"
    df.loc[service, "detail"] = df["product"][service]
    unlogged = {r: NO_LOG_REASON[s.kind] for r, s in by_resource.items() if s and s.logged is False}
    dark = df.reason.isna() & df.resource_id.isin(unlogged)
    df.loc[dark, "reason"] = df.resource_id[dark].map(unlogged)
    df.loc[dark, "detail"] = df.source[dark]
    unknown = df.reason.isna() & df.source.isna() & (df.attributed_usd == 0) & (df.resource_id != "")
    df.loc[unknown, "reason"] = "not_in_inventory"
    df.loc[unknown, "detail"] = df.resource_id[unknown]
    gap = _delivery_gaps(df)
    df.loc[gap, "reason"] = "delivery_gap"
    df.loc[gap, "detail"] = df.source[gap] + " " + df.hour[gap].dt.strftime("%Y-%m-%dT%H:00Z")
    return df


def _delivery_gaps(df: pd.DataFrame) -> pd.Series:
    """Rows of a logged source's hour in which the bill shows its traffic and no record of it arrived, while
    records of it arrived in other hours (an hourly bill only: a daily one puts the day's usage at midnight)."""
    open_rows = df.reason.isna() & df.source.notna() & df.get("hourly", True)
    per = df[open_rows].groupby(["source", "hour"]).agg(billed=("billed_usd", "sum"), seen=("attributed_gb", "sum"))
    per = per.reset_index()
    active = per.groupby("source").seen.transform("sum") > 0
    gaps = per[(per.billed > 0) & (per.seen == 0) & active]
    keys = set(zip(gaps.source, gaps.hour, strict=True))
    return open_rows & pd.Series([k in keys for k in zip(df.source, df.hour, strict=True)], index=df.index)


def split_bytes_and_price(df: pd.DataFrame) -> pd.DataFrame:
    """The rows no single reason explains, per resource and day: the byte difference priced at the billed rate
    is ``timing`` when the day's bytes agree within the tolerance (else ``unexplained``); the rest of the
    difference is ``tier_allocation``."""
    keys = [*KEYS, "resource_id"]
    daily = df.groupby(keys, dropna=False)[["billed_usd", "attributed_usd", "billed_gb", "attributed_gb"]].sum()
    daily = daily.reset_index()
    gb = daily.billed_gb.where(daily.billed_gb > 0, daily.attributed_gb)
    usd = daily.billed_usd.where(daily.billed_gb > 0, daily.attributed_usd)
    rate = np.where(gb > 0, usd / gb.where(gb > 0, 1), 0.0)
    byte_usd = (daily.billed_gb - daily.attributed_gb) * rate
    price_usd = (daily.billed_usd - daily.attributed_usd) - byte_usd
    close = (daily.billed_gb - daily.attributed_gb).abs() <= TIMING_TOLERANCE * daily[
        ["billed_gb", "attributed_gb"]
    ].max(axis=1)
    parts = [
        daily[keys].assign(reason=np.where(close, "timing", "unexplained"), detail=None, usd=byte_usd),
        daily[keys].assign(reason="tier_allocation", detail=None, usd=price_usd),
    ]
    return pd.concat(parts, ignore_index=True)


def explain(hourly: pd.DataFrame, coverage: LogCoverage) -> Explanation:
    df = label(hourly, coverage)
    df["day"] = df.hour.dt.floor("D")
    df["diff_usd"] = df.billed_usd - df.attributed_usd
    named = df[df.reason.notna()]
    parts = pd.concat(
        [
            named.groupby([*KEYS, "resource_id", "reason", "detail"], dropna=False)
            .diff_usd.sum()
            .rename("usd")
            .reset_index(),
            split_bytes_and_price(df[df.reason.isna()]),
        ],
        ignore_index=True,
    )
    total = dollars(df.diff_usd.sum())
    summed = parts.groupby(["reason", "detail"], dropna=False).usd.sum().reset_index()
    by_reason = []
    for r in summed.sort_values(["reason", "detail"], key=_reason_order).itertuples(index=False):
        if r.reason != "unexplained" and dollars(r.usd) != 0:
            by_reason.append(
                {"reason": r.reason, "detail": None if pd.isna(r.detail) else r.detail, "usd": dollars(r.usd)}
            )
    # The residual is what no reason covers, so the amounts add up to the total to the micro-dollar.
    left = total - sum((x["usd"] for x in by_reason), Decimal(0))
    by_reason.append({"reason": "unexplained", "detail": None, "usd": left})
    return Explanation(df, parts, by_reason, total)


def _reason_order(col: pd.Series) -> pd.Series:
    return col.map({r: i for i, r in enumerate(REASONS)}) if col.name == "reason" else col.fillna("")


def dollars(x: float) -> Decimal:
    """A dollar amount as a decimal, to the micro-dollar."""
    return Decimal(repr(float(x))).quantize(MICRODOLLAR)
