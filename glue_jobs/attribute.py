"""Glue job: bring ``attributed``, ``egress_hourly`` and ``cur_daily`` up to date with the logs, with Spark.

Thin entry point: parse the arguments Glue passes (``--LAKE_URI``, optional ``--REBUILD true``), take the
SparkSession Glue provides, and run the library's stages on the Spark engine: the hours whose logs changed
since the last run are attributed one per task by the library's rules, priced and featurised with the same
SQL the embedded engine runs, and written into the same layout. The process Lambda starts this job when the
pending logs are too large for a Lambda.
"""

from __future__ import annotations

import argparse
import json
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
    ap.add_argument("--REBUILD", default="false", help="true: rebuild the tables whole")
    args, _ = ap.parse_known_args(argv)  # Glue adds its own arguments (--JOB_NAME, ...)
    from egress_optimizer import stages
    from egress_optimizer.lake import Lake

    lake = Lake.open(args.LAKE_URI, create=False)
    built = stages.build_features(
        lake, rebuild=args.REBUILD.lower() == "true", engine=stages.spark_engine(spark_session())
    )
    print(json.dumps(built.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
