"""The feature logic on Spark: the same ``FEATURES_SQL`` the embedded engine runs, over the lake's Parquet.

Used by ``glue_jobs/build_features.py`` (Glue's PySpark) and by the parity test (a local SparkSession)."""

from __future__ import annotations

from typing import Any

from egress_optimizer.attribution.features import FEATURES_SQL


def build_features_spark(spark: Any, attributed_path: str) -> Any:
    """``egress_hourly`` as a Spark DataFrame from the ``attributed`` table's Parquet files."""
    df = spark.read.option("basePath", attributed_path).parquet(attributed_path)
    # The files store the account as account_id; the partition column 'account' carries the same value.
    if "account_id" in df.columns:
        df = df.drop("account").withColumnRenamed("account_id", "account")
    if "cache_misses" not in df.columns:  # a lake attributed before cache misses were counted
        from pyspark.sql import functions as F

        df = df.withColumn("cache_misses", F.lit(None).cast("double"))
    df.createOrReplaceTempView("attributed")
    return spark.sql(FEATURES_SQL)


def local_session(app_name: str = "egress-features") -> Any:
    """A small local SparkSession in UTC (hours and weekdays must not move with the machine's zone)."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
