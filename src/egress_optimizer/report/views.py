"""The dashboard's views (``sql/athena/views``), created on a DuckDB connection over the lake: the same SQL
Athena runs for QuickSight, so the report and the dashboard cannot disagree."""

from __future__ import annotations

from importlib import resources

import duckdb
import pandas as pd

from egress_optimizer.lake import Lake


def names() -> list[str]:
    folder = resources.files("egress_optimizer") / "sql" / "athena" / "views"
    return sorted(p.name.removesuffix(".sql") for p in folder.iterdir() if p.name.endswith(".sql"))


def connect(lake: Lake) -> duckdb.DuckDBPyConnection:
    """The lake's tables (empty where nothing was written yet) and every dashboard view."""
    con = lake.connect(empty=True)
    folder = resources.files("egress_optimizer") / "sql" / "athena" / "views"
    for name in names():
        con.execute((folder / f"{name}.sql").read_text())
    return con


def frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    return con.execute(sql).fetchdf()
