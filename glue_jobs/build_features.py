"""Glue job: build ``egress_hourly`` from the lake's ``attributed`` table with Spark.

Thin entry point: parse the arguments Glue passes (``--LAKE_URI``), run the library's feature SQL, write
Parquet partitioned like every lake table. Runs the same way on a local SparkSession for tests.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--LAKE_URI", required=True, help="Lake root, e.g. s3://bucket/lake or a local folder")
    ap.add_argument("--OUTPUT_TABLE", default="egress_hourly_spark")
    args, _ = ap.parse_known_args(argv)  # Glue adds its own arguments (--JOB_NAME, ...)
    from pyspark.sql import functions as F

    from egress_optimizer.attribution.spark import build_features_spark, local_session

    root = args.LAKE_URI.rstrip("/").replace("s3://", "s3a://")
    spark = local_session("egress-build-features")
    features = build_features_spark(spark, f"{root}/attributed")
    (
        features.withColumn("dt", F.date_format("hour", "yyyy-MM-dd"))
        .withColumn("aws_region", F.col("region"))
        .withColumnRenamed("account", "account_id")
        .withColumn("account", F.col("account_id"))
        .write.mode("overwrite")
        .partitionBy("account", "aws_region", "dt")
        .parquet(f"{root}/{args.OUTPUT_TABLE}")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
