"""The estate's log objects in delivery order: grouped by the hour their key names, as AWS names them.

VPC flow logs (``..._20261001T0100Z_<hash>.log.gz``), CloudFront (``<dist>.2026-10-01-01.<hash>.gz``) and S3
server access logs (``2026-10-01-01-00-00-<16 chars>``) put the hour they cover in the key; the CUR and
inventory files do not and are not hourly deliveries. Used to replay an estate hour by hour (the incremental
benchmark and tests).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from egress_optimizer import changes


def delivery_hour(path: Path | str) -> pd.Timestamp | None:
    """The UTC hour a log object's key names, or None for objects that are not hourly log deliveries."""
    return changes.delivery_hour(Path(path).as_posix())


def by_delivery_hour(estate_dir: Path) -> dict[pd.Timestamp, list[Path]]:
    """Every hourly log object of an estate folder, by the hour its key names (sorted paths)."""
    out: dict[pd.Timestamp, list[Path]] = {}
    for path in sorted(p for p in Path(estate_dir).rglob("*") if p.is_file()):
        hour = delivery_hour(path)
        if hour is not None:
            out.setdefault(hour, []).append(path)
    return dict(sorted(out.items()))
