"""The feature logic on Spark: the same ``FEATURES_SQL`` the embedded engine runs, over the lake's Parquet.

Used by ``glue_jobs/build_features.py`` (Glue's PySpark) and by the parity test. Reading and writing follow the
table registry, so the Spark job's files are the ones the embedded engine writes and detection reads.
"""

from __future__ import annotations

from typing import Any

from egress_optimizer.attribution.features import FEATURES_SQL
from egress_optimizer.tables import ATTRIBUTED, EGRESS_HOURLY, PARTITION_DATE, Table


def read_table(spark: Any, lake_root: str, table: Table) -> Any:
    """A lake table as a Spark DataFrame with its logical columns (``lake_root`` in Spark's URI scheme)."""
    from pyspark.sql import functions as F

    path = f"{lake_root.rstrip('/')}/{table.name}"
    df = spark.read.option("basePath", path).parquet(path)
    for logical, stored in table.renames.items():
        df = df.drop(logical).withColumnRenamed(stored, logical)
    df = df.drop(*[c for c in table.partition_by if c in df.columns and c not in table.schema.names])
    for field in table.schema:  # columns a lake written by an older version lacks
        if field.name not in df.columns:
            df = df.withColumn(field.name, F.lit(None).cast(_spark_type(field.type)))
    return df


def write_table(df: Any, lake_root: str, table: Table) -> None:
    """Write a derived table's rows (logical columns) into the lake, replacing the table whole."""
    from pyspark.sql import functions as F

    out = df.select(*table.columns)
    for logical, stored in table.renames.items():
        out = out.withColumn(stored, F.col(logical))
    for key, (column, default) in table.partition_sources.items():
        if key == PARTITION_DATE:
            out = out.withColumn(key, F.date_format(column, "yyyy-MM-dd"))
        else:
            out = out.withColumn(key, F.coalesce(F.col(column).cast("string"), F.lit(default)))
    (
        out.select(*table.storage_schema.names, *table.partition_by)
        .write.mode("overwrite")
        .partitionBy(*table.partition_by)
        .parquet(f"{lake_root.rstrip('/')}/{table.name}")
    )


def build_features_spark(spark: Any, lake_root: str) -> Any:
    """``egress_hourly`` as a Spark DataFrame, from the lake's ``attributed`` table."""
    read_table(spark, lake_root, ATTRIBUTED).createOrReplaceTempView(ATTRIBUTED.name)
    return spark.sql(FEATURES_SQL).select(*EGRESS_HOURLY.columns)


def _spark_type(t: Any) -> str:
    import pyarrow as pa

    if pa.types.is_floating(t):
        return "double"
    if pa.types.is_integer(t):
        return "bigint"
    return "string"
