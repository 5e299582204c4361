"""Dollars for attributed rows: one SQL text that DuckDB and Spark SQL both run.

Most data transfer has one price per GB for its usage type and region (NAT processing, inter-AZ, inter-region
by pair, endpoints, Direct Connect, transit gateways, CloudFront origin fetches at $0). Internet egress and
CloudFront are tiered the way AWS bills them: through the calendar month, per payer, a free allowance shared
by every region (``internet``) or every edge geography (``cloudfront``) is used first, then the paid bytes
climb the region's (or geography's) tier ladder. Rows are metered in billing order (``PRICING_ORDER``), and
the meter is carried between runs: ``meter_before`` says how many bytes each pool had taken in the month
before the rows priced now, so an hour priced on its own costs what it costs in the whole month.

Cumulative sums are taken in bytes (integers), so the result does not depend on how an engine adds them up;
only the last step (bytes to GB times a rate) is floating point.

Inputs (views): ``unpriced`` (attributed rows without ``usd``, plus ``_rid``, a row id), ``price_keys`` (per
product, usage type, region and peer region: a flat ``rate`` or a ``free_pool``/``free_bytes``/``ladder``),
``ladders`` (ladder, lo_bytes, hi_bytes, rate) and ``meter_before`` (period, pool, bytes_before).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from egress_optimizer.pricing import PriceCatalog
from egress_optimizer.pricing.catalog import GIB, Tiers

# Billing order inside an hour: a row's own columns, so the free tier lands on the same rows in any engine.
PRICING_ORDER = [
    "hour", "account", "region", "usage_type", "resource_id", "destination", "peer_region", "peer", "bytes",
    "packets", "records",
]  # fmt: skip
KEY_COLUMNS = ["product", "usage_type", "region", "peer_region"]
INTERNET_POOL, CLOUDFRONT_POOL = "internet", "cloudfront"
NO_LIMIT = 2**62  # the last tier's upper bound, in bytes
_ORDER = ", ".join(f"{c} ASC NULLS LAST" for c in PRICING_ORDER)
_PERIOD = "(year(hour) * 100 + month(hour))"  # the billing month as 202610 (both engines spell it so)

PRICE_SQL = f"""
WITH keyed AS (
  SELECT u.*, {_PERIOD} AS period, k.rate, k.free_pool, k.free_bytes, k.ladder
  FROM unpriced u
  LEFT JOIN price_keys k
    ON k.product = u.product AND k.usage_type = u.usage_type AND k.region IS NOT DISTINCT FROM u.region
   AND k.peer_region IS NOT DISTINCT FROM u.peer_region
), metered AS (
  SELECT keyed.*, coalesce(fm.bytes_before, 0) AS free_meter, coalesce(lm.bytes_before, 0) AS ladder_meter
  FROM keyed
  LEFT JOIN meter_before fm ON fm.period = keyed.period AND fm.pool = keyed.free_pool
  LEFT JOIN meter_before lm ON lm.period = keyed.period AND lm.pool = keyed.ladder
), free AS (
  SELECT metered.*,
         free_meter + coalesce(sum(bytes) OVER (PARTITION BY period, free_pool ORDER BY {_ORDER}
                                               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS free_before
  FROM metered
), paid AS (
  SELECT free.*,
         CASE WHEN ladder IS NULL THEN 0
              ELSE bytes - greatest(0, least(bytes, coalesce(free_bytes, 0) - free_before)) END AS paid_bytes
  FROM free
), climbed AS (
  SELECT paid.*,
         ladder_meter + coalesce(sum(paid_bytes) OVER (PARTITION BY period, ladder ORDER BY {_ORDER}
                                                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
           AS ladder_before
  FROM paid
), tiered AS (
  SELECT c._rid,
         sum(l.rate * CAST(greatest(0, least(l.hi_bytes, c.ladder_before + c.paid_bytes)
                                       - greatest(l.lo_bytes, c.ladder_before)) AS DOUBLE) / {GIB}.0) AS usd
  FROM climbed c JOIN ladders l ON l.ladder = c.ladder
  WHERE c.paid_bytes > 0
  GROUP BY c._rid
)
SELECT c.*, CASE WHEN c.ladder IS NULL THEN c.gb * coalesce(c.rate, 0.0) ELSE coalesce(t.usd, 0.0) END AS usd
FROM climbed c LEFT JOIN tiered t ON t._rid = c._rid
"""

# What each pool took per hour: the meter carried to the next run (free pools count all their bytes, a
# ladder its paid bytes). Reads the priced rows (``priced``).
METER_SQL = """
SELECT period, free_pool AS pool, hour, sum(bytes) AS bytes
FROM priced WHERE free_pool IS NOT NULL GROUP BY period, free_pool, hour
UNION ALL
SELECT period, ladder AS pool, hour, sum(paid_bytes) AS bytes
FROM priced WHERE ladder IS NOT NULL GROUP BY period, ladder, hour
"""


def _price_key(product: str, usage: str, region: str | None, peer: str | None, catalog: PriceCatalog) -> dict:
    """A flat rate, or the free pool and tier ladder a row climbs."""
    if product == "AmazonCloudFront":
        geo = usage.split("-", 1)[0]
        return {"free_pool": CLOUDFRONT_POOL, "free_gb": catalog.cloudfront_free_gb, "ladder": f"cloudfront:{geo}"}
    if product == "AWSDirectConnect":
        return {"rate": direct_connect_out_per_gb(catalog, region)}
    if usage.endswith("TransitGateway-Bytes"):
        return {"rate": catalog.transit_gateway_per_gb}
    if usage.endswith("CloudFront-Out-Bytes"):  # an AWS origin sending to CloudFront
        return {"rate": catalog.cloudfront_origin_fetch_per_gb}
    if usage.endswith("DataTransfer-Out-Bytes"):
        return {"free_pool": INTERNET_POOL, "free_gb": catalog.internet_free_gb, "ladder": f"internet:{region}"}
    if usage.endswith("NatGateway-Bytes"):
        return {"rate": catalog.nat_per_gb(region)}
    if usage.endswith("Regional-Bytes"):
        return {"rate": catalog.inter_az_each_direction}
    if usage.endswith("AWS-Out-Bytes"):
        return {"rate": catalog.inter_region(region, peer) if peer else 0.0}
    if usage.endswith("VpcEndpoint-Bytes"):
        return {"rate": catalog.interface_endpoint_per_gb}
    return {"rate": 0.0}


def direct_connect_out_per_gb(catalog: PriceCatalog, region: str | None) -> float:
    """Direct Connect data transfer out from ``region`` (private/transit virtual interface): the table's
    ``direct_connect_out.from_region`` entry, else its default."""
    dx = catalog.raw["direct_connect_out"]
    return float(dx.get("from_region", {}).get(region, dx["default"]))


def _ladder(name: str, catalog: PriceCatalog) -> Tiers:
    kind, key = name.split(":", 1)
    return catalog.cloudfront_tiers(key) if kind == CLOUDFRONT_POOL else catalog.internet_egress_tiers(key)


def price_tables(keys: Iterable[tuple], catalog: PriceCatalog) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``price_keys`` and ``ladders`` for the distinct (product, usage type, region, peer region) of the rows."""
    rows = []
    for product, usage, region, peer in sorted(set(keys), key=lambda k: tuple("" if v is None else v for v in k)):
        spec = _price_key(product, usage, region, peer, catalog)
        free_gb = spec.get("free_gb")
        rows.append(
            {
                "product": product,
                "usage_type": usage,
                "region": region,
                "peer_region": peer,
                "rate": spec.get("rate"),
                "free_pool": spec.get("free_pool"),
                "free_bytes": None if free_gb is None else round(free_gb * GIB),
                "ladder": spec.get("ladder"),
            }
        )
    keyed = pd.DataFrame(rows, columns=[*KEY_COLUMNS, "rate", "free_pool", "free_bytes", "ladder"])
    keyed = keyed.astype({"rate": "float64", "free_bytes": "Int64"})
    tiers = []
    for name in sorted(keyed.ladder.dropna().unique()):
        lo = 0
        for upper, rate in _ladder(name, catalog):
            hi = NO_LIMIT if upper is None else round(upper * GIB)
            tiers.append({"ladder": name, "lo_bytes": lo, "hi_bytes": hi, "rate": float(rate)})
            lo = hi
    ladders = pd.DataFrame(tiers, columns=["ladder", "lo_bytes", "hi_bytes", "rate"]).astype(
        {"lo_bytes": "int64", "hi_bytes": "int64"}
    )
    return keyed, ladders


def price_keys_of(rows: pd.DataFrame) -> list[tuple]:
    """The distinct pricing keys of attributed rows."""
    k = rows[KEY_COLUMNS].drop_duplicates()
    return [tuple(None if pd.isna(v) else v for v in r) for r in k.itertuples(index=False)]


METER_COLUMNS = ["period", "pool", "bytes_before"]


def price_rows(
    rows: pd.DataFrame, catalog: PriceCatalog, meter_before: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``rows`` (attributed, without ``usd``) priced with the embedded engine, in billing order; and what each
    pool took per hour (the ``tier_meter`` rows of these hours). ``meter_before``: (period, pool,
    bytes_before) for the pools' bytes earlier in the month."""
    import numpy as np

    from egress_optimizer.lake import embedded_engine

    if rows.empty:
        meter = pd.DataFrame(
            {
                "period": pd.Series(dtype="int32"),
                "pool": pd.Series(dtype="str"),
                "hour": pd.Series(dtype="datetime64[us, UTC]"),
                "bytes": pd.Series(dtype="int64"),
            }
        )
        return rows.assign(usd=pd.Series(dtype="float64")), meter
    con = embedded_engine()
    keyed, ladders = price_tables(price_keys_of(rows), catalog)
    con.register("unpriced", rows.assign(_rid=np.arange(len(rows), dtype="int64")))
    con.register("price_keys", keyed)
    con.register("ladders", ladders)
    con.register("meter_before", meter_before[METER_COLUMNS] if len(meter_before) else _empty_meter())
    con.execute(f"CREATE TEMP TABLE priced AS {PRICE_SQL}")
    order = ", ".join(f"{c} ASC NULLS LAST" for c in PRICING_ORDER)
    columns = ", ".join([*rows.columns, "usd"])
    priced = con.sql(f"SELECT {columns} FROM priced ORDER BY {order}, _rid").to_arrow_table().to_pandas()
    meter = con.sql(METER_SQL + " ORDER BY hour, pool").to_arrow_table().to_pandas()
    return priced, meter.astype({"period": "int32", "bytes": "int64"})


def _empty_meter() -> pd.DataFrame:
    return pd.DataFrame(
        {"period": pd.Series(dtype="int32"), "pool": pd.Series(dtype="str"), "bytes_before": pd.Series(dtype="int64")}
    )
