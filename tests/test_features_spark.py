"""Feature parity: the Spark job and the embedded engine compute identical egress_hourly tables."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

pytest.importorskip("pyspark")

from egress_optimizer.attribution.features import write_tables
from egress_optimizer.attribution.inventory import Inventory
from egress_optimizer.attribution.reconcile import attribute
from egress_optimizer.ingest.pipeline import ingest
from egress_optimizer.ipranges import shipped
from egress_optimizer.lake import Lake
from egress_optimizer.pricing import load_catalog

KEYS = ["hour", "account", "region", "entity", "destination", "peer_region"]


@pytest.fixture(scope="module")
def lake(estate_dir, tmp_path_factory):
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime")
    root = tmp_path_factory.mktemp("spark") / "lake"
    lk = Lake.open(str(root))
    ingest([str(estate_dir)], lk)
    write_tables(lk, attribute(lk, Inventory.from_lake(lk), load_catalog(), shipped()))
    return lk


def test_spark_matches_duckdb(lake):
    """Runs the Glue job's entry point on a local SparkSession and compares its output table."""
    import importlib.util
    from pathlib import Path

    from egress_optimizer.attribution.spark import local_session

    spec = importlib.util.spec_from_file_location(
        "build_features", Path(__file__).resolve().parents[1] / "glue_jobs" / "build_features.py"
    )
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    spark = local_session("egress-parity-test")  # the job's getOrCreate reuses this one session
    try:
        assert job.main(["--LAKE_URI", lake.root, "--JOB_NAME", "test"]) == 0
    finally:
        spark.stop()
    got = lake.read("egress_hourly_spark").to_pandas().drop(columns=["account", "aws_region", "dt"])
    got = got.rename(columns={"account_id": "account"})
    want = lake.read("egress_hourly").to_pandas().drop(columns=["account", "aws_region", "dt"])
    want = want.rename(columns={"account_id": "account"})
    for df in (got, want):
        df["hour"] = pd.to_datetime(df["hour"], utc=True)
    got = got.sort_values(KEYS).reset_index(drop=True)[want.columns]
    want = want.sort_values(KEYS).reset_index(drop=True)
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
    for col in [*KEYS[1:], "team"]:
        assert (got[col].fillna("") == want[col].fillna("")).all(), col
