"""Cut hourly stream volumes into VPC flow log records, on every ENI that would log them.

A connection from an instance through a NAT gateway is seen four times on the NAT gateway's ENI
(in and out on its private and public sides, with pkt-srcaddr/pkt-dstaddr telling the original
addresses) and twice on the instance's ENI, exactly as AWS logs it. Byte counts are split so that each
stream-hour's records sum to the stream-hour's volume: that is the invariant the CUR relies on.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa

from egress_optimizer.estate.topology import AWS_SERVICE_BLOCKS, SCALES, Estate, host_in
from egress_optimizer.estate.traffic import Stream, Volumes
from egress_optimizer.regions import az_id

NULL_INT = -1

SERVER_SIDE = {"alb_internet", "internet_igw", "internet_v6", "alb_cf_origin", "scanner_reject"}
IGW_KINDS = {"alb_internet", "internet_igw", "internet_v6", "alb_cf_origin"}
NAT_KINDS = {"internet_nat", "s3_nat", "ddb_nat"}
GATEWAY_ENDPOINT_KINDS = {"s3_endpoint", "ddb_endpoint"}
ENI_KINDS = {"eni", "vpce"}
FLOW_KINDS = IGW_KINDS | NAT_KINDS | GATEWAY_ENDPOINT_KINDS | ENI_KINDS | {"scanner_reject"}

# traffic-path values (v5): 1 same VPC, 4 intra-region peering, 5 inter-region peering,
# 7 gateway VPC endpoint, 8 internet gateway.
PATH_SAME_VPC, PATH_PEERING, PATH_INTER_REGION, PATH_GATEWAY_ENDPOINT, PATH_IGW = 1, 4, 5, 7, 8
FLAGS_INITIATOR, FLAGS_RESPONDER, FLAGS_SYN = 3, 19, 2


def _split(total: np.ndarray, groups: np.ndarray, weights: np.ndarray, n_groups: int) -> np.ndarray:
    """Split each group's integer total over its members in proportion to weights, preserving sums."""
    wsum = np.bincount(groups, weights=weights, minlength=n_groups)
    part = np.floor(total[groups] * weights / wsum[groups]).astype(np.int64)
    short = total - np.bincount(groups, weights=part, minlength=n_groups).astype(np.int64)
    first = np.r_[0, np.flatnonzero(np.diff(groups)) + 1]
    part[first] += short[groups[first]]
    return part


def _packets(nbytes: np.ndarray) -> np.ndarray:
    seg = np.where(nbytes > 20_000, 1448, 180)
    return np.where(nbytes > 0, np.maximum(1, np.ceil(nbytes / seg)), 0).astype(np.int64)


class _Collector:
    """Accumulates record columns as numpy chunks and builds one Arrow table at the end."""

    INT_COLS: ClassVar[list[str]] = [
        "eni_idx",
        "srcport",
        "dstport",
        "protocol",
        "packets",
        "bytes",
        "start",
        "end",
        "tcp_flags",
        "traffic_path",
        "hour",
        "stream_id",
    ]
    STR_COLS: ClassVar[list[str]] = [
        "srcaddr",
        "dstaddr",
        "pkt_srcaddr",
        "pkt_dstaddr",
        "action",
        "log_status",
        "type",
        "pkt_src_aws_service",
        "pkt_dst_aws_service",
        "flow_direction",
    ]

    def __init__(self) -> None:
        self.chunks: dict[str, list[np.ndarray]] = {c: [] for c in self.INT_COLS + self.STR_COLS}

    def add(self, n: int, **cols) -> None:
        for c in self.INT_COLS:
            v = cols.get(c, NULL_INT)
            self.chunks[c].append(np.full(n, v, dtype=np.int64) if np.isscalar(v) else np.asarray(v, np.int64))
        for c in self.STR_COLS:
            v = cols.get(c)
            self.chunks[c].append(
                np.full(n, v, dtype=object) if v is None or isinstance(v, str) else np.asarray(v, dtype=object)
            )

    def table(self) -> pa.Table:
        arrays = {}
        for c in self.INT_COLS:
            v = np.concatenate(self.chunks[c]) if self.chunks[c] else np.zeros(0, np.int64)
            arrays[c] = pa.array(v, mask=(v == NULL_INT), type=pa.int64())
        for c in self.STR_COLS:
            v = np.concatenate(self.chunks[c]) if self.chunks[c] else np.zeros(0, object)
            arrays[c] = pa.array(v, type=pa.string())
        return pa.table(arrays)


def _pool(block: str, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.array([host_in(block, rng) for _ in range(size)], dtype=object)


def build_flow_records(
    estate: Estate,
    streams: list[Stream],
    vol: Volumes,
    start_epoch: int,
    rng: np.random.Generator,
    hour_range: tuple[int, int] | None = None,
) -> tuple[pa.Table, list[str]]:
    """Flow log records of every VPC for hours in ``hour_range`` (all hours by default), plus the ENI ids
    that ``eni_idx`` indexes. Callers generate a day at a time so memory stays bounded at any scale."""
    lo, hi = hour_range or (0, vol.hours)
    fph = SCALES[estate.scale]["flows_per_hour"]
    eni_ids = [e.id for e in estate.enis]
    eni_idx = {e: i for i, e in enumerate(eni_ids)}
    col = _Collector()
    for s in streams:
        if s.kind not in FLOW_KINDS:
            continue
        o_h, i_h = vol.out[:, s.id], vol.inn[:, s.id]
        hours = lo + np.flatnonzero((o_h[lo:hi] > 0) | (i_h[lo:hi] > 0))
        if hours.size == 0:
            continue
        tot = o_h[hours] + i_h[hours]
        lam = max(fph * s.flows_weight - 1, 0)
        n_h = np.minimum(1 + rng.poisson(lam, hours.size), np.maximum(1, tot // 2000)).astype(np.int64)
        groups = np.repeat(np.arange(hours.size), n_h)
        w = rng.exponential(1.0, groups.size)
        out_b = _split(o_h[hours], groups, w, hours.size)
        in_b = _split(i_h[hours], groups, w * rng.lognormal(0, 0.3, groups.size), hours.size)
        hour = hours[groups]
        n = groups.size
        start = start_epoch + hour * 3600 + rng.integers(0, 3300, n)
        end = np.minimum(start + rng.integers(1, 600, n), start_epoch + hour * 3600 + 3599)
        eph = rng.integers(32768, 61000, n)
        base = dict(
            hour=hour,
            stream_id=s.id,
            start=start,
            end=end,
            protocol=s.protocol,
            action="ACCEPT",
            log_status="OK",
            type="IPv6" if s.ipv6 else "IPv4",
        )
        _emit_stream(col, estate, s, eni_idx, base, n, out_b, in_b, eph, rng)
    _emit_idle(col, estate, eni_idx, start_epoch, (lo, hi), rng)
    table = col.table()
    return table, eni_ids


def _flow(
    col: _Collector,
    n: int,
    base: dict,
    eni: int,
    addrs: tuple,
    ports: tuple,
    volume: tuple,
    flags: int,
    direction: str | None,
    pkt: tuple | None = None,
    **extra: object,
) -> None:
    """``n`` flow records as the ENI ``eni`` logs them: ``addrs`` (source, destination), ``ports`` (source,
    destination), ``volume`` (bytes, packets); ``pkt``: the packets' own addresses where the ENI's differ (a NAT
    gateway rewrites them)."""
    pkt_src, pkt_dst = pkt if pkt is not None else addrs
    col.add(n, **base, eni_idx=eni, srcaddr=addrs[0], dstaddr=addrs[1], pkt_srcaddr=pkt_src, pkt_dstaddr=pkt_dst,
            srcport=ports[0], dstport=ports[1], bytes=volume[0], packets=volume[1], tcp_flags=flags,
            flow_direction=direction, **extra)  # fmt: skip


def _emit_stream(
    col: _Collector,
    estate: Estate,
    s: Stream,
    eni_idx: dict[str, int],
    base: dict,
    n: int,
    out_b: np.ndarray,
    in_b: np.ndarray,
    eph: np.ndarray,
    rng: np.random.Generator,
) -> None:
    e = estate.eni(s.src)
    me = eni_idx[e.id]
    a_ip = e.ipv6 if s.ipv6 else e.private_ip
    if s.kind in SERVER_SIDE:
        a_port, b_port = np.full(n, s.port), eph
    else:
        a_port, b_port = eph, np.full(n, s.port)
    svc = s.service if s.service in ("S3", "DYNAMODB") else ("CLOUDFRONT" if s.kind == "alb_cf_origin" else None)
    # The stream's two directions: requests (a -> b) and answers (b -> a).
    sent, answered = (out_b, _packets(out_b)), (in_b, _packets(in_b))
    ports_out, ports_back = (a_port, b_port), (b_port, a_port)

    if s.kind in ENI_KINDS:
        f = estate.eni(s.dst_eni)
        path = PATH_SAME_VPC if f.vpc_id == e.vpc_id else (PATH_PEERING if f.region == e.region else PATH_INTER_REGION)
        fi = eni_idx[f.id]
        b_ip = f.private_ip
        _flow(col, n, base, me, (a_ip, b_ip), ports_out, sent, FLAGS_INITIATOR, "egress", traffic_path=path)
        _flow(col, n, base, me, (b_ip, a_ip), ports_back, answered, FLAGS_RESPONDER, "ingress")
        _flow(col, n, base, fi, (a_ip, b_ip), ports_out, sent, FLAGS_INITIATOR, "ingress")
        _flow(col, n, base, fi, (b_ip, a_ip), ports_back, answered, FLAGS_RESPONDER, "egress", traffic_path=path)
        return

    if s.remote_block:
        pool = _pool(s.remote_block, 256 if s.kind in SERVER_SIDE else 24, rng)
    else:
        block = AWS_SERVICE_BLOCKS[(s.service, e.region if s.service != "CLOUDFRONT_ORIGIN_FACING" else "GLOBAL")]
        pool = _pool(block, 16, rng)
    b_ip = pool[rng.integers(0, len(pool), n)]
    if s.kind == "scanner_reject":
        pk = np.maximum(1, in_b // 60)
        _flow(col, n, {**base, "action": "REJECT"}, me, (b_ip, a_ip), ports_back, (in_b, pk), FLAGS_SYN, "ingress")
        return
    initiator_is_me = s.kind not in SERVER_SIDE
    f_out = FLAGS_INITIATOR if initiator_is_me else FLAGS_RESPONDER
    f_in = FLAGS_RESPONDER if initiator_is_me else FLAGS_INITIATOR
    through_nat = s.kind not in IGW_KINDS and s.kind not in GATEWAY_ENDPOINT_KINDS
    # The instance's own ENI: requests leave by its path (to the NAT gateway of its AZ: the VPC), answers return.
    path = PATH_SAME_VPC if through_nat else (PATH_IGW if s.kind in IGW_KINDS else PATH_GATEWAY_ENDPOINT)
    _flow(col, n, base, me, (a_ip, b_ip), ports_out, sent, f_out, "egress", traffic_path=path, pkt_dst_aws_service=svc)
    _flow(col, n, base, me, (b_ip, a_ip), ports_back, answered, f_in, "ingress", pkt_src_aws_service=svc)
    if not through_nat:
        return
    # Through the NAT gateway of the instance's AZ (or the VPC's single NAT gateway).
    nat = estate.nat_for(e.vpc_id, e.az_index)
    ni = eni_idx[nat.eni_id]
    n_ip = nat.private_ip
    n_port = rng.integers(1024, 65535, n)
    _flow(col, n, base, ni, (a_ip, n_ip), ports_out, sent, f_out, "ingress", pkt=(a_ip, b_ip), pkt_dst_aws_service=svc)
    _flow(
        col,
        n,
        base,
        ni,
        (n_ip, b_ip),
        (n_port, b_port),
        sent,
        f_out,
        "egress",
        traffic_path=PATH_IGW,
        pkt_dst_aws_service=svc,
    )
    _flow(col, n, base, ni, (b_ip, n_ip), (b_port, n_port), answered, f_in, "ingress", pkt_src_aws_service=svc)
    _flow(
        col,
        n,
        base,
        ni,
        (n_ip, a_ip),
        ports_back,
        answered,
        f_in,
        "egress",
        pkt=(b_ip, a_ip),
        traffic_path=PATH_SAME_VPC,
        pkt_src_aws_service=svc,
    )


def _emit_idle(
    col: _Collector,
    estate: Estate,
    eni_idx: dict[str, int],
    start_epoch: int,
    hour_range: tuple[int, int],
    rng: np.random.Generator,
) -> None:
    """NODATA windows on idle ENIs and the rare SKIPDATA record on busy ones."""
    windows = np.arange(hour_range[0] * 6, hour_range[1] * 6)
    for e in estate.enis:
        if e.role == "bastion":
            idle = windows[rng.random(windows.size) < 0.25]
        elif e.kind == "vpce":
            idle = windows[rng.random(windows.size) < 0.02]
        else:
            idle = windows[rng.random(windows.size) < 0.0004]
        if idle.size == 0:
            continue
        start = start_epoch + idle * 600 + rng.integers(0, 30, idle.size)
        status = "SKIPDATA" if e.role not in ("bastion",) and e.kind != "vpce" else "NODATA"
        col.add(
            idle.size,
            eni_idx=eni_idx[e.id],
            hour=idle // 6,
            start=start,
            end=start + 600,
            log_status=status,
            stream_id=NULL_INT,
        )


def eni_lookup(estate: Estate, eni_ids: list[str]) -> dict[str, np.ndarray]:
    """Per-ENI constant columns, indexed by ``eni_idx``."""
    out: dict[str, list] = {
        k: []
        for k in (
            "interface_id",
            "account_id",
            "vpc_id",
            "subnet_id",
            "instance_id",
            "region",
            "az_id",
            "is_v6_capable",
        )
    }
    for i in eni_ids:
        e = estate.eni(i)
        out["interface_id"].append(e.id)
        out["account_id"].append(e.account)
        out["vpc_id"].append(e.vpc_id)
        out["subnet_id"].append(e.subnet_id)
        out["instance_id"].append(e.resource_id if e.kind == "ec2" else None)
        out["region"].append(e.region)
        out["az_id"].append(az_id(e.region, e.az_index))
        out["is_v6_capable"].append(e.ipv6 is not None)
    return {k: np.array(v, dtype=object) for k, v in out.items()}
