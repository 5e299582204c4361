"""Engine parity: the Glue job (attribution, pricing and features on Spark) writes the tables the embedded
engine writes, from the same ingested lake."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")

from egress_optimizer import stages
from egress_optimizer.cli import run
from egress_optimizer.lake import Lake
from egress_optimizer.tables import (
    ATTRIBUTED,
    CUR_DAILY,
    EGRESS_HOURLY,
    FIRST_SEEN,
    TIER_METER,
    Table,
)
from tests.lakes import first_days
from tests.scripts import load_script

JOB = Path(__file__).resolve().parents[1] / "glue_jobs" / "attribute.py"


def local_session():
    """A small local SparkSession in UTC for the test only (Glue provides its own in the job)."""
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable  # executors run this interpreter (the library is installed)
    return (
        SparkSession.builder.master("local[2]")
        .appName("egress-parity-test")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        # a short job on a small lake: the JVM's quick compiler and serial GC start it in ~60 % of the time
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .getOrCreate()
    )


def _job():
    return load_script(JOB, "glue_attribute")


@pytest.fixture(scope="module")
def lakes(ingested_lake, tmp_path_factory):
    """The same day of logs built by the embedded engine, and by the Glue job on a local session (then
    given one more run with nothing new)."""
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime")
    base = tmp_path_factory.mktemp("parity")
    duck = first_days(ingested_lake, base / "duck", 1)
    stages.build_features(duck)
    built = _stamps(duck, content=True)
    # `egress features --rebuild` on the built lake rewrites every table with the same bytes
    assert run(["features", "--lake", duck.root, "--rebuild", "--json"]) == 0
    assert _stamps(duck, content=True) == built
    lake = first_days(ingested_lake, base / "spark", 1)
    job = _job()
    spark = local_session()  # the job's session is this one (getOrCreate outside Glue)
    try:
        assert job.main(["--LAKE_URI", lake.root, "--JOB_NAME", "test"]) == 0
        before = _stamps(lake)
        assert job.main(["--LAKE_URI", lake.root, "--JOB_NAME", "test"]) == 0
        after = _stamps(lake)
    finally:
        spark.stop()
    return duck, lake, before, after


def _rows(lake: Lake, table: Table) -> pd.DataFrame:
    df = lake.read_table(table).to_pandas()
    keys = [c for c in table.columns if df[c].dtype == object or "datetime" in str(df[c].dtype)]
    return df.sort_values(keys + [c for c in table.columns if c not in keys]).reset_index(drop=True)


def _assert_same(got: pd.DataFrame, want: pd.DataFrame, name: str) -> None:
    assert len(got) == len(want) > 0, name
    for col in want.columns:
        a, b = got[col], want[col]
        if pd.api.types.is_float_dtype(b):
            a, b = a.astype(float).to_numpy(), b.astype(float).to_numpy()
            assert (np.isnan(a) == np.isnan(b)).all(), (name, col)
            diff = np.nan_to_num(np.abs(a - b))
            assert (diff <= 1e-9 * np.maximum(np.nan_to_num(np.abs(b)), 1)).all(), (name, col, diff.max())
        else:  # bytes, counts, keys, hours: exact
            assert ((a == b) | (a.isna() & b.isna())).all(), (name, col)


@pytest.mark.parametrize("table", [ATTRIBUTED, EGRESS_HOURLY, TIER_METER, FIRST_SEEN], ids=lambda t: t.name)
def test_spark_writes_what_the_embedded_engine_writes(lakes, table):
    """Every attributed row (bytes exact, dollars to 1e-9), every feature, the carried tier meter and the
    first-seen peers: the same on both engines, in the same partition folders and hour files."""
    duck, lake, _, _ = lakes
    _assert_same(_rows(lake, table), _rows(duck, table), table.name)
    assert _folders(lake, table) == _folders(duck, table)


def test_a_second_run_with_nothing_new_writes_nothing(lakes):
    _, _, before, after = lakes
    assert before and before == after


def test_spark_reads_files_an_older_version_wrote_with_the_newer_columns_null(lakes, tmp_path):
    """Files written before ``egress_hourly`` had ``via`` read with it null beside newer files that have it, and
    a table of only such files reads with the column all null (the Glue job's history of an upgraded lake)."""
    import pyarrow.parquet as pq

    from egress_optimizer.attribution.spark import SparkEngine

    _, built, _, _ = lakes
    shutil.copytree(built.root, tmp_path / "lake")
    lake = Lake.open(str(tmp_path / "lake"), create=False)
    files = sorted(lake.files(EGRESS_HOURLY))
    for f in files[: len(files) // 2]:
        pq.write_table(pq.read_table(f).drop_columns(["via"]), f)
    old = sum(pq.read_metadata(f).num_rows for f in files[: len(files) // 2])
    want = lake.read_table(EGRESS_HOURLY).to_pandas()
    assert want.via.notna().any() and want.via.isna().sum() >= old
    spark = local_session()
    try:
        engine = SparkEngine(spark)
        start, end = want.hour.min(), want.hour.max() + pd.Timedelta(hours=1)
        got = engine.read(lake, EGRESS_HOURLY, start, end).toPandas()
        assert len(got) == len(want) and got.via.notna().sum() == want.via.notna().sum()
        for f in files[len(files) // 2 :]:
            pq.write_table(pq.read_table(f).drop_columns(["via"]), f)
        assert engine.read(lake, EGRESS_HOURLY, start, end).select("via").dropna().count() == 0
    finally:
        spark.stop()


def _stamps(lake: Lake, content: bool = False) -> dict[str, object]:
    """Every derived file and when it was last written (or what it holds)."""
    tables = (ATTRIBUTED, EGRESS_HOURLY, TIER_METER, FIRST_SEEN, CUR_DAILY)
    if content:
        return {f: Path(f).read_bytes() for t in tables for f in lake.files(t)}
    return {f: os.stat(f).st_mtime_ns for t in tables for f in lake.files(t)}


def _folders(lake: Lake, table: Table) -> set[str]:
    base = lake.path(table.name)
    return {p[len(base) :] for p in lake.files(table)}
