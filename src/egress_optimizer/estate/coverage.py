"""Gaps in what the estate logs, as real estates have them.

- a VPC whose flow log was never turned on (a legacy VPC);
- a bucket without server access logging (a partner download bucket serving the internet);
- an hour of flow logs never delivered for one VPC;
- late deliveries: a few hours of one VPC's flow logs arriving hours after their hour;
- a duplicated delivery: one S3 access log object delivered a second time under another key;
- a damaged delivery: one flow log object with a record mangled in transit (a NUL byte in it).

``choose`` changes the estate in place (turns the flow log off, adds the unlogged bucket) before any traffic
is modelled, and returns what the writers must drop, delay or repeat; ``labels`` says what each gap hides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from egress_optimizer.estate.calendar import iso
from egress_optimizer.estate.topology import Bucket, Estate, owner_tags

if TYPE_CHECKING:
    import pandas as pd

    from egress_optimizer.estate.incidents import Incident


@dataclass
class Gaps:
    unlogged_vpcs: list[str] = field(default_factory=list)
    unlogged_buckets: list[str] = field(default_factory=list)
    missing: set[tuple[str, int]] = field(default_factory=set)  # (vpc id, hour index) never delivered
    late: dict[tuple[str, int], int] = field(default_factory=dict)  # (vpc id, hour index) -> hours late
    duplicated: set[tuple[str, int]] = field(default_factory=set)  # (bucket, hour index) delivered twice
    damaged: set[tuple[str, int]] = field(default_factory=set)  # (vpc id, hour index) with one mangled record


def choose(estate: Estate, hours: int, rng: np.random.Generator) -> Gaps:
    gaps = Gaps()
    # The platform team's Irish VPC predates the organisation's flow-log policy.
    legacy = next(
        v for v in estate.vpcs if estate.account(v.account).name == "prod-platform" and v.region == "eu-west-1"
    )
    legacy.flow_log.enabled = False
    gaps.unlogged_vpcs.append(legacy.id)
    web = estate.account_named("prod-web")
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
        delay = int(rng.integers(4, 9))  # more than the 3 h within which ingest counts a delivery on time
        for h in range(first, first + 3):
            if (other.id, h) not in gaps.missing:
                gaps.late[(other.id, h)] = delay
        bucket = next(b for b in estate.buckets if b.purpose == "public-datasets")
        gaps.duplicated.add((bucket.name, int(rng.integers(1, hours - 1))))
        text = [v for v in logged if v.flow_log.delivery == "text"]
        vpc, hour = text[int(rng.integers(0, len(text)))], int(rng.integers(0, hours))
        while (vpc.id, hour) in gaps.missing:
            hour = (hour + 1) % hours
        gaps.damaged.add((vpc.id, hour))
    return gaps


def _vpc_resources(estate: Estate, vpc_id: str) -> set[str]:
    """The CUR resource ids of a VPC's ENIs (instance ids, NAT gateway, load balancer and endpoint ARNs)."""
    from egress_optimizer.estate.billing import resource_arn

    return {r for e in estate.enis if e.vpc_id == vpc_id for r in (resource_arn(estate, e), e.resource_id, e.id)}


def labels(gaps: Gaps, estate: Estate, items: pd.DataFrame, incidents: list[Incident], start_epoch: int) -> list[dict]:
    """Each gap with what it hides: the list-price dollars of the billed data transfer it leaves without a log,
    and the incidents it hides (whose resources it covers, in its hours)."""
    transfer = (items.unit == "GB") & items.usage_type.str.contains("Bytes")

    def gap(kind: str, resource: str, account: str, region: str, resources: set[str], hours=None, **extra) -> dict:
        sel = transfer & items.resource_id.isin(resources)
        if hours is not None:
            sel &= items.hour.isin(hours)
        hidden = [
            i.id
            for i in incidents
            if resources & set(i.resources) and (hours is None or any(i.start_hour <= h < i.end_hour for h in hours))
        ]
        window = {}
        if hours is not None:
            window = {"start": iso(start_epoch + min(hours) * 3600), "end": iso(start_epoch + (max(hours) + 1) * 3600)}
        return {
            "kind": kind,
            "resource": resource,
            "account": account,
            "region": region,
            **window,
            **extra,
            "hides_usd": round(float(items.cost[sel].sum()), 4),
            "hides_incidents": hidden,
        }

    def vpc_gap(kind: str, vpc_id: str, hours=None, **extra) -> dict:
        v = estate.vpc(vpc_id)
        return gap(kind, vpc_id, v.account, v.region, _vpc_resources(estate, vpc_id), hours, **extra)

    out = [vpc_gap("vpc_without_flow_logs", v) for v in gaps.unlogged_vpcs]
    for name in gaps.unlogged_buckets:
        b = estate.bucket(name)
        out.append(gap("bucket_without_access_logs", name, b.account, b.region, {name}))
    out += [vpc_gap("missing_delivery", v, {h}) for v, h in sorted(gaps.missing)]
    late: dict[str, list[int]] = {}
    for vpc_id, hour in sorted(gaps.late):
        late.setdefault(vpc_id, []).append(hour)
    # Late and repeated deliveries hide nothing once they have arrived: no dollars, no incidents.
    out += [
        {
            **vpc_gap("late_delivery", v, set(hs), delay_hours=gaps.late[(v, hs[0])]),
            "hides_usd": 0.0,
            "hides_incidents": [],
        }
        for v, hs in late.items()
    ]
    out += [{**vpc_gap("damaged_delivery", v, {h}, records=1), "hides_usd": 0.0} for v, h in sorted(gaps.damaged)]
    for name, hour in sorted(gaps.duplicated):
        b = estate.bucket(name)
        out.append({**gap("duplicated_delivery", name, b.account, b.region, set(), {hour}), "hides_usd": 0.0})
    return out
