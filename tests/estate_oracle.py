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
