"""Glue job: build ``egress_hourly`` from the lake's ``attributed`` table with Spark.

Thin entry point: parse the arguments Glue passes (``--LAKE_URI``), take the SparkSession Glue provides, run
the library's feature SQL and write the table detection reads, partitioned as the table registry says.
"""

from __future__ import annotations

import argparse
import sys


def spark_session():
    """Glue's own session when running on Glue; elsewhere (spark-submit, the parity test) the active one."""
    from pyspark.sql import SparkSession

    try:
        from awsglue.context import GlueContext  # only on Glue
        from pyspark.context import SparkContext

        return GlueContext(SparkContext.getOrCreate()).spark_session
    except ImportError:
        return SparkSession.builder.getOrCreate()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--LAKE_URI", required=True, help="Lake root, e.g. s3://bucket/lake or a local folder")
    args, _ = ap.parse_known_args(argv)  # Glue adds its own arguments (--JOB_NAME, ...)
    from egress_optimizer import stages

    stages.build_features_on_spark(spark_session(), args.LAKE_URI)
    return 0


if __name__ == "__main__":
    sys.exit(main())
