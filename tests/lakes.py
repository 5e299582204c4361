"""Test lakes cut from the shared ingested lake."""

from __future__ import annotations

import shutil
from pathlib import Path

from egress_optimizer.lake import Lake
from egress_optimizer.tables import CLOUDFRONT, S3_ACCESS, VPC_FLOW

LOG_TABLES = (VPC_FLOW, S3_ACCESS, CLOUDFRONT)


def first_days(ingested_lake: Path, dst: Path, days: int) -> Lake:
    """A copy of the shared ingested lake whose logs keep only their first ``days`` days (their journal
    entries stay: a journal names hours, and the stages read whatever those hours hold)."""
    shutil.copytree(ingested_lake, dst)
    lake = Lake.open(str(dst), create=False)
    kept = sorted(lake.days(VPC_FLOW))[:days]
    for table in LOG_TABLES:
        for folder in dst.joinpath(table.name).rglob("dt=*"):
            if folder.name.removeprefix("dt=") not in kept:
                shutil.rmtree(folder)
    return lake
