"""An independent reading of a generated estate, used only by tests.

It reads the raw files the way a careful analyst would (DuckDB over the gzipped text, pyarrow over the
Parquet, the inventory JSON for ENIs) and never imports the generator, so the CUR-versus-logs checks do
not grade the generator with its own arithmetic.
"""

from __future__ import annotations

import bisect
import gzip
import ipaddress
import json
import re
from functools import cached_property
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

GIB = 1024**3

# ---- AWS list prices, transcribed here from AWS's public pricing pages (not from the library's price table),
# so a misreading of AWS billing cannot hide on both sides. Tiers: (cumulative GB per month up to which the rate
# applies, USD per GB); None is "everything above".
# EC2 data transfer out to the internet, US East/West and EU (Ireland), per region and month:
INTERNET_TIERS_US_EU = [(10 * 1024, 0.09), (50 * 1024, 0.085), (150 * 1024, 0.07), (None, 0.05)]
# The first 100 GB a month of data transfer out to the internet are free, aggregated across services and regions.
INTERNET_FREE_GB = 100.0
# NAT gateway data processing, per GB, by region.
NAT_PROCESSING_PER_GB = {"us-east-1": 0.045, "us-west-2": 0.045, "eu-west-1": 0.048}
# Data transfer between availability zones of a region: per GB in each direction.
INTER_AZ_PER_GB_EACH_WAY = 0.01
# Data transfer out from these regions to another AWS region, per GB (by the sending region).
INTER_REGION_OUT_PER_GB = {"us-east-1": 0.02, "us-west-2": 0.02, "eu-west-1": 0.02}
# CloudFront data transfer out to the internet, by the geography of the edge; the first 1 TB a month is free.
CLOUDFRONT_FREE_GB = 1024.0
_CF_BOUNDS = [10 * 1024, 50 * 1024, 150 * 1024, 500 * 1024, 1024 * 1024, 5 * 1024 * 1024, None]
_CF_RATES = {
    "US": [0.085, 0.080, 0.060, 0.040, 0.030, 0.025, 0.020],
    "CA": [0.085, 0.080, 0.060, 0.040, 0.030, 0.025, 0.020],
    "EU": [0.085, 0.080, 0.060, 0.040, 0.030, 0.025, 0.020],
    "ZA": [0.110, 0.105, 0.090, 0.080, 0.070, 0.065, 0.060],
    "ME": [0.110, 0.105, 0.090, 0.080, 0.070, 0.065, 0.060],
    "SA": [0.110, 0.105, 0.090, 0.080, 0.070, 0.065, 0.060],
    "JP": [0.114, 0.089, 0.086, 0.084, 0.080, 0.070, 0.060],
    "AU": [0.114, 0.098, 0.094, 0.092, 0.090, 0.085, 0.080],
    "AP": [0.120, 0.100, 0.080, 0.070, 0.065, 0.060, 0.050],
    "IN": [0.109, 0.085, 0.082, 0.080, 0.078, 0.075, 0.070],
}
CLOUDFRONT_TIERS = {geo: list(zip(_CF_BOUNDS, rates, strict=True)) for geo, rates in _CF_RATES.items()}


def tiered_usd(gb: float, tiers: list[tuple[float | None, float]]) -> float:
    """Dollars for ``gb`` in one month through cumulative tiers."""
    usd, below = 0.0, 0.0
    for upper, rate in tiers:
        top = gb if upper is None else min(gb, upper)
        if top > below:
            usd += (top - below) * rate
        if upper is None or gb <= upper:
            break
        below = upper
    return usd


S3_LINE = re.compile(r'"(?:[^"\\]|\\.)*"|\[[^\]]*\]|\S+')


def s3_fields(line: str) -> list[str]:
    return S3_LINE.findall(line)


class AwsRanges:
    """Membership in AWS's published prefixes (bisect over sorted integer ranges)."""

    def __init__(self, path: Path):
        doc = json.loads(path.read_text())
        self.ranges = {4: [], 6: []}
        for p in doc["prefixes"]:
            n = ipaddress.ip_network(p["ip_prefix"])
            self.ranges[4].append((int(n.network_address), int(n.broadcast_address)))
        for p in doc["ipv6_prefixes"]:
            n = ipaddress.ip_network(p["ipv6_prefix"])
            self.ranges[6].append((int(n.network_address), int(n.broadcast_address)))
        for v in (4, 6):
            self.ranges[v].sort()
        self.starts = {v: [a for a, _ in self.ranges[v]] for v in (4, 6)}
        self.max_end = {}
        for v in (4, 6):
            running, ends = 0, []
            for _, b in self.ranges[v]:
                running = max(running, b)
                ends.append(running)
            self.max_end[v] = ends

    def contains(self, addr: str) -> bool:
        ip = ipaddress.ip_address(addr)
        v, x = ip.version, int(ip)
        i = bisect.bisect_right(self.starts[v], x) - 1
        return i >= 0 and self.max_end[v][i] >= x

    def is_internet(self, addr: str | None) -> bool:
        if not addr or addr == "-":
            return False
        ip = ipaddress.ip_address(addr)
        return ip.is_global and not self.contains(addr)


class EstateReader:
    def __init__(self, root: Path, ip_ranges: Path):
        self.root = root
        self.aws = AwsRanges(ip_ranges)

    # ---- inventory ------------------------------------------------------------------------------------------
    @cached_property
    def enis(self) -> pd.DataFrame:
        rows = []
        for f in sorted(self.root.glob("inventory/*/*/ec2/describe_network_interfaces.json")):
            region = f.parts[-3]
            for n in json.loads(f.read_text())["NetworkInterfaces"]:
                rows.append(
                    {
                        "interface_id": n["NetworkInterfaceId"],
                        "region": region,
                        "az_id": n["AvailabilityZoneId"],
                        "ip": n["PrivateIpAddress"],
                        "ipv6": [a["Ipv6Address"] for a in n["Ipv6Addresses"]],
                        "type": n["InterfaceType"],
                        "public": "Association" in n,
                        "alb": n.get("RequesterId") == "amazon-elb",
                        "account": n["OwnerId"],
                        "description": n.get("Description", ""),
                    }
                )
        return pd.DataFrame(rows)

    @cached_property
    def ip_to_eni(self) -> dict[str, dict]:
        return {r["ip"]: r for r in self.enis.to_dict("records")}

    # ---- flow logs ------------------------------------------------------------------------------------------
    @cached_property
    def flows(self) -> pd.DataFrame:
        frames = []
        text = sorted(self.root.glob("*/AWSLogs/**/*.log.gz"))
        by_header: dict[str, list[str]] = {}
        for f in text:
            with gzip.open(f, "rt") as fh:
                by_header.setdefault(fh.readline().strip(), []).append(str(f))
        con = duckdb.connect()
        for header, files in by_header.items():
            df = con.execute(
                "SELECT * FROM read_csv(?, delim=' ', header=true, all_varchar=true, nullstr='-', "
                "hive_partitioning=false)",
                [files],
            ).df()
            df.columns = [c.replace("-", "_") for c in header.split()]
            frames.append(df)
        for f in sorted(self.root.glob("*/AWSLogs/**/*.log.parquet")):
            t = pq.read_table(f)
            t = t.cast(pa.schema([(n, pa.string()) for n in t.column_names]))
            frames.append(t.to_pandas().astype(object).where(lambda d: d.notna(), None))
        df = pd.concat(frames, ignore_index=True)
        df = df[df.log_status == "OK"].copy()
        df["bytes"] = df.bytes.astype("int64")
        return df

    def egress(self, df: pd.DataFrame) -> pd.Series:
        """Whether each record leaves its ENI: flow-direction when logged, else the source is the ENI."""
        eni_ip = df.interface_id.map(self.enis.set_index("interface_id").ip)
        eni_v6 = df.interface_id.map(self.enis.set_index("interface_id").ipv6)
        v6_own = [isinstance(v6, list) and s in v6 for s, v6 in zip(df.srcaddr, eni_v6, strict=True)]
        own = (df.srcaddr == eni_ip) | pd.Series(v6_own, index=df.index)
        if "flow_direction" in df:
            fd = df.flow_direction
            return fd.eq("egress").where(fd.notna(), own)
        return own

    # ---- S3 and CloudFront ----------------------------------------------------------------------------------
    @cached_property
    def s3(self) -> pd.DataFrame:
        rows = []
        for f in sorted(self.root.glob("*/s3-access-logs/**/*")):
            if not f.is_file():
                continue
            for line in f.read_text().splitlines():
                x = s3_fields(line)
                rows.append(
                    {
                        "bucket": x[1],
                        "remote_ip": x[3],
                        "requester": x[4],
                        "operation": x[6],
                        "bytes_sent": 0 if x[11] == "-" else int(x[11]),
                        "object_size": 0 if x[12] == "-" else int(x[12]),
                        "n_fields": len(x),
                        "file": str(f),
                    }
                )
        return pd.DataFrame(rows)

    @cached_property
    def cloudfront(self) -> pd.DataFrame:
        rows = []
        for f in sorted(self.root.glob("*/cloudfront/**/*.gz")):
            with gzip.open(f, "rt") as fh:
                lines = fh.read().splitlines()
            fields = lines[1].split(" ", 1)[1].split()
            for line in lines[2:]:
                rows.append(dict(zip(fields, line.split("\t"), strict=True)))
        return pd.DataFrame(rows)

    # ---- CUR ------------------------------------------------------------------------------------------------
    @cached_property
    def cur(self) -> pd.DataFrame:
        files = sorted(self.root.glob("cur-exports-*/cur2/*/data/BILLING_PERIOD=*/*.parquet"))
        return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
