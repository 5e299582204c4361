"""Injected incidents and legitimate events, with the ground truth written to ``labels.json``.

Each incident kind changes traffic the way the real failure does (a deleted gateway endpoint moves S3
traffic onto the NAT gateway; a bad cache policy turns hits into origin fetches), emits the CloudTrail
change event that caused it where there is one, and records its affected resources, expected root cause,
expected remediation and magnitude. Dollar impact is filled in after billing, as a counterfactual: the
bill with the incident minus the bill without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from egress_optimizer.estate.topology import Estate
from egress_optimizer.estate.traffic import GB, Stream, Volumes, add_stream

KINDS = [
    "public_s3_exfiltration",
    "nat_gateway_s3_no_endpoint",
    "cross_az_chatty_deployment",
    "cloudfront_cache_hit_collapse",
    "s3_replication_extra_region",
    "slow_ramp",
    "planned_migration",
]

ROOT_CAUSE = {
    "public_s3_exfiltration": ("public_bucket_policy", "s3_block_public_access"),
    "nat_gateway_s3_no_endpoint": ("missing_s3_gateway_endpoint", "create_s3_gateway_endpoint"),
    "cross_az_chatty_deployment": ("deployment_cross_az_traffic", "rollback_deployment_or_enable_az_affinity"),
    "cloudfront_cache_hit_collapse": ("cloudfront_cache_policy_change", "restore_cloudfront_cache_policy"),
    "s3_replication_extra_region": ("replication_rule_misconfiguration", "remove_replication_rule"),
    "slow_ramp": ("gradual_volume_growth", "review_workload_and_set_budget"),
    "planned_migration": ("planned_activity", "none"),
}

# Durations in hours (min, max) and magnitudes (extra traffic as a fraction of the affected series'
# baseline). Each list mixes small (<= 20 %) and large incidents; planned migrations are always large.
DURATION = {
    "public_s3_exfiltration": (3, 10),
    "nat_gateway_s3_no_endpoint": (8, 36),
    "cross_az_chatty_deployment": (10, 40),
    "cloudfront_cache_hit_collapse": (4, 20),
    "s3_replication_extra_region": (24, 72),
    "slow_ramp": (96, 168),
    "planned_migration": (10, 30),
}
MAGNITUDE = {
    "public_s3_exfiltration": [0.18, 0.6, 2.5, 10.0],
    "nat_gateway_s3_no_endpoint": [0.5, 1.0],  # share of the VPC's ENIs whose route tables lost the endpoint
    "cross_az_chatty_deployment": [0.15, 0.5, 1.5, 4.0],
    "cloudfront_cache_hit_collapse": [0.65, 0.45, 0.2],  # hit ratio during the incident (baseline ~0.92)
    "s3_replication_extra_region": [0.12, 0.5, 1.0],  # share of objects the bad rule matches
    # Extra traffic gained per day, as a fraction of the baseline, until RAMP_CAP: a runaway job or a retry
    # storm that builds up over hours (a few percent a day would be indistinguishable from organic growth).
    "slow_ramp": [0.5, 1.0, 2.0],
    "planned_migration": [25.0, 60.0],  # GB per hour at scale 1
}

RAMP_CAP = 3.0  # a ramp stops growing at 4x the baseline
CF_BASE_HIT_RATIO = 0.92
# Export objects are written under these prefixes with these shares; a replication rule with a prefix
# filter copies only that share, which is how the incident's magnitude varies.
EXPORT_PREFIXES = {"daily/": 0.12, "full/": 0.5, "reports/": 0.38}
REPLICATION_PREFIX = {0.12: "daily/", 0.5: "full/", 1.0: ""}


@dataclass
class Incident:
    id: str
    kind: str
    start_hour: int
    end_hour: int
    magnitude: float
    planned: bool = False
    accounts: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    streams: list[int] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    change_events: list[dict] = field(default_factory=list)  # filled by the CloudTrail writer
    dollar_impact_usd: float = 0.0
    dollar_impact_per_day_usd: float = 0.0
    magnitude_pct: float | None = 0.0

    @property
    def shape(self) -> str:
        return "ramp" if self.kind == "slow_ramp" else "step"


def schedule(estate: Estate, streams: list[Stream], hours: int, rng: np.random.Generator) -> list[Incident]:
    """Place each kind at least once after a clean warm-up, more often in longer periods."""
    warmup = max(48, int(hours * 0.25))
    avail = hours - warmup
    incidents: list[Incident] = []
    if avail < 12:
        return incidents
    per_kind = max(1, round(avail / (24 * 11)))
    for kind in KINDS:
        lo_d, hi_d = DURATION[kind]
        hi_d = min(hi_d, max(avail - 6, 6))
        lo_d = min(lo_d, hi_d)
        slot = avail // per_kind
        for k in range(per_kind):
            dur = int(rng.integers(lo_d, hi_d + 1))
            dur = min(dur, max(slot - 2, 4))
            first = warmup + k * slot
            last = max(first, warmup + (k + 1) * slot - dur - 1)
            start = int(rng.integers(first, last + 1))
            mags = MAGNITUDE[kind]
            mag = float(mags[(k + int(rng.integers(0, len(mags)))) % len(mags)])
            inc = Incident(
                f"inc-{len(incidents) + 1:03d}-{kind.replace('_', '-')}",
                kind,
                start,
                min(start + dur, hours),
                mag,
                planned=kind == "planned_migration",
            )
            _bind(inc, estate, streams, rng)
            incidents.append(inc)
    return incidents


def _bind(inc: Incident, estate: Estate, streams: list[Stream], rng: np.random.Generator) -> None:
    """Choose the resources an incident hits and create the streams that carry its traffic."""
    acct = {a.name: a for a in estate.accounts}
    if inc.kind == "public_s3_exfiltration":
        s = next(s for s in streams if s.kind == "s3_internet_get")
        b = estate.bucket(s.src)
        inc.accounts, inc.regions, inc.resources, inc.streams = [b.account], [b.region], [b.name], [s.id]
        n_ips = int(rng.integers(1, 4))
        inc.params = {
            "remote_ips": [f"185.220.{int(rng.integers(100, 102))}.{int(rng.integers(2, 250))}" for _ in range(n_ips)],
            "user_agent": [
                "rclone/v1.66.0",
                "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64 command/s3.sync",
                "Wget/1.21.4",
            ][int(rng.integers(0, 3))],
            "key_prefix": "exports/customers/",
        }
    elif inc.kind == "nat_gateway_s3_no_endpoint":
        vpc = next(v for v in estate.vpcs if v.account == acct["prod-data"].id and v.region == "us-east-1")
        eps = [s for s in streams if s.kind == "s3_endpoint" and estate.eni(s.src).vpc_id == vpc.id]
        k = max(1, round(len(eps) * inc.magnitude))
        chosen = eps[:k]
        nat_streams = []
        for s in chosen:
            ns = add_stream(
                streams,
                estate,
                kind="s3_nat",
                src=s.src,
                service="S3",
                out_gb_hour=0.0,
                in_gb_hour=0.0,
                bucket=s.bucket,
                incident_only=True,
                profile=s.profile,
            )
            nat_streams.append(ns.id)
        subnets = sorted({estate.eni(s.src).subnet_id for s in chosen})
        nats = sorted({estate.nat_for(vpc.id, estate.eni(s.src).az_index).id for s in chosen})
        inc.accounts, inc.regions = [vpc.account], [vpc.region]
        inc.resources = [*nats, vpc.s3_gateway_endpoint, *sorted({s.src for s in chosen})]
        inc.streams = nat_streams
        inc.params = {
            "moved_from": [s.id for s in chosen],
            "vpc_id": vpc.id,
            "subnets": subnets,
            "endpoint_id": vpc.s3_gateway_endpoint,
            "full_delete": k == len(eps),
        }
    elif inc.kind == "cross_az_chatty_deployment":
        vpc = next(v for v in estate.vpcs if v.account == acct["prod-platform"].id and v.region == "us-east-1")
        svcs = [e for e in estate.enis if e.vpc_id == vpc.id and e.role == "svc"]
        dbs = [e for e in estate.enis if e.vpc_id == vpc.id and e.role == "db"]
        new = []
        for e in svcs:
            other = next(d for d in dbs if d.az_index != e.az_index)
            s = add_stream(
                streams,
                estate,
                kind="eni",
                src=e.id,
                dst_eni=other.id,
                port=8080,
                out_gb_hour=0.0,
                in_gb_hour=0.0,
                incident_only=True,
            )
            new.append(s.id)
        inc.accounts, inc.regions = [vpc.account], [vpc.region]
        inc.resources = [e.resource_id for e in svcs] + [e.id for e in svcs]
        inc.streams = new
        cluster = svcs[0].resource_id.split("/")[1]
        inc.params = {
            "cluster": cluster,
            "service": "checkout-api",
            "task_definition": "checkout-api:42",
            "enis": [e.id for e in svcs],
        }
    elif inc.kind == "cloudfront_cache_hit_collapse":
        d = next(d for d in estate.distributions if d.origin_kind == "alb")
        # Misses become origin fetches: the origin load balancer (and its ENIs) carries the extra bytes too.
        origin = [rid for rid, dns in estate.alb_names.items() if dns == d.origin]
        origin_enis = [e.id for e in estate.enis if e.kind == "alb" and e.resource_id in origin]
        inc.accounts, inc.regions, inc.resources = (
            [d.account],
            ["global", d.origin_region],
            [d.id, *origin, *origin_enis],
        )
        inc.streams = [s.id for s in streams if s.kind == "alb_cf_origin"]
        inc.params = {"distribution": d.id, "hit_ratio": inc.magnitude}
    elif inc.kind == "s3_replication_extra_region":
        # Replication copies real objects, so the S3 request generator carries this incident's bytes.
        src = next(b for b in estate.buckets if b.purpose == "exports")
        dst = next(b for b in estate.buckets if b.purpose == "replica" and b.region == "sa-east-1")
        inc.accounts, inc.regions, inc.resources = [src.account], [src.region, dst.region], [src.name, dst.name]
        inc.params = {
            "source_bucket": src.name,
            "destination_bucket": dst.name,
            "rule_prefix": REPLICATION_PREFIX[inc.magnitude],
        }
    elif inc.kind == "slow_ramp":
        enis = [
            e for e in estate.enis if e.role == "api" and e.region == "eu-west-1" and e.account == acct["prod-web"].id
        ]
        ss = [s for s in streams if s.kind == "internet_nat" and s.src in {e.id for e in enis}]
        inc.accounts, inc.regions = [enis[0].account], ["eu-west-1"]
        nat = estate.nat_for(enis[0].vpc_id, 0)
        inc.resources = [nat.id] + [e.id for e in enis]
        inc.streams = [s.id for s in ss]
        inc.params = {"growth_per_day": inc.magnitude}
    elif inc.kind == "planned_migration":
        src = next(
            e
            for e in estate.enis
            if e.role == "worker" and e.region == "us-east-1" and e.account == acct["prod-data"].id
        )
        dst = next(e for e in estate.enis if e.role == "worker" and e.region == "us-west-2")
        s = add_stream(
            streams,
            estate,
            kind="eni",
            src=src.id,
            dst_eni=dst.id,
            port=443,
            out_gb_hour=0.0,
            in_gb_hour=0.0,
            incident_only=True,
            profile="flat",
            flows_weight=3.0,
        )
        inc.accounts, inc.regions = [src.account], [src.region, dst.region]
        inc.resources = [src.resource_id, dst.resource_id, src.id, dst.id]
        inc.streams = [s.id]
        inc.params = {"gb_per_hour": inc.magnitude, "ticket": f"CHG-{int(rng.integers(10000, 99999))}"}


def apply(
    incidents: list[Incident], estate: Estate, streams: list[Stream], vol: Volumes, rng: np.random.Generator
) -> None:
    """Add each incident's bytes to the volume matrix, keeping its share apart in ``vol.by_incident``."""
    from egress_optimizer.estate.topology import SCALES

    scale_volume = SCALES[estate.scale]["volume"]
    for inc in incidents:
        lo, hi = inc.start_hour, inc.end_hour
        extra_out = np.zeros_like(vol.out)
        extra_in = np.zeros_like(vol.inn)
        pre = slice(max(0, lo - 168), lo)  # the week before: the affected series' own baseline
        if inc.kind == "public_s3_exfiltration":
            sid = inc.streams[0]
            base = vol.out[pre, sid].mean()
            extra_out[lo:hi, sid] = np.round(base * inc.magnitude * rng.uniform(0.85, 1.15, hi - lo))
        elif inc.kind == "nat_gateway_s3_no_endpoint":
            for frm, to in zip(inc.params["moved_from"], inc.streams, strict=True):
                extra_out[lo:hi, to] = vol.out[lo:hi, frm]
                extra_in[lo:hi, to] = vol.inn[lo:hi, frm]
                vol.out[lo:hi, frm] = 0
                vol.inn[lo:hi, frm] = 0
        elif inc.kind == "cross_az_chatty_deployment":
            for sid in inc.streams:
                src = streams[sid].src
                cross = [
                    s.id
                    for s in streams
                    if s.src == src
                    and s.kind == "eni"
                    and not s.incident_only
                    and estate.eni(s.dst_eni).az_index != estate.eni(src).az_index
                ]
                base_o = vol.out[pre][:, cross].sum(axis=1).mean()
                base_i = vol.inn[pre][:, cross].sum(axis=1).mean()
                noise = rng.lognormal(0, 0.05, hi - lo)
                extra_out[lo:hi, sid] = np.round(base_o * inc.magnitude * noise)
                extra_in[lo:hi, sid] = np.round(base_i * inc.magnitude * noise)
        elif inc.kind == "slow_ramp":
            ramp = np.minimum(inc.magnitude * (np.arange(hi - lo) + 1) / 24.0, RAMP_CAP)
            for sid in inc.streams:
                extra_out[lo:hi, sid] = np.round(vol.out[lo:hi, sid] * ramp)
                extra_in[lo:hi, sid] = np.round(vol.inn[lo:hi, sid] * ramp * 0.3)
        elif inc.kind == "planned_migration":
            sid = inc.streams[0]
            rate = inc.magnitude * scale_volume * GB
            extra_out[lo:hi, sid] = np.round(rate * rng.uniform(0.9, 1.1, hi - lo))
            extra_in[lo:hi, sid] = np.round(rate * 0.01 * rng.uniform(0.9, 1.1, hi - lo))
        # Cache-hit collapse and replication act on request records (cloudfront_requests, s3_requests).
        vol.out += extra_out
        vol.inn += extra_in
        vol.by_incident[inc.id] = (extra_out, extra_in)


def legitimate_spikes(estate: Estate, start_epoch: int, hours: int, rng: np.random.Generator) -> list[dict]:
    """Legitimate spikes that are not incidents: product releases lift storefront traffic for a few hours
    about weekly, and data backfills multiply the workers' S3 reads through the gateway endpoints."""
    web = {e.id for e in estate.enis if e.kind in ("alb", "ec2") and e.role in ("alb", "web")}
    workers = {e.id for e in estate.enis if e.role == "worker"}
    spikes = []
    for week in range(hours // 168 + 1):
        h = week * 168 + int(rng.integers(24, 150))
        dur = int(rng.integers(2, 5))
        if h + dur < hours:
            spikes.append(
                {
                    "kind": "release",
                    "start_hour": h,
                    "end_hour": h + dur,
                    "factor": float(rng.uniform(1.2, 1.45)),
                    "enis": web,
                    "kinds": {"alb_internet", "internet_igw", "internet_v6"},
                }
            )
    for k in range(hours // 240 + 1):
        h = k * 240 + int(rng.integers(30, 200))
        dur = int(rng.integers(3, 7))
        if h + dur < hours:
            spikes.append(
                {
                    "kind": "backfill",
                    "start_hour": h,
                    "end_hour": h + dur,
                    "factor": float(rng.uniform(2.5, 4.0)),
                    "enis": workers,
                    "kinds": {"s3_endpoint"},
                }
            )
    return sorted(spikes, key=lambda x: (x["start_hour"], x["kind"]))
