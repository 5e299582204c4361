"""SQL over the lake at scale: Amazon Athena over the Glue catalog (``glue_catalog``), through awswrangler.

The local engine is DuckDB over the same Parquet (``Lake.connect``); the tables have the same names and
columns in both, so a query written on a laptop runs unchanged against the deployed lake.
"""

from __future__ import annotations

from typing import Any

import boto3

from egress_optimizer.errors import EgressError, InputError


def run_query(
    sql: str,
    database: str,
    workgroup: str | None = None,
    output: str | None = None,
    session: boto3.Session | None = None,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``sql`` in Athena and return (column names, rows). A query Athena rejects is an input error."""
    import awswrangler as wr
    from botocore.exceptions import ClientError

    try:
        df = wr.athena.read_sql_query(
            sql,
            database=database,
            workgroup=workgroup,
            s3_output=output,
            ctas_approach=False,  # plain results: no temporary tables in the user's catalog
            boto3_session=session,
        )
    except (wr.exceptions.QueryFailed, wr.exceptions.QueryCancelled) as e:
        raise InputError(f"Athena query failed: {e}") from None
    except (ClientError, wr.exceptions.InvalidArgumentValue, wr.exceptions.InvalidArgumentCombination) as e:
        raise EgressError(f"Athena: {e}") from None
    rows = [tuple(None if _missing(v) else v for v in r) for r in df.itertuples(index=False, name=None)]
    return [str(c) for c in df.columns], rows


def _missing(v: Any) -> bool:
    try:
        return v is None or v != v  # NaN and NaT are not equal to themselves
    except (TypeError, ValueError):
        return False
