"""Write S3 server access logs under either target key format (SimplePrefix or PartitionedPrefix)."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from egress_optimizer.estate.topology import Bucket, Estate
from egress_optimizer.estate.writers.files import stable_hex, write_bytes

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def canonical_owner_id(account: str) -> str:
    return stable_hex("canonical", account, n=64)


def s3_log_target(b: Bucket) -> str:
    """Server access logs must go to a bucket in the source bucket's region."""
    return b.log_bucket if b.region == "us-east-1" else f"{b.log_bucket}-{b.region}"


def _ts(t: int) -> str:
    g = time.gmtime(t)
    return f"[{g.tm_mday:02d}/{MONTHS[g.tm_mon - 1]}/{g.tm_year}:{g.tm_hour:02d}:{g.tm_min:02d}:{g.tm_sec:02d} +0000]"


def _host(b: Bucket) -> str:
    return f"{b.name}.s3.amazonaws.com" if b.region == "us-east-1" else f"{b.name}.s3.{b.region}.amazonaws.com"


def format_lines(df: pd.DataFrame, b: Bucket, owner: str, with_source_region: bool) -> list[str]:
    """Access log lines for one bucket's requests (field order as S3 documents it)."""
    host = _host(b)
    uri_override = df["uri_override"].tolist() if "uri_override" in df else [None] * len(df)
    lines = []
    for t, ip, requester, rid, op, key, method, status, err, sent, size, total, turn, ua, host_id, sig, auth, uo in zip(
        df.t.tolist(),
        df.remote_ip.tolist(),
        df.requester.tolist(),
        df.request_id.tolist(),
        df.operation.tolist(),
        df.key.tolist(),
        df.method.tolist(),
        df.status.tolist(),
        df.error.tolist(),
        df.bytes_sent.tolist(),
        df.object_size.tolist(),
        df.total_time.tolist(),
        df.turnaround.tolist(),
        df.ua.tolist(),
        df.host_id.tolist(),
        df.sig.tolist(),
        df.auth.tolist(),
        uri_override,
        strict=True,
    ):
        key_field = "-" if key == "-" else quote(key, safe="/")
        uri = uo if isinstance(uo, str) else f"/{quote(key, safe='/')}"
        fields = [
            owner,
            b.name,
            _ts(int(t)),
            ip,
            requester,
            rid,
            op,
            key_field,
            f'"{method} {uri} HTTP/1.1"',
            str(int(status)),
            err,
            _num(sent),
            _num(size),
            str(int(total)),
            str(int(turn)),
            '"-"',
            '"' + str(ua).replace('"', '\\"') + '"',
            "-",
            host_id,
            sig,
            "TLS_AES_128_GCM_SHA256" if sig != "-" else "ECDHE-RSA-AES128-GCM-SHA256",
            auth,
            host,
            "TLSv1.3" if sig != "-" else "TLSv1.2",
            "-",
            "-",
        ]
        if with_source_region:
            fields.append("-")
        lines.append(" ".join(fields))
    return lines


def _num(v: object) -> str:
    return "-" if v is None or v != v else str(int(v))  # v != v is NaN


def access_log_key(b: Bucket, delivered: int, unique: str) -> str:
    g = time.gmtime(delivered)
    stamp = f"{g.tm_year:04d}-{g.tm_mon:02d}-{g.tm_mday:02d}-{g.tm_hour:02d}-{g.tm_min:02d}-{g.tm_sec:02d}"
    if b.log_layout == "partitioned":
        return (
            f"s3-access-logs/{b.account}/{b.region}/{b.name}/{g.tm_year:04d}/{g.tm_mon:02d}/{g.tm_mday:02d}/"
            f"{stamp}-{unique}"
        )
    return f"s3-access-logs/{b.name}/{stamp}-{unique}"


def write_s3_access_logs(
    out: Path, estate: Estate, df: pd.DataFrame, start_epoch: int = 0, duplicated: set[tuple[str, int]] = frozenset()
) -> dict[str, int]:
    """One log object per bucket per delivery (about hourly), delivered a few minutes after the hour; a
    (bucket, hour index) in ``duplicated`` is delivered again an hour later under another key."""
    stats = {"objects": 0, "records": 0}
    if df.empty:
        return stats
    hours = (df.t // 3600).to_numpy()
    for (bucket, hour), group in df.groupby([df.bucket, hours], sort=True):
        b = estate.bucket(bucket)
        if not b.log_bucket:
            continue
        owner = canonical_owner_id(b.account)
        partitioned = b.log_layout == "partitioned"
        lines = format_lines(group, b, owner, partitioned)
        delivered = int(hour) * 3600 + 3600 + 60 * (5 + int(stable_hex(bucket, hour, n=2), 16) % 40)
        unique = stable_hex("s3log", bucket, hour, n=16).upper()
        body = ("\n".join(lines) + "\n").encode()
        write_bytes(out / s3_log_target(b) / access_log_key(b, delivered, unique), body)
        if (bucket, (int(hour) * 3600 - start_epoch) // 3600) in duplicated:
            again = stable_hex("s3log-again", bucket, hour, n=16).upper()
            write_bytes(out / s3_log_target(b) / access_log_key(b, delivered + 3600, again), body)
            stats["objects"] += 1
            stats["records"] += len(lines)
        stats["objects"] += 1
        stats["records"] += len(lines)
    return stats
