"""Recommendations from the lake: find the traffic a planner can make cheaper, run the planner, price the gain.

``recommend(lake)`` reads the ingested lake (``attributed`` from ``egress features``, ``vpc_flow``,
``s3_access`` and the inventory snapshot) and returns typed :class:`Recommendation` objects, each with
monthly dollars (the observed window scaled to 30 days), its evidence and the planner that priced it:

- **S3 replication and repeated cross-region transfers** (``s3_access``): replica writes (the bucket's
  replication role, service-internal writers, ``REST.COPY.OBJECT`` matched to its ``COPY.OBJECT_GET``) and
  reads of the same keys from clients in other regions, grouped by source bucket and destination-region set.
  ``planners.replication.plan_replication`` (Cloudcast) plans each fan-out; its tree is re-priced with the
  list-price catalog (the bill's prices) and adopted only if it beats direct sends including its VMs.
  Destinations whose replica buckets were never read in the window get a "review" recommendation: the
  planned cost with and without them.
- **S3/DynamoDB through NAT gateways** (``vpc_flow``): the public side of every NAT gateway ENI carries exactly
  the bytes the gateway processes (the ``attributed`` NAT rows); remote addresses of S3 or DynamoDB in the
  gateway's own region are what a free gateway endpoint would take off the NAT. One recommendation per VPC and
  service, with the buckets reached through the NAT (``s3_access``) and any endpoint that already exists.
- **Internet egress a CloudFront distribution would price lower** (``attributed``): per load balancer, public
  instance or bucket (not NAT gateways, whose traffic is outbound requests), priced with
  ``planners.calculators`` as the marginal cost on top of the month's other internet egress in the region and
  the CloudFront volume already served in the region's geography.
- **Inter-AZ chatter** (``attributed``): the costliest resource pairs talking across AZs, and VPCs whose
  instances cross AZs to reach a shared NAT gateway (a gateway per AZ costs its hours and public IPv4 address).

Savings are ``current - proposed`` per month; request fees, storage of new replicas and engineering time are
not priced.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb
import pandas as pd

from egress_optimizer.errors import InputError
from egress_optimizer.lake import INVENTORY_DIR, Lake
from egress_optimizer.tables import ATTRIBUTED, S3_ACCESS, VPC_FLOW

GIB = 1024**3
MONTH_DAYS = 30.0
HOURS_PER_MONTH = 730.0
# AWS charges every public IPv4 address $0.005/hour since 2024-02-01 (aws.amazon.com/vpc/pricing/); a NAT
# gateway needs one Elastic IP.
PUBLIC_IPV4_USD_PER_HOUR = 0.005
GATEWAY_SERVICES = {"S3": "s3", "DYNAMODB": "dynamodb"}
WRITE_OPS = ("REST.PUT.OBJECT", "REST.COPY.OBJECT", "REST.POST.UPLOAD", "REST.PUT.PART")
READ_OPS = ("REST.GET.OBJECT",)


@dataclass(frozen=True)
class Evidence:
    """What was observed: the entities involved, the bytes, and the window the monthly figures scale from."""

    entities: list[str]
    bytes: int
    window_start: str  # ISO timestamps of the lake's observed window (all recommendations share it)
    window_end: str
    window_days: float
    observed_usd: float  # what the evidence bytes cost in the window (list prices)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def gib(self) -> float:
        return self.bytes / GIB


@dataclass(frozen=True)
class Recommendation:
    kind: str  # replication-tree | replica-unread | gateway-endpoint | cloudfront | az-affinity | nat-per-az
    title: str
    account: str | None
    region: str | None
    planner: str
    current_monthly_usd: float
    proposed_monthly_usd: float
    evidence: Evidence
    confidence: str = "high"  # "review": the saving is real only if a person confirms the traffic is not needed

    @property
    def monthly_savings_usd(self) -> float:
        return self.current_monthly_usd - self.proposed_monthly_usd

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["monthly_savings_usd"] = self.monthly_savings_usd
        d["evidence"]["gib"] = self.evidence.gib
        return _rounded(d)


def total_monthly_savings(recs: list[Recommendation]) -> float:
    return float(sum(r.monthly_savings_usd for r in recs))


def _rounded(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, 4)
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_rounded(v) for v in obj]
    return obj


@dataclass
class _Ctx:
    lake: Lake
    con: duckdb.DuckDBPyConnection
    inv: Any  # attribution.inventory.Inventory
    catalog: Any  # pricing.PriceCatalog
    ranges: Any  # ipranges.IpRanges
    start: pd.Timestamp
    end: pd.Timestamp
    fanouts: dict[tuple, tuple[float, str, list]] = field(default_factory=dict)  # planner results, memoised

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400

    @property
    def factor(self) -> float:
        """Observed window -> 30 days."""
        return MONTH_DAYS / self.days

    def evidence(self, entities: list[str], nbytes: float, usd: float, **details: Any) -> Evidence:
        return Evidence(
            list(entities), int(nbytes), self.start.isoformat(), self.end.isoformat(), self.days, float(usd), details
        )


def recommend(
    lake: Lake,
    *,
    inventory: Any = None,
    catalog: Any = None,
    ranges: Any = None,
    min_monthly_usd: float = 1.0,
    top: int = 5,
) -> list[Recommendation]:
    """Recommendations for ``lake`` saving at least ``min_monthly_usd`` a month, largest saving first.

    ``top`` caps the CloudFront and AZ-affinity candidates (the long tail is many small resources); replication
    and gateway-endpoint findings are all listed. Needs the ``attributed`` table (``egress features``).
    """
    from egress_optimizer.attribution.inventory import Inventory
    from egress_optimizer.ipranges import IpRanges
    from egress_optimizer.pricing import load_catalog

    if not lake.has(ATTRIBUTED):
        raise InputError(f"lake {lake.root!r} has no 'attributed' table; run `egress features --lake {lake.root}`")
    con = lake.connect([ATTRIBUTED, VPC_FLOW, S3_ACCESS])
    lo, hi = con.execute(f"SELECT epoch(min(hour)), epoch(max(hour)) FROM {ATTRIBUTED.name}").fetchone()
    if lo is None:
        return []
    ctx = _Ctx(
        lake,
        con,
        inventory if inventory is not None else Inventory.from_lake(lake),
        catalog or load_catalog(),
        ranges or IpRanges.load(),
        pd.Timestamp(lo, unit="s", tz="UTC"),
        pd.Timestamp(hi, unit="s", tz="UTC") + pd.Timedelta(hours=1),  # the last hour runs to its end
    )
    tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    recs: list[Recommendation] = []
    if S3_ACCESS.name in tables:
        recs += _replication(ctx, min_monthly_usd)
    if VPC_FLOW.name in tables:
        recs += _gateway_endpoints(ctx)
    recs += _cloudfront(ctx, top)
    recs += _az_affinity(ctx, top)
    recs += _nat_per_az(ctx)
    recs = [r for r in recs if r.monthly_savings_usd >= min_monthly_usd]
    return sorted(recs, key=lambda r: (-r.monthly_savings_usd, r.kind, r.title))


# ------------------------------------------------------------------------------------------- replication


def _bucket_regions(ctx: _Ctx) -> dict[str, str]:
    """Bucket -> region from the inventory, else from the log partition or the request's host name."""
    out = dict(zip(ctx.inv.buckets.bucket, ctx.inv.buckets.region, strict=True)) if len(ctx.inv.buckets) else {}
    rows = ctx.con.execute(rf"""
      SELECT bucket, any_value(nullif(aws_region, 'unknown')),
             any_value(regexp_extract(host_header, '\.s3[.-]([a-z]{{2}}(-[a-z]+)+-\d)\.amazonaws\.com', 1))
      FROM {S3_ACCESS.name} GROUP BY bucket
    """).fetchall()
    for bucket, part, host in rows:
        if bucket not in out and (part or host):
            out[bucket] = part or host
    return out


def _client_regions(ctx: _Ctx, ips: list[str]) -> dict[str, str]:
    """Region of each client address: an ENI of the inventory (private or public address), else AWS's ranges."""
    enis = ctx.inv.enis
    known = dict(zip(enis.ip, enis.region, strict=True))
    known |= {p: r for p, r in zip(enis.public_ip, enis.region, strict=True) if isinstance(p, str)}
    out = {ip: known[ip] for ip in ips if ip in known}
    rest = [ip for ip in ips if ip not in out]
    for ip, owner in zip(rest, ctx.ranges.owners(rest), strict=True):
        if owner is not None and owner.region not in ("GLOBAL", ""):
            out[ip] = owner.region
    return out


def _transfers(ctx: _Ctx, region_of: dict[str, str]) -> pd.DataFrame:
    """Cross-region transfers of S3 objects: (src_bucket, dst_bucket, dst_region, key, bytes, how, time)."""
    con = ctx.con
    repl = ctx.inv.replication
    role_src = dict(zip(repl.role, repl.source_bucket, strict=True)) if len(repl) else {}
    con.register("_roles", pd.DataFrame({"role": list(role_src), "src": list(role_src.values())}, dtype="string"))
    ops = ", ".join(f"'{o}'" for o in WRITE_OPS)
    writes = (
        con.sql(f"""
      WITH w AS (
        SELECT s.bucket, s.key, s.time, s.request_id, s.operation, coalesce(s.object_size, 0) AS size,
               regexp_extract(s.requester, 'assumed-role/([^/]+)/', 1) AS role,
               (s.remote_ip IS NULL OR s.remote_ip = '-' OR s.user_agent LIKE 'aws-internal%') AS internal
        FROM {S3_ACCESS.name} s
        WHERE s.operation IN ({ops}) AND coalesce(s.http_status, 200) < 300 AND s.key IS NOT NULL
      ), copy_src AS (
        SELECT request_id, any_value(bucket) AS bucket FROM {S3_ACCESS.name}
        WHERE operation = 'REST.COPY.OBJECT_GET' GROUP BY request_id
      ), first_write AS (  -- the bucket a key was first written to by a non-internal writer
        SELECT key, arg_min(bucket, time) AS bucket FROM w WHERE NOT internal GROUP BY key
      )
      SELECT w.bucket AS dst_bucket, w.key, w.time, w.size AS bytes,
             coalesce(r.src, c.bucket, CASE WHEN w.internal OR w.role LIKE '%replication%' THEN f.bucket END)
               AS src_bucket,
             CASE WHEN r.src IS NOT NULL OR w.role LIKE '%replication%' THEN 'replication'
                  WHEN c.bucket IS NOT NULL THEN 'copy' ELSE 'service write' END AS how
      FROM w
      LEFT JOIN _roles r ON w.role = r.role
      LEFT JOIN copy_src c ON w.operation = 'REST.COPY.OBJECT' AND c.request_id = w.request_id
      LEFT JOIN first_write f ON f.key = w.key AND f.bucket <> w.bucket
    """)
        .to_arrow_table()
        .to_pandas()
    )
    writes = writes[writes.src_bucket.notna() & (writes.src_bucket != writes.dst_bucket)]
    writes = writes.assign(dst_region=writes.dst_bucket.map(region_of))
    # Reads of a bucket's objects by clients in other regions (every repeated read crosses regions again).
    rops = ", ".join(f"'{o}'" for o in READ_OPS)
    reads = (
        con.sql(f"""
      SELECT bucket AS src_bucket, key, time, coalesce(bytes_sent, 0) AS bytes, remote_ip
      FROM {S3_ACCESS.name}
      WHERE operation IN ({rops}) AND coalesce(http_status, 200) < 300 AND remote_ip IS NOT NULL
        AND remote_ip <> '-' AND coalesce(bytes_sent, 0) > 0
        AND NOT (coalesce(user_agent, '') LIKE 'aws-internal%' OR coalesce(requester, '') LIKE '%replication%')
    """)
        .to_arrow_table()
        .to_pandas()
    )
    client = _client_regions(ctx, sorted(set(reads.remote_ip)))
    reads = reads.assign(dst_region=reads.remote_ip.map(client), dst_bucket=None, how="cross-region read")
    cols = ["src_bucket", "dst_bucket", "dst_region", "key", "bytes", "how", "time"]
    out = pd.concat([writes[cols], reads[cols]], ignore_index=True)
    out["src_region"] = out.src_bucket.map(region_of)
    out = out[out.src_region.notna() & out.dst_region.notna() & (out.src_region != out.dst_region)]
    return out.reset_index(drop=True)


def _replication(ctx: _Ctx, min_monthly_usd: float) -> list[Recommendation]:
    region_of = _bucket_regions(ctx)
    tr = _transfers(ctx, region_of)
    if tr.empty:
        return []
    cat = ctx.catalog
    tr["usd"] = [
        b / GIB * cat.inter_region(s, d) for b, s, d in zip(tr.bytes, tr.src_region, tr.dst_region, strict=True)
    ]
    # Buckets read in the window (by anyone but replication): a replica nobody reads is a candidate to drop.
    read_buckets = {
        r[0]
        for r in ctx.con.execute(
            f"SELECT DISTINCT bucket FROM {S3_ACCESS.name} WHERE operation = 'REST.GET.OBJECT' "
            "AND NOT (coalesce(user_agent, '') LIKE 'aws-internal%' OR coalesce(requester, '') LIKE '%replication%')"
        ).fetchall()
    }
    buckets = ctx.inv.buckets.set_index("bucket") if len(ctx.inv.buckets) else pd.DataFrame()
    f = ctx.factor
    recs: list[Recommendation] = []
    for src, t in tr.groupby("src_bucket", sort=True):
        src_region = t.src_region.iloc[0]
        account = str(buckets.loc[src].account) if src in buckets.index else None
        # Volume to distribute once per destination: each replicated write is a new version (all count); a key
        # read repeatedly from one region needs to get there once (its largest read).
        per = t.groupby(["key", "dst_region", "how"], as_index=False).bytes.agg(["sum", "max"])
        per["unique"] = per["sum"].where(per.how != "cross-region read", per["max"])
        by_key = per.groupby("key").agg(unique=("unique", "max"), dsts=("dst_region", lambda s: tuple(sorted(set(s)))))
        groups = by_key.groupby("dsts").unique.sum()  # destination-region set -> bytes to send to each
        current = float(t.usd.sum()) * f
        if current < min_monthly_usd:
            continue
        planned = [
            (dsts, float(b) / GIB * f, *_best_fanout(ctx, src_region, dsts, float(b) / GIB * f))
            for dsts, b in groups.items()
        ]
        proposed = sum(p[2] for p in planned)
        hows = sorted(set(t.how))
        dst_buckets = sorted(set(t.dst_bucket.dropna()))
        details = {
            "source_bucket": src,
            "source_region": src_region,
            "destinations": {
                d: {"bytes": int(g.bytes.sum()), "transfers": len(g), "buckets": sorted(set(g.dst_bucket.dropna()))}
                for d, g in t.groupby("dst_region")
            },
            "transfer_kinds": hows,
            "fanouts": [
                {"dst_regions": list(d), "monthly_gib": gib, "planned_usd": usd, "plan": how, "tree": edges}
                for d, gib, usd, how, edges in planned
            ],
            "first_seen": str(t.time.min()),
            "last_seen": str(t.time.max()),
        }
        entities = [src, *dst_buckets]
        repeated = int((per["sum"] > per["max"]).sum()) if "cross-region read" in hows else 0
        if current - proposed >= min_monthly_usd:
            what = "planned replication trees" if any(p[3] == "cloudcast" for p in planned) else "one copy per region"
            recs.append(
                Recommendation(
                    "replication-tree",
                    f"{src} ({src_region}) -> {', '.join(sorted(t.dst_region.unique()))}: send {what}",
                    account,
                    src_region,
                    "replication.plan_replication (cloudcast, re-priced at list prices)",
                    current,
                    proposed,
                    ctx.evidence(entities, t.bytes.sum(), t.usd.sum(), repeated_keys=repeated, **details),
                )
            )
        # Replicas nobody read in the window: what the planned fan-out costs with and without that region.
        writes = t[t.dst_bucket.notna()]
        for dst_region, g in writes.groupby("dst_region"):
            dbs = sorted(set(g.dst_bucket))
            if any(b in read_buckets for b in dbs):
                continue
            with_d = without_d = 0.0
            for dsts, gib, usd, _, _ in planned:
                if dst_region not in dsts:
                    continue
                rest = tuple(d for d in dsts if d != dst_region)
                with_d += usd
                without_d += _best_fanout(ctx, src_region, rest, gib)[0] if rest else 0.0
            recs.append(
                Recommendation(
                    "replica-unread",
                    f"{', '.join(dbs)} ({dst_region}) was never read: drop its replication from {src} if it is not a "
                    "recovery copy",
                    account,
                    src_region,
                    "replication.plan_replication with and without the region",
                    with_d,
                    without_d,
                    ctx.evidence(
                        [src, *dbs],
                        g.bytes.sum(),
                        g.usd.sum(),
                        source_bucket=src,
                        source_region=src_region,
                        replica_region=dst_region,
                        replica_buckets=dbs,
                        replica_writes=len(g),
                        replica_reads=0,
                        first_seen=str(g.time.min()),
                        last_seen=str(g.time.max()),
                    ),
                    confidence="review",
                )
            )
    return recs


def _best_fanout(ctx: _Ctx, src_region: str, dsts: tuple[str, ...], gib: float) -> tuple[float, str, list]:
    """Monthly cost of sending ``gib`` from ``src_region`` to every region of ``dsts``: direct sends (what S3
    replication does, no VMs) or the Cloudcast tree with its VMs, whichever is cheaper, at list prices."""
    key = (src_region, dsts, round(gib, 6))
    if key not in ctx.fanouts:
        ctx.fanouts[key] = _plan_fanout(ctx, src_region, dsts, gib)
    return ctx.fanouts[key]


def _plan_fanout(ctx: _Ctx, src_region: str, dsts: tuple[str, ...], gib: float) -> tuple[float, str, list]:
    from egress_optimizer.planners.replication import plan_replication

    cat = ctx.catalog
    direct = float(sum(gib * cat.inter_region(src_region, d) for d in dsts))
    direct_edges = [[f"aws:{src_region}", f"aws:{d}"] for d in dsts]
    if len(dsts) < 2 or gib <= 0:  # AWS prices egress by its source: a relay never beats one direct send
        return direct, "direct", direct_edges
    try:
        plan = plan_replication(f"aws:{src_region}", [f"aws:{d}" for d in dsts], gib, algo="cloudcast")
    except (InputError, KeyError, ValueError):  # a region outside the measured grid: keep direct sends
        return direct, "direct", direct_edges
    edges = plan.edge_gb()
    if {(a, b) for a, b in edges} == {(e[0], e[1]) for e in direct_edges}:
        return direct, "direct", direct_edges
    prof = _profile()
    tree = 0.0
    for (a, b), gb in edges.items():
        if a.startswith("aws:") and b.startswith("aws:"):
            tree += gb * cat.inter_region(a[4:], b[4:])
        else:
            tree += gb * float(prof.cost[prof.idx(a), prof.idx(b)])
    tree += plan.vm_cost_usd
    if tree < direct:
        return float(tree), "cloudcast", [list(e) for e in sorted(edges)]
    return direct, "direct", direct_edges


def _profile() -> Any:
    from egress_optimizer.planners.profiles import load_profile

    return load_profile()


# ------------------------------------------------------------------------------------ gateway endpoints


def _vpc_endpoints(ctx: _Ctx) -> dict[tuple[str, str], str]:
    """(vpc id, 's3' | 'dynamodb') -> id of an existing gateway endpoint, from the lake's inventory copy."""
    out: dict[tuple[str, str], str] = {}
    for path, text in ctx.lake.documents(INVENTORY_DIR).items():
        if not path.endswith("/ec2/describe_vpc_endpoints.json"):
            continue
        doc = json.loads(text)
        for ep in doc.get("VpcEndpoints", []):
            if ep.get("VpcEndpointType") == "Gateway" and ep.get("State", "available") == "available":
                service = str(ep.get("ServiceName", "")).rsplit(".", 1)[-1]
                out[(ep.get("VpcId"), service)] = ep["VpcEndpointId"]
    return out


def _gateway_endpoints(ctx: _Ctx) -> list[Recommendation]:
    enis = ctx.inv.enis
    nat = enis[enis.kind == "nat"][["interface_id", "account", "region", "vpc_id", "ip", "public_ip", "resource_id"]]
    if nat.empty:
        return []
    con = ctx.con
    con.register("_nat", nat)
    con.register("_known_ips", enis[enis.ip.notna()][["ip"]])
    # The public side of a NAT gateway's ENI: one record per direction per connection, the same bytes as its
    # private side, which is what NAT processing bills.
    public = (
        con.sql(f"""
      WITH r AS (
        SELECT n.resource_id AS nat, n.account, n.region, n.vpc_id, v.bytes, v.start,
               CASE WHEN v.srcaddr = n.ip THEN v.dstaddr ELSE v.srcaddr END AS remote
        FROM {VPC_FLOW.name} v JOIN _nat n ON v.interface_id = n.interface_id
        WHERE v.log_status = 'OK' AND v.bytes IS NOT NULL
      )
      SELECT nat, account, region, vpc_id, remote, CAST(sum(bytes) AS DOUBLE) AS bytes, min(start) AS first,
             max(start) AS last
      FROM r WHERE remote NOT IN (SELECT ip FROM _known_ips) GROUP BY ALL
    """)
        .to_arrow_table()
        .to_pandas()
    )
    if public.empty:
        return []
    owners = ctx.ranges.owners(public.remote.tolist())
    public["service"] = [o.service if o else None for o in owners]
    public["service_region"] = [o.region if o else None for o in owners]
    hit = public[public.service.isin(list(GATEWAY_SERVICES)) & (public.service_region == public.region)]
    nat_total = public.groupby("nat").bytes.sum()
    existing = _vpc_endpoints(ctx)
    via_nat = _buckets_via_nat(ctx, nat)
    recs = []
    for (account, region, vpc, service), g in hit.groupby(["account", "region", "vpc_id", "service"]):
        svc = GATEWAY_SERVICES[service]
        rate = ctx.catalog.nat_per_gb(region)
        nbytes = float(g.bytes.sum())
        usd = nbytes / GIB * rate
        nats = g.groupby("nat").bytes.sum().sort_values(ascending=False)
        buckets = via_nat.get((vpc, region), {}) if service == "S3" else {}
        ep = existing.get((vpc, svc))
        label, article = ("S3", "an") if service == "S3" else ("DynamoDB", "a")
        title = (
            f"{label} traffic in {vpc} bypassed gateway endpoint {ep} through NAT: check the route tables"
            if ep
            else f"Create {article} {label} gateway endpoint in {vpc} (its {label} traffic goes through NAT)"
        )
        recs.append(
            Recommendation(
                "gateway-endpoint",
                title,
                str(account),
                region,
                "NAT $/GB vs gateway endpoint (free)",
                usd * ctx.factor,
                0.0,
                ctx.evidence(
                    [vpc, *nats.index.tolist(), *sorted(buckets, key=lambda b: -buckets[b])],
                    nbytes,
                    usd,
                    service=service,
                    nat_usd_per_gb=rate,
                    nat_gateways={n: {"bytes": int(b), "share": b / float(nat_total[n])} for n, b in nats.items()},
                    buckets_via_nat=buckets,
                    existing_endpoint=ep,
                    first_seen=str(g["first"].min()),
                    last_seen=str(g["last"].max()),
                ),
            )
        )
    return recs


def _buckets_via_nat(ctx: _Ctx, nat: pd.DataFrame) -> dict[tuple[str, str], dict[str, int]]:
    """(vpc, region) -> {bucket: bytes} of S3 requests whose client address is one of the VPC's NAT gateways."""
    tables = {r[0] for r in ctx.con.execute("SHOW TABLES").fetchall()}
    pub = nat[nat.public_ip.notna()][["public_ip", "vpc_id", "region"]]
    if S3_ACCESS.name not in tables or pub.empty:
        return {}
    ctx.con.register("_nat_pub", pub)
    rows = ctx.con.execute(f"""
      SELECT p.vpc_id, p.region, s.bucket, sum(coalesce(s.bytes_sent, 0) + coalesce(CASE WHEN s.operation LIKE
             'REST.PUT%' THEN s.object_size END, 0)) AS bytes
      FROM {S3_ACCESS.name} s JOIN _nat_pub p ON s.remote_ip = p.public_ip GROUP BY ALL
    """).fetchall()
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for vpc, region, bucket, b in rows:
        out[(vpc, region)][bucket] = int(b)
    return dict(out)


# ------------------------------------------------------------------------------------------- CloudFront


def _cloudfront(ctx: _Ctx, top: int) -> list[Recommendation]:
    from egress_optimizer.planners.calculators import cdn_vs_direct, egress_cost
    from egress_optimizer.regions import REGIONS

    f = ctx.factor
    rows = (
        ctx.con.sql(f"""
      SELECT account, region, resource_id, destination, CAST(sum(bytes) AS DOUBLE) AS bytes, sum(usd) AS usd,
             min(hour) AS first, max(hour) AS last, count(DISTINCT peer) AS clients
      FROM {ATTRIBUTED.name} WHERE destination IN ('internet', 'other_cloud') AND resource_id IS NOT NULL GROUP BY ALL
    """)
        .to_arrow_table()
        .to_pandas()
    )
    if rows.empty:
        return []
    # The month's internet egress per region (egress to other clouds is billed on the same tiers)
    region_gib = rows.groupby("region").bytes.sum() / GIB * f
    cf = (
        ctx.con.sql(f"""
      SELECT substr(destination, 12) AS geo, CAST(sum(bytes) AS DOUBLE) AS bytes FROM {ATTRIBUTED.name}
      WHERE destination LIKE 'cloudfront:%' GROUP BY 1
    """)
        .to_arrow_table()
        .to_pandas()
    )
    cf_gib = dict(zip(cf.geo, cf.bytes / GIB * f, strict=True))
    cands = rows[
        (rows.destination == "internet")
        & ~rows.resource_id.str.contains(":natgateway/", regex=False)
        & rows.region.isin(list(REGIONS))
    ]
    recs = []
    for r in cands.itertuples(index=False):
        geo = REGIONS[r.region].cloudfront_geo
        gib = r.bytes / GIB * f
        # Marginal costs: this resource's volume on top of the rest of the region's internet egress, and on top
        # of what CloudFront already serves in this geography.
        direct = egress_cost("aws", gib, r.region, already_used_gb=max(float(region_gib[r.region]) - gib, 0.0))
        used = cf_gib.get(geo, 0.0)
        cdn = cdn_vs_direct(used + gib, r.region, geo)["cdn_usd"] - cdn_vs_direct(used, r.region, geo)["cdn_usd"]
        if direct - cdn <= 0:
            continue
        recs.append(
            Recommendation(
                "cloudfront",
                f"Serve {r.resource_id} through CloudFront (clients assumed in {geo})",
                str(r.account),
                r.region,
                "calculators.cdn_vs_direct / egress_cost (marginal)",
                direct,
                cdn,
                ctx.evidence(
                    [r.resource_id],
                    r.bytes,
                    r.usd,
                    geography=geo,
                    monthly_gib=gib,
                    region_internet_monthly_gib=float(region_gib[r.region]),
                    cloudfront_monthly_gib_in_geo=used,
                    distinct_clients=int(r.clients),
                    first_seen=str(r.first),
                    last_seen=str(r.last),
                    excludes="CloudFront request fees",
                ),
            )
        )
    return sorted(recs, key=lambda x: -x.monthly_savings_usd)[:top]


# ------------------------------------------------------------------------------------------------ AZs


def _az_affinity(ctx: _Ctx, top: int) -> list[Recommendation]:
    rows = (
        ctx.con.sql(f"""
      SELECT account, region, resource_id, peer, CAST(sum(bytes) AS DOUBLE) AS bytes, sum(usd) AS usd,
             min(hour) AS first, max(hour) AS last
      FROM {ATTRIBUTED.name} WHERE destination = 'cross-az' AND resource_id IS NOT NULL GROUP BY ALL
    """)
        .to_arrow_table()
        .to_pandas()
    )
    if rows.empty:
        return []
    enis = ctx.inv.enis
    owner = dict(zip(enis.ip, enis.resource_arn, strict=True))
    app = dict(zip(enis.resource_arn, enis.app, strict=True))
    az = dict(zip(enis.resource_arn, enis.az_id, strict=True))
    rows["other"] = rows.peer.map(owner).fillna(rows.peer)
    rows["pair"] = [tuple(sorted((a, b))) for a, b in zip(rows.resource_id, rows.other, strict=True)]
    pairs = rows.groupby(["account", "region", "pair"], as_index=False).agg(
        bytes=("bytes", "sum"), usd=("usd", "sum"), first=("first", "min"), last=("last", "max")
    )
    pairs = pairs.sort_values("usd", ascending=False).head(top)
    recs = []
    for p in pairs.itertuples(index=False):
        a, b = p.pair
        recs.append(
            Recommendation(
                "az-affinity",
                f"Keep {app.get(a) or a} <-> {app.get(b) or b} traffic in one AZ ({a} <-> {b})",
                str(p.account),
                p.region,
                "inter-AZ $/GB (both ends billed)",
                p.usd * ctx.factor,
                0.0,
                ctx.evidence(
                    [a, b],
                    p.bytes,
                    p.usd,
                    azs={a: az.get(a), b: az.get(b)},
                    usd_per_gb_each_direction=ctx.catalog.inter_az_each_direction,
                    first_seen=str(p.first),
                    last_seen=str(p.last),
                ),
                confidence="review",
            )
        )
    return recs


def _nat_per_az(ctx: _Ctx) -> list[Recommendation]:
    """Instances crossing AZs to a shared NAT gateway: a gateway in each of their AZs removes that charge."""
    rows = (
        ctx.con.sql(f"""
      SELECT account, region, resource_id, CAST(sum(bytes) AS DOUBLE) AS bytes, sum(usd) AS usd FROM {ATTRIBUTED.name}
      WHERE destination = 'cross-az to NAT' AND resource_id IS NOT NULL GROUP BY ALL
    """)
        .to_arrow_table()
        .to_pandas()
    )
    if rows.empty:
        return []
    enis = ctx.inv.enis
    res = enis.drop_duplicates("resource_arn").set_index("resource_arn")
    rows["vpc_id"] = rows.resource_id.map(res.vpc_id)
    rows["az_id"] = rows.resource_id.map(res.az_id)
    nat = enis[enis.kind == "nat"]
    recs = []
    for (account, region, vpc), g in rows.dropna(subset=["vpc_id"]).groupby(["account", "region", "vpc_id"]):
        nats = nat[nat.vpc_id == vpc]
        missing = sorted(set(g.az_id.dropna()) - set(nats.az_id))
        if not missing:
            continue
        hourly = ctx.catalog.nat_per_hour(region) + PUBLIC_IPV4_USD_PER_HOUR
        added = len(missing) * hourly * HOURS_PER_MONTH
        recs.append(
            Recommendation(
                "nat-per-az",
                f"Add a NAT gateway in {', '.join(missing)} of {vpc} (instances cross AZs to reach "
                f"{', '.join(sorted(nats.resource_id))})",
                str(account),
                region,
                "inter-AZ $/GB vs NAT gateway + IPv4 hours",
                float(g.usd.sum()) * ctx.factor,
                added,
                ctx.evidence(
                    [vpc, *sorted(nats.resource_id), *g.sort_values("usd", ascending=False).resource_id.tolist()],
                    g.bytes.sum(),
                    g.usd.sum(),
                    azs_without_nat=missing,
                    nat_usd_per_hour=ctx.catalog.nat_per_hour(region),
                    public_ipv4_usd_per_hour=PUBLIC_IPV4_USD_PER_HOUR,
                    added_nat_gateways=len(missing),
                ),
            )
        )
    return recs
