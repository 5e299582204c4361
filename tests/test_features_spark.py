"""Feature parity: the Glue job on Spark and the embedded engine compute identical egress_hourly tables."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("pyspark")

from egress_optimizer.lake import Lake
from egress_optimizer.tables import EGRESS_HOURLY

KEYS = ["hour", "account", "region", "entity", "destination", "peer_region"]
JOB = Path(__file__).resolve().parents[1] / "glue_jobs" / "build_features.py"


def local_session():
    """A small local SparkSession in UTC for the test only (Glue provides its own in the job)."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .appName("egress-parity-test")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )


@pytest.fixture(scope="module")
def lakes(features_lake, tmp_path_factory):
    """The embedded engine's lake, and a copy whose egress_hourly the Glue job rewrites."""
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime")
    spark_root = tmp_path_factory.mktemp("spark") / "lake"
    shutil.copytree(features_lake, spark_root)
    return Lake.open(str(features_lake), create=False), Lake.open(str(spark_root), create=False)


def _hourly(lake: Lake) -> pd.DataFrame:
    df = lake.read_table(EGRESS_HOURLY).to_pandas()
    df["hour"] = pd.to_datetime(df["hour"], utc=True)
    return df.sort_values(KEYS).reset_index(drop=True)


def test_spark_matches_duckdb(lakes):
    """Runs the Glue job's entry point on a local SparkSession; it writes the table detection reads."""
    duck, spark_lake = lakes
    before = {p for p in spark_lake.files(EGRESS_HOURLY)}
    spec = importlib.util.spec_from_file_location("build_features", JOB)
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    spark = local_session()  # the job's session is this one (getOrCreate outside Glue)
    try:
        assert job.main(["--LAKE_URI", spark_lake.root, "--JOB_NAME", "test"]) == 0
    finally:
        spark.stop()
    assert not before & set(spark_lake.files(EGRESS_HOURLY)), "the job replaces the table, it does not add to it"
    got, want = _hourly(spark_lake), _hourly(duck)
    got = got[want.columns]
    assert len(got) == len(want) > 0
    for col in ("bytes", "packets", "records", "distinct_peers", "new_peers", "weeks_of_history"):
        assert (got[col].astype("int64").to_numpy() == want[col].astype("int64").to_numpy()).all(), col
    for col in (
        "cost_usd",
        "new_peer_share",
        "median_same_hour_of_week",
        "ratio_to_same_hour_of_week",
        "median_same_hour_7d",
        "ratio_to_same_hour_7d",
    ):
        a, b = got[col].astype(float), want[col].astype(float)
        assert (a.isna() == b.isna()).all(), col
        assert ((a - b).abs().fillna(0) <= 1e-9 * b.abs().fillna(1).clip(lower=1)).all(), col
    for col in [*KEYS[1:], "team", "product", "usage_type"]:
        assert (got[col].fillna("") == want[col].fillna("")).all(), col
    # Partitioned as the registry says: the same partition folders as the embedded engine's table.
    assert _folders(duck) == _folders(spark_lake)


def _folders(lake: Lake) -> set[str]:
    base = lake.path(EGRESS_HOURLY.name)
    return {p[len(base) :].rsplit("/", 1)[0] for p in lake.files(EGRESS_HOURLY)}
