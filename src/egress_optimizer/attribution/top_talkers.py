"""Top talkers: which resources, destinations, accounts or teams paid the most for data transfer."""

from __future__ import annotations

import re

import duckdb
import pandas as pd

from egress_optimizer.errors import InputError
from egress_optimizer.tables import ATTRIBUTED

GROUPINGS = {
    "resource": ["resource_id", "account", "team"],
    "peer": ["destination", "peer_region"],
    "account": ["account"],
    "team": ["team"],
}


def parse_window(value: str) -> pd.Timedelta:
    """``36h``, ``7d``, ``2w`` -> a duration; anything else is an input error."""
    m = re.fullmatch(r"(\d+)([hdw])", value.strip())
    if not m:
        raise InputError(f"--since {value!r}: use a number and h, d or w (for example 7d)")
    return pd.Timedelta(int(m.group(1)), {"h": "h", "d": "D", "w": "W"}[m.group(2)])


def top_talkers(con: duckdb.DuckDBPyConnection, by: str, since: str | None = None, limit: int = 10) -> pd.DataFrame:
    """The ``limit`` costliest groups of the ``attributed`` table ``con`` holds, by ``by`` (a key of
    ``GROUPINGS``), over its last ``since`` (``7d``) or all of it, with their gigabytes and dollars."""
    if by not in GROUPINGS:
        raise InputError(f"--by must be one of {', '.join(GROUPINGS)}")
    key = GROUPINGS[by]
    columns = ", ".join(f"coalesce(CAST({_stored(k)} AS VARCHAR), '-') AS {k}" for k in key)
    where = ""
    if since:
        hours = int(parse_window(since) / pd.Timedelta(hours=1))
        where = f"WHERE hour > (SELECT max(hour) FROM {ATTRIBUTED.name}) - INTERVAL {hours} HOURS"
    sql = f"""
      SELECT {columns}, sum(gb) AS gb, sum(usd) AS usd FROM {ATTRIBUTED.name} {where}
      GROUP BY ALL ORDER BY usd DESC, {", ".join(key)} LIMIT {int(limit)}
    """
    return con.sql(sql).to_arrow_table().to_pandas()


def _stored(column: str) -> str:
    return ATTRIBUTED.renames.get(column, column)
