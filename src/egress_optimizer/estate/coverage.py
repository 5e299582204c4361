"""Gaps in what the estate logs, as real estates have them.

- a VPC whose flow log was never turned on (a legacy VPC);
- a bucket without server access logging (a partner download bucket serving the internet);
- an hour of flow logs never delivered for one VPC;
- late deliveries: a few hours of one VPC's flow logs arriving hours after their hour;
- a duplicated delivery: one S3 access log object delivered a second time under another key.

``choose`` changes the estate in place (turns the flow log off, adds the unlogged bucket) before any traffic
is modelled, and returns what the writers must drop, delay or repeat; ``labels`` says what each gap hides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from egress_optimizer.estate.topology import Bucket, Estate, owner_tags


@dataclass
class Gaps:
    unlogged_vpcs: list[str] = field(default_factory=list)
    unlogged_buckets: list[str] = field(default_factory=list)
    missing: set[tuple[str, int]] = field(default_factory=set)  # (vpc id, hour index) never delivered
    late: dict[tuple[str, int], int] = field(default_factory=dict)  # (vpc id, hour index) -> hours late
    duplicated: set[tuple[str, int]] = field(default_factory=set)  # (bucket, hour index) delivered twice


def choose(estate: Estate, hours: int, rng: np.random.Generator) -> Gaps:
    gaps = Gaps()
    # The platform team's Irish VPC predates the organisation's flow-log policy.
    legacy = next(
        v for v in estate.vpcs if estate.account(v.account).name == "prod-platform" and v.region == "eu-west-1"
    )
    legacy.flow_log.enabled = False
    gaps.unlogged_vpcs.append(legacy.id)
    web = next(a for a in estate.accounts if a.name == "prod-web")
    downloads = Bucket(
        f"{web.name}-partner-downloads-{web.id[-4:]}",
        web.id,
        "us-east-1",
        "public-downloads",
        tags=owner_tags(web.team, web.owner, "partner-portal"),
    )
    estate.buckets.append(downloads)
    gaps.unlogged_buckets.append(downloads.name)
    logged = [v for v in estate.vpcs if v.flow_log.enabled]
    if hours >= 24:
        vpc = logged[int(rng.integers(0, len(logged)))]
        gaps.missing.add((vpc.id, int(rng.integers(6, hours - 6))))
        other = logged[int(rng.integers(0, len(logged)))]
        first = int(rng.integers(2, hours - 8))
        delay = int(rng.integers(3, 9))
        for h in range(first, first + 3):
            if (other.id, h) not in gaps.missing:
                gaps.late[(other.id, h)] = delay
        bucket = next(b for b in estate.buckets if b.purpose == "public-datasets")
        gaps.duplicated.add((bucket.name, int(rng.integers(1, hours - 1))))
    return gaps


def _iso(epoch: int) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _vpc_resources(estate: Estate, vpc_id: str) -> set[str]:
    """The CUR resource ids of a VPC's ENIs (instance ids, NAT gateway, load balancer and endpoint ARNs)."""
    from egress_optimizer.estate.billing import resource_arn

    out = set()
    for e in estate.enis:
        if e.vpc_id == vpc_id:
            out |= {resource_arn(estate, e), e.resource_id, e.id}
    for n in estate.nats:
        if n.vpc_id == vpc_id:
            out |= {f"arn:aws:ec2:{n.region}:{n.account}:natgateway/{n.id}", n.id}
    return out


def labels(gaps: Gaps, estate: Estate, items, incidents: list, start_epoch: int) -> list[dict]:
    """Each gap with what it hides: the resources, the list-price dollars of their billed data transfer in the
    gap, and the incidents whose resources are among them."""
    out = []
    transfer = (items.unit == "GB") & items.usage_type.str.contains("Bytes")

    def hidden(resources: set[str], hours: set[int] | None = None) -> tuple[float, list[str]]:
        sel = transfer & items.resource_id.isin(resources)
        if hours is not None:
            sel &= items.hour.isin(hours)
        incs = [i.id for i in incidents if resources & set(i.resources)]
        return round(float(items.cost[sel].sum()), 4), incs

    for vpc_id in gaps.unlogged_vpcs:
        v = estate.vpc(vpc_id)
        usd, incs = hidden(_vpc_resources(estate, vpc_id))
        out.append(
            {
                "kind": "vpc_without_flow_logs",
                "resource": vpc_id,
                "account": v.account,
                "region": v.region,
                "hides_usd": usd,
                "hides_incidents": incs,
            }
        )
    for name in gaps.unlogged_buckets:
        b = estate.bucket(name)
        usd, incs = hidden({name})
        out.append(
            {
                "kind": "bucket_without_access_logs",
                "resource": name,
                "account": b.account,
                "region": b.region,
                "hides_usd": usd,
                "hides_incidents": incs,
            }
        )
    for vpc_id, hour in sorted(gaps.missing):
        v = estate.vpc(vpc_id)
        usd, incs = hidden(_vpc_resources(estate, vpc_id), {hour})
        out.append(
            {
                "kind": "missing_delivery",
                "resource": vpc_id,
                "account": v.account,
                "region": v.region,
                "start": _iso(start_epoch + hour * 3600),
                "end": _iso(start_epoch + (hour + 1) * 3600),
                "hides_usd": usd,
                "hides_incidents": [],
            }
        )
    late: dict[str, list[int]] = {}
    for vpc_id, hour in sorted(gaps.late):
        late.setdefault(vpc_id, []).append(hour)
    for vpc_id, hours in late.items():
        v = estate.vpc(vpc_id)
        out.append(
            {
                "kind": "late_delivery",
                "resource": vpc_id,
                "account": v.account,
                "region": v.region,
                "start": _iso(start_epoch + min(hours) * 3600),
                "end": _iso(start_epoch + (max(hours) + 1) * 3600),
                "delay_hours": gaps.late[(vpc_id, hours[0])],
                "hides_usd": 0.0,
                "hides_incidents": [],
            }
        )
    for name, hour in sorted(gaps.duplicated):
        b = estate.bucket(name)
        out.append(
            {
                "kind": "duplicated_delivery",
                "resource": name,
                "account": b.account,
                "region": b.region,
                "start": _iso(start_epoch + hour * 3600),
                "end": _iso(start_epoch + (hour + 1) * 3600),
                "hides_usd": 0.0,
                "hides_incidents": [],
            }
        )
    return out
