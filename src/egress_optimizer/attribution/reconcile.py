"""Reconcile attributed dollars with the bill: per account, region, usage type and day, at list and at net
cost, with every unexplained dollar given the reason it can be named by (``explain``) and a coverage summary
that says what to log to explain the rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import duckdb
import pandas as pd

from egress_optimizer.attribution.explain import KEYS, NO_LOG_REASON, Explanation, dollars, explain
from egress_optimizer.attribution.log_coverage import LogCoverage
from egress_optimizer.tables import ATTRIBUTED, CUR, QUARANTINE, S3_ACCESS

# Outbound data-transfer usage types (inbound types are free and left out); Direct Connect out is
# ``...DataXfer-Out`` (public VIF) or ``...DataXfer-Out:dc.N`` (private/transit VIF). Origin fetches by CloudFront
# (``...CloudFront-Out-Bytes``) are listed at $0 for AWS origins: kept, so their volume reaches ``cur_daily`` and
# their ($0) rows line up with the attributed ones.
BILLED_TRANSFER = (
    r"(DataTransfer-(Out|Regional)-Bytes|-AWS-Out-Bytes|NatGateway-Bytes|VpcEndpoint-Bytes|TransitGateway-Bytes"
    r"|CloudFront-Out-Bytes|-DataXfer-Out(:dc\.\d+)?)$"
)
# Line items that bill usage at list price; discounts, credits, refunds, fees and taxes are separate line types.
USAGE_LINE_TYPES = "'Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage'"
# The same account and month can arrive twice (a CUR 2.0 export from the payer and a legacy CUR from the member
# account): count each line item once, preferring CUR 2.0.
LINES_SQL = f"""
WITH versions AS (
  SELECT billing_period, usage_account_id, bool_or(cur_version = 'cur2') AS has_cur2 FROM {CUR.name} GROUP BY ALL
), lines AS (
  SELECT c.* FROM {CUR.name} c JOIN versions v USING (billing_period, usage_account_id)
  WHERE c.cur_version = CASE WHEN v.has_cur2 THEN 'cur2' ELSE 'legacy' END
)"""
BILL_SQL = f"""{LINES_SQL}, bill AS (
  SELECT * FROM lines WHERE coalesce(line_item_type, 'Usage') IN ({USAGE_LINE_TYPES})
)
"""


HOURS_PER_MONTH = 730.5  # 365.25 days x 24 / 12


@dataclass
class Reconciliation:
    rows: pd.DataFrame  # per KEYS: billed (list, net), attributed, unexplained (list, net), discount, reasons
    explanation: Explanation | None = None
    coverage: dict = field(default_factory=dict)
    credits: list[dict] = field(default_factory=list)  # account-level credits (no usage type)

    @property
    def billed_usd(self) -> float:
        return float(self.rows.billed_usd.sum())

    @property
    def billed_net_usd(self) -> float:
        return float(self.rows.billed_net_usd.sum())

    @property
    def attributed_usd(self) -> float:
        return float(self.rows.attributed_usd.sum())

    @property
    def unexplained_pct(self) -> float:
        """Absolute unexplained dollars as a percentage of the CUR's data-transfer dollars (list price)."""
        billed = self.billed_usd
        return 100.0 * float(self.rows.unexplained_usd.abs().sum()) / billed if billed else 0.0

    @property
    def unexplained_no_reason_pct(self) -> float:
        """The dollars no reason explains, as a percentage of the data-transfer bill (list)."""
        billed = self.billed_usd
        left = float(self.by_reason()[-1]["usd"]) if self.explanation else self.billed_usd - self.attributed_usd
        return 100.0 * abs(left) / billed if billed else 0.0

    @property
    def attributed_share(self) -> float:
        """Share of the billed data-transfer dollars (list) attributed to a resource."""
        billed = self.billed_usd
        return min(self.attributed_usd / billed, 1.0) if billed else 1.0

    def by_reason(self, net: bool = False) -> list[dict]:
        """The unexplained dollars by reason (and what it names), summing exactly to the unexplained total; at
        net cost the enterprise discount is one more reason."""
        out = list(self.explanation.by_reason) if self.explanation else []
        if net:
            discount = dollars(self.billed_net_usd) - dollars(self.billed_usd)
            out = [{"reason": "discount", "detail": None, "usd": discount}, *out]
        return out

    def reasons_json(self, net: bool = False) -> list[dict]:
        """``by_reason`` with the amounts as JSON numbers."""
        return [{"reason": x["reason"], "detail": x["detail"], "usd": float(x["usd"])} for x in self.by_reason(net)]

    def to_json(self) -> dict:
        rows = self.rows.assign(day=self.rows.day.astype(str))
        by_list, by_net = self.by_reason(), self.by_reason(net=True)
        money = [
            "attributed_usd",
            "billed_usd",
            "billed_net_usd",
            "unexplained_usd",
            "discount_usd",
            "unexplained_net_usd",
        ]
        return {
            "unexplained_pct": round(self.unexplained_pct, 4),
            "unexplained_no_reason_pct": round(self.unexplained_no_reason_pct, 4),
            "attributed_share": round(self.attributed_share, 6),
            "billed_usd": round(self.billed_usd, 2),
            "billed_net_usd": round(self.billed_net_usd, 2),
            "attributed_usd": round(self.attributed_usd, 2),
            "unexplained_usd": float(sum((x["usd"] for x in by_list), Decimal(0))),
            "unexplained_by_reason": self.reasons_json(),
            "unexplained_net_usd": float(sum((x["usd"] for x in by_net), Decimal(0))),
            "unexplained_net_by_reason": self.reasons_json(net=True),
            "credits": self.credits,
            "coverage": self.coverage,
            "rows": rows.round(dict.fromkeys(money, 6)).to_dict("records"),
        }


# Attributed and billed dollars per hour, account, region, usage type and resource (the files carry the account
# as account_id; a missing region is global, as CloudFront's). A bill line longer than an hour (a daily or
# monthly CUR) is not ``hourly``; one without net cost (a legacy CUR without them) has ``has_net`` false.
ATTRIBUTED_HOURLY_SQL = f"""
SELECT hour, account_id AS account, coalesce(region, 'global') AS region, usage_type,
       coalesce(resource_id, '') AS resource_id, sum(usd) AS attributed_usd, sum(gb) AS attributed_gb
FROM {ATTRIBUTED.name} GROUP BY ALL
"""
BILLED_HOURLY_SQL = f"""
{BILL_SQL}
SELECT date_trunc('hour', usage_start) AS hour, usage_account_id AS account,
       coalesce(region_code, 'global') AS region, usage_type, coalesce(resource_id, '') AS resource_id,
       any_value(product_code) AS product, sum(usage_amount) AS billed_gb, sum(unblended_cost) AS billed_usd,
       sum(coalesce(net_unblended_cost, unblended_cost)) AS billed_net_usd,
       bool_and(net_unblended_cost IS NOT NULL) AS has_net,
       bool_and(usage_end - usage_start <= INTERVAL 1 HOUR) AS hourly
FROM bill WHERE regexp_matches(usage_type, '{BILLED_TRANSFER}') GROUP BY ALL
"""
# Discounts billed as their own lines, for bills whose usage lines carry no net cost.
DISCOUNT_LINE_TYPES = "'EdpDiscount', 'BundledDiscount', 'PrivateRateDiscount', 'SppDiscount', 'Discount'"
DISCOUNTS_SQL = f"""{LINES_SQL}
SELECT date_trunc('day', usage_start) AS day, usage_account_id AS account, coalesce(region_code, 'global') AS region,
       usage_type, sum(unblended_cost) AS discount_usd
FROM lines WHERE line_item_type IN ({DISCOUNT_LINE_TYPES}) AND regexp_matches(usage_type, '{BILLED_TRANSFER}')
GROUP BY ALL
"""
CREDITS_SQL = f"""{LINES_SQL}
SELECT usage_account_id AS account, sum(unblended_cost) AS usd FROM lines
WHERE line_item_type = 'Credit' GROUP BY ALL ORDER BY account
"""
_MONEY = ["billed_usd", "billed_net_usd", "billed_gb", "attributed_usd", "attributed_gb"]


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SHOW TABLES").fetchall()}


def _rows(con: duckdb.DuckDBPyConnection, sql: str, table: str) -> list[dict]:
    return con.sql(sql).to_arrow_table().to_pylist() if table in _tables(con) else []


def reconcile(
    con: duckdb.DuckDBPyConnection, coverage: LogCoverage | None = None, deliveries: dict | None = None
) -> Reconciliation:
    """The ``attributed`` table against the bill (the ``cur`` table), both held by ``con``, per account,
    region, usage type and day; ``coverage`` (from the inventory) names the unlogged resources, ``deliveries``
    (late and duplicated deliveries the lake saw) completes the coverage summary."""
    hourly = _hourly(con)
    hourly["day"] = hourly.hour.dt.floor("D")
    rows = _daily_rows(con, hourly)
    explanation = explain(hourly.drop(columns="day"), coverage or LogCoverage()) if len(hourly) else None
    if explanation is not None:
        reasons = explanation.parts.groupby([*KEYS, "reason"], dropna=False).usd.sum().round(6)
        per_row: dict[tuple, dict] = {}
        for (*k, reason), usd in reasons.items():
            if usd:
                per_row.setdefault(tuple(k), {})[reason] = float(usd)
        rows["reasons"] = [per_row.get(k, {}) for k in rows[KEYS].itertuples(index=False, name=None)]
    rows["day"] = rows.day.dt.date
    rows = rows.sort_values(KEYS, kind="stable").reset_index(drop=True)
    credits = [{"account": c["account"], "usd": c["usd"]} for c in _rows(con, CREDITS_SQL, CUR.name)]
    rec = Reconciliation(rows, explanation, credits=credits)
    rec.coverage = coverage_summary(rec, hourly, coverage or LogCoverage(), deliveries or {})
    return rec


def _daily_rows(con: duckdb.DuckDBPyConnection, hourly: pd.DataFrame) -> pd.DataFrame:
    """Per day, account, region and usage type: list, net and attributed dollars. Where the usage lines carry
    no net cost, the net is list plus the day's discount lines."""
    money = ["billed_usd", "billed_net_usd", "attributed_usd"]
    rows = hourly.groupby(KEYS, dropna=False).agg(**{m: (m, "sum") for m in money}, has_net=("has_net", "all"))
    rows = rows.reset_index()
    discounts = pd.DataFrame(_rows(con, DISCOUNTS_SQL, CUR.name), columns=[*KEYS, "discount_usd"])
    if len(discounts):
        discounts["day"] = pd.to_datetime(discounts.day, utc=True)
        rows = rows.merge(discounts, on=KEYS, how="left")
        add = rows.discount_usd.fillna(0.0).where(~rows.has_net, 0.0)
        rows["billed_net_usd"] = rows.billed_net_usd + add
        rows = rows.drop(columns="discount_usd")
    rows["unexplained_usd"] = rows.billed_usd - rows.attributed_usd  # its reasons: ``reasons``
    rows["discount_usd"] = rows.billed_net_usd - rows.billed_usd  # the one more reason at net cost
    rows["unexplained_net_usd"] = rows.billed_net_usd - rows.attributed_usd
    return rows.drop(columns="has_net")


def _hourly(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Billed and attributed per hour and resource. A bill without resource ids (a CUR exported without them)
    is matched per hour, account, region and usage type: attribution's resources are folded to match."""
    tables = _tables(con)
    keys = ["hour", "account", "region", "usage_type", "resource_id"]
    attributed = (
        con.sql(ATTRIBUTED_HOURLY_SQL).to_arrow_table().to_pandas()
        if ATTRIBUTED.name in tables
        else pd.DataFrame(columns=[*keys, "attributed_usd", "attributed_gb"])
    )
    billed = (
        con.sql(BILLED_HOURLY_SQL).to_arrow_table().to_pandas()
        if CUR.name in tables
        else pd.DataFrame(columns=[*keys, "product", "billed_gb", "billed_usd", "billed_net_usd", "has_net", "hourly"])
    )
    for df in (attributed, billed):
        df["hour"] = pd.to_datetime(df.hour, utc=True)
    anonymous = billed.loc[billed.resource_id == "", keys[:-1]].drop_duplicates()
    if len(anonymous):
        fold = attributed.merge(anonymous.assign(_fold=True), on=keys[:-1], how="left")._fold.fillna(False).to_numpy()
        attributed.loc[fold, "resource_id"] = ""
        attributed = attributed.groupby(keys, as_index=False)[["attributed_usd", "attributed_gb"]].sum()
    out = billed.merge(attributed, on=keys, how="outer")
    out[_MONEY] = out[_MONEY].astype(float).fillna(0.0)
    out["has_net"] = out.has_net.fillna(True).astype(bool)
    out["hourly"] = out.hourly.fillna(True).astype(bool)
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


def coverage_summary(rec: Reconciliation, hourly: pd.DataFrame, coverage: LogCoverage, deliveries: dict) -> dict:
    """What share of the data-transfer bill is attributed to a resource, and what to enable to explain the
    rest: each unlogged VPC, bucket and distribution with the dollars it would explain (in the period and per
    month), the services no log shows, the deliveries that went missing, arrived late or twice, and the records
    that could not be read."""
    hours = hourly.hour.nunique() if len(hourly) else 0
    per_month = HOURS_PER_MONTH / hours if hours else 0.0
    named: dict[tuple[str, str], float] = {}
    if rec.explanation is not None:
        for x in rec.explanation.by_reason:
            if x["detail"] is not None:
                named[(x["reason"], x["detail"])] = float(x["usd"])
    enable = [
        {
            "kind": s.kind,
            "resource": s.id,
            "account": s.account,
            "region": s.region,
            "enable": s.log,
            "explains_usd": round(named.get((NO_LOG_REASON[s.kind], s.id), 0.0), 2),
            "explains_usd_per_month": round(named.get((NO_LOG_REASON[s.kind], s.id), 0.0) * per_month, 2),
        }
        for s in coverage.unlogged()
    ]
    enable.sort(key=lambda g: -g["explains_usd"])
    services = [
        {"product": d, "usd": round(u, 2), "usd_per_month": round(u * per_month, 2)}
        for (r, d), u in sorted(named.items())
        if r == "service_without_logs"
    ]
    gaps = [
        {"source": d.split(" ")[0], "hour": d.split(" ")[1], "usd": round(u, 2)}
        for (r, d), u in sorted(named.items())
        if r == "delivery_gap"
    ]
    return {
        "attributed_share": round(rec.attributed_share, 6),
        "billed_usd": round(rec.billed_usd, 2),
        "attributed_usd": round(rec.attributed_usd, 2),
        "period_hours": int(hours),
        "enable_logging": enable,
        "services_without_logs": services,
        "delivery_gaps": gaps,
        "late_deliveries": deliveries.get("late", []),
        "duplicated_deliveries": deliveries.get("duplicated", []),
        "quarantined": deliveries.get("quarantined", []),
    }


# S3 names each request uniquely (a multi-object delete writes one record per key under one request id): the same
# request id, key and operation twice in a bucket is one log delivered twice.
DUPLICATED_SQL = f"""
WITH records AS (
  SELECT bucket, date_trunc('hour', time) AS hour, request_id || '|' || coalesce(key, '') || '|' || operation AS id
  FROM {S3_ACCESS.name} WHERE request_id IS NOT NULL AND request_id <> '-'
)
SELECT bucket, strftime(hour, '%Y-%m-%dT%H:00Z') AS hour, count(*) - count(DISTINCT id) AS repeated_records
FROM records GROUP BY bucket, hour HAVING count(*) > count(DISTINCT id) ORDER BY hour, bucket
"""


QUARANTINED_SQL = f"""
SELECT source, reason, count(*) AS records FROM {QUARANTINE.name} GROUP BY ALL ORDER BY records DESC, source, reason
LIMIT 50
"""


def quarantined_records(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Records ingest could not read, by source and reason (their bytes reach no attribution)."""
    return _rows(con, QUARANTINED_SQL, QUARANTINE.name)


def duplicated_deliveries(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """S3 access log records delivered more than once (attribution counts each once)."""
    return _rows(con, DUPLICATED_SQL, S3_ACCESS.name)
