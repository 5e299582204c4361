"""Write flow log records as AWS delivers them to S3: gzipped text with a header line, or Parquet with
Hive-compatible partitions, one object per flow log per hour under the AWSLogs key layout."""

from __future__ import annotations

import io
import itertools
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from egress_optimizer.estate.coverage import Gaps
from egress_optimizer.estate.topology import Estate, Vpc
from egress_optimizer.estate.writers.files import stable_hex, write_bytes, write_gzip
from egress_optimizer.formats.vpc_flow import PARQUET_INT32, PARQUET_INT64, column_name, format_version

# Fields that come from the ENI rather than the record, and the ones a NODATA/SKIPDATA record still carries.
ENI_FIELDS = {
    "account-id": "account_id",
    "interface-id": "interface_id",
    "vpc-id": "vpc_id",
    "subnet-id": "subnet_id",
    "instance-id": "instance_id",
    "region": "region",
    "az-id": "az_id",
}
KEPT_ON_NODATA = {"version", "account-id", "interface-id", "start", "end", "log-status"}


def _field_array(
    field: str, rec: pa.Table, eni_cols: dict[str, np.ndarray], version: int, ok_mask: pa.Array
) -> pa.Array:
    n = rec.num_rows
    if field == "version":
        return pa.array(np.full(n, version, dtype=np.int64))
    if field in ENI_FIELDS:
        idx = rec.column("eni_idx").to_numpy()
        arr = pa.array(eni_cols[ENI_FIELDS[field]][idx], type=pa.string())
    elif field in ("sublocation-type", "sublocation-id"):
        arr = pa.nulls(n, pa.string())
    else:
        arr = rec.column(column_name(field)).combine_chunks()
    if field not in KEPT_ON_NODATA:
        arr = pc.if_else(ok_mask, arr, pa.nulls(n, arr.type))
    return arr


def flow_log_key(vpc: Vpc, hour_epoch: int, suffix: str, data_hour: int | None = None) -> str:
    """The key of the object delivered at ``hour_epoch``; ``data_hour`` (the hour its records cover, when that
    is not the delivery hour) keeps a late object from taking the key of the one delivered on time."""
    fl = vpc.flow_log
    t = time.gmtime(hour_epoch)
    ts = time.strftime("%Y%m%dT%H%MZ", t)
    digest = stable_hex(fl.id, hour_epoch) if data_hour is None else stable_hex(fl.id, hour_epoch, data_hour)
    name = f"{vpc.account}_vpcflowlogs_{vpc.region}_{fl.id}_{ts}_{digest}{suffix}"
    if fl.hive:
        parts = [
            f"aws-account-id={vpc.account}",
            "aws-service=vpcflowlogs",
            f"aws-region={vpc.region}",
            f"year={t.tm_year:04d}",
            f"month={t.tm_mon:02d}",
            f"day={t.tm_mday:02d}",
        ]
        if fl.per_hour_partition:
            parts.append(f"hour={t.tm_hour:02d}")
    else:
        parts = [vpc.account, "vpcflowlogs", vpc.region, f"{t.tm_year:04d}", f"{t.tm_mon:02d}", f"{t.tm_mday:02d}"]
        if fl.per_hour_partition:
            parts.append(f"{t.tm_hour:02d}")
    return "/".join(["AWSLogs", *parts, name])


def write_vpc_flow_logs(
    out: Path,
    estate: Estate,
    records: pa.Table,
    eni_cols: dict[str, np.ndarray],
    start_epoch: int,
    gaps: Gaps | None = None,
) -> dict[str, int]:
    """Write every VPC's flow logs (none for a VPC whose flow log is off; ``gaps`` drops or delays hours);
    returns objects and records written."""
    gaps = gaps or Gaps()
    vpc_of_eni = eni_cols["vpc_id"]
    rec_vpc = vpc_of_eni[records.column("eni_idx").to_numpy()]
    stats = {"objects": 0, "records": 0}
    for vpc in estate.vpcs:
        if not vpc.flow_log.enabled:
            continue
        sel = np.flatnonzero(rec_vpc == vpc.id)
        sub = records.take(pa.array(sel))
        order = pc.sort_indices(sub, [("hour", "ascending"), ("start", "ascending"), ("eni_idx", "ascending")])
        sub = sub.take(order)
        fields = vpc.flow_log.fields
        version = format_version(fields)
        ok = pc.equal(sub.column("log_status"), "OK").combine_chunks()
        cols = {f: _field_array(f, sub, eni_cols, version, ok) for f in fields}
        hours = sub.column("hour").to_numpy()
        bounds = np.r_[0, np.flatnonzero(np.diff(hours)) + 1, len(hours)]
        if vpc.flow_log.delivery == "parquet":
            typed = pa.table({column_name(f): _parquet_typed(f, a) for f, a in cols.items()})
        else:
            text = [pc.fill_null(pc.cast(a, pa.string()), "-") for a in cols.values()]
            lines = pc.binary_join_element_wise(*text, " ")
            header = (" ".join(fields) + "\n").encode()
        for lo, hi in itertools.pairwise(bounds):
            hour = int(hours[lo])
            if (vpc.id, hour) in gaps.missing:
                continue
            # A late object's key names the hour it was delivered in, as AWS stamps it.
            delay = gaps.late.get((vpc.id, hour), 0)
            hour_epoch = start_epoch + (hour + delay) * 3600
            data_hour = start_epoch + hour * 3600 if delay else None
            if vpc.flow_log.delivery == "parquet":
                buf = io.BytesIO()
                pq.write_table(typed.slice(lo, hi - lo), buf, compression="gzip")
                write_bytes(
                    out / vpc.flow_log.bucket / flow_log_key(vpc, hour_epoch, ".log.parquet", data_hour), buf.getvalue()
                )
            else:
                rows = lines.slice(lo, hi - lo).to_pylist()
                if (vpc.id, hour) in gaps.damaged:
                    mid = len(rows) // 2  # one record mangled in transit: the rest of the object is intact
                    rows[mid] = rows[mid][:12] + "\x00" + rows[mid][13:]
                body = "\n".join(rows) + "\n"
                write_gzip(
                    out / vpc.flow_log.bucket / flow_log_key(vpc, hour_epoch, ".log.gz", data_hour),
                    header + body.encode(),
                )
            stats["objects"] += 1
            stats["records"] += int(hi - lo)
    return stats


def _parquet_typed(field: str, arr: pa.Array) -> pa.Array:
    if field in PARQUET_INT32:
        return pc.cast(arr, pa.int32())
    if field in PARQUET_INT64:
        return pc.cast(arr, pa.int64())
    return pc.cast(arr, pa.string())
