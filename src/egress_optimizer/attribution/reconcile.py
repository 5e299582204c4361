"""Reconcile attributed dollars with the bill: per account, region, usage type and day, with the
unexplained remainder shown explicitly."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from egress_optimizer.tables import ATTRIBUTED, CUR

# Outbound data-transfer usage types (inbound types are free and left out); Direct Connect out is
# ``...DataXfer-Out`` (public VIF) or ``...DataXfer-Out:dc.N`` (private/transit VIF). Origin fetches by CloudFront
# (``...CloudFront-Out-Bytes``) are listed at $0 for AWS origins: kept, so their volume reaches ``cur_daily`` and
# their ($0) rows line up with the attributed ones.
BILLED_TRANSFER = (
    r"(DataTransfer-(Out|Regional)-Bytes|-AWS-Out-Bytes|NatGateway-Bytes|VpcEndpoint-Bytes|TransitGateway-Bytes"
    r"|CloudFront-Out-Bytes|-DataXfer-Out(:dc\.\d+)?)$"
)
KEYS = ["day", "account", "region", "usage_type"]
# The same account and month can arrive twice (a CUR 2.0 export from the payer and a legacy CUR from the member
# account): count each line item once, preferring CUR 2.0.
BILL_SQL = f"""
WITH versions AS (
  SELECT billing_period, usage_account_id, bool_or(cur_version = 'cur2') AS has_cur2 FROM {CUR.name} GROUP BY ALL
), bill AS (
  SELECT c.* FROM {CUR.name} c JOIN versions v USING (billing_period, usage_account_id)
  WHERE c.cur_version = CASE WHEN v.has_cur2 THEN 'cur2' ELSE 'legacy' END
)
"""


@dataclass
class Reconciliation:
    rows: pd.DataFrame  # per KEYS: attributed_usd, billed_usd, unexplained_usd

    @property
    def billed_usd(self) -> float:
        return float(self.rows.billed_usd.sum())

    @property
    def attributed_usd(self) -> float:
        return float(self.rows.attributed_usd.sum())

    @property
    def unexplained_pct(self) -> float:
        """Absolute unexplained dollars as a percentage of the CUR's data-transfer dollars."""
        billed = self.billed_usd
        return 100.0 * float(self.rows.unexplained_usd.abs().sum()) / billed if billed else 0.0

    def to_json(self) -> dict:
        rows = self.rows.assign(day=self.rows.day.astype(str))
        return {
            "unexplained_pct": round(self.unexplained_pct, 4),
            "billed_usd": round(self.billed_usd, 2),
            "attributed_usd": round(self.attributed_usd, 2),
            "rows": rows.round({"attributed_usd": 4, "billed_usd": 4, "unexplained_usd": 4}).to_dict("records"),
        }


# Attributed dollars per account, region, usage type and day, from the ``attributed`` table (the files carry
# the account as account_id; a day is a UTC day).
ATTRIBUTED_DAILY_SQL = f"""
SELECT CAST(hour AS DATE) AS day, account_id AS account, coalesce(region, 'global') AS region, usage_type,
       sum(usd) AS attributed_usd
FROM {ATTRIBUTED.name} GROUP BY ALL
"""
BILLED_DAILY_SQL = f"""
{BILL_SQL}
SELECT CAST(usage_start AS DATE) AS day, usage_account_id AS account, coalesce(region_code, 'global') AS region,
       usage_type, sum(unblended_cost) AS billed_usd
FROM bill WHERE regexp_matches(usage_type, '{BILLED_TRANSFER}') GROUP BY ALL
"""


def reconcile(con: duckdb.DuckDBPyConnection) -> Reconciliation:
    """The ``attributed`` table against the bill (the ``cur`` table), both held by ``con``, per account,
    region, usage type and day."""
    tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    attributed = con.sql(ATTRIBUTED_DAILY_SQL).to_arrow_table().to_pandas() if ATTRIBUTED.name in tables else None
    billed = con.sql(BILLED_DAILY_SQL).to_arrow_table().to_pandas() if CUR.name in tables else None
    attributed = attributed if attributed is not None else pd.DataFrame(columns=[*KEYS, "attributed_usd"])
    billed = billed if billed is not None else pd.DataFrame(columns=[*KEYS, "billed_usd"])
    for df in (attributed, billed):
        df["day"] = pd.to_datetime(df.day).dt.date
    rows = billed.merge(attributed, on=KEYS, how="outer").fillna({"attributed_usd": 0.0, "billed_usd": 0.0})
    rows["unexplained_usd"] = rows.billed_usd - rows.attributed_usd
    rows = rows.sort_values(KEYS, kind="stable").reset_index(drop=True)
    return Reconciliation(rows)
