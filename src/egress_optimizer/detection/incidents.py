"""Detector events as incidents: the contract (``contracts.incident``) the next stages read."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict

import pandas as pd

from egress_optimizer.contracts.incident import (
    Entity,
    EntityKind,
    EvidenceRef,
    Impact,
    Incident,
    RootCause,
    RootCauseImpact,
    Window,
)
from egress_optimizer.detection.events import Event

# ARN service and resource type -> kind (arn:aws:<service>:<region>:<account>:<type>/<id>).
_ARN_KINDS = {
    ("ec2", "instance"): EntityKind.instance,
    ("ec2", "natgateway"): EntityKind.nat_gateway,
    ("ec2", "network-interface"): EntityKind.network_interface,
    ("ec2", "vpc-endpoint"): EntityKind.vpc_endpoint,
    ("ec2", "transit-gateway-attachment"): EntityKind.transit_gateway_attachment,
    ("ecs", "task"): EntityKind.ecs_task,
    ("elasticloadbalancing", "loadbalancer"): EntityKind.load_balancer,
    ("cloudfront", "distribution"): EntityKind.cloudfront_distribution,
    ("s3", ""): EntityKind.s3_bucket,
}
# Bare ids by their AWS prefix.
_ID_KINDS = {
    "i-": EntityKind.instance,
    "eni-": EntityKind.network_interface,
    "nat-": EntityKind.nat_gateway,
    "vpce-": EntityKind.vpc_endpoint,
    "tgw-attach-": EntityKind.transit_gateway_attachment,
}
_ARN = re.compile(r"^arn:aws[\w-]*:(?P<service>[\w-]+):[\w-]*:\d*:(?P<resource>.*)$")
# S3 bucket names: 3-63 lower-case letters, digits, dots and hyphens.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def entity_kind(entity: str, product: str | None = None) -> EntityKind:
    """What kind of resource an attributed entity is, from its ARN, its id prefix, or (a bare bucket name) the
    product that billed it."""
    m = _ARN.match(entity)
    if m:
        resource = m.group("resource")
        rtype = resource.split("/", 1)[0] if "/" in resource else ("" if m.group("service") == "s3" else resource)
        return _ARN_KINDS.get((m.group("service"), rtype), EntityKind.other)
    for prefix, kind in _ID_KINDS.items():
        if entity.startswith(prefix):
            return kind
    if product == "AmazonS3" and _BUCKET.match(entity):
        return EntityKind.s3_bucket
    return EntityKind.other


def _stable_id(*parts: str) -> str:
    return "ev-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _evidence(event: Event) -> list[EvidenceRef]:
    """One reference per entity: its anomalous series-hours (and their signals) in the ``anomalies`` table."""
    refs = []
    for e in event.entities:
        peer = e.get("peer_region") or ""
        refs.append(
            EvidenceRef(
                id=_stable_id(event.id, "anomalous_series", e["entity"], e["destination"], peer),
                kind="anomalous_series",
                source="anomalies",
                summary=(
                    f"{e.get('anomalous_hours', 0)} anomalous hour(s) of {e['entity']} to {e['destination']}"
                    + (f" ({peer})" if peer else "")
                    + f": ${e['actual_usd']:,.2f} against ${e['expected_usd']:,.2f} expected"
                ),
                query={"incident_id": event.id, "entity": e["entity"], "destination": e["destination"], "peer": peer},
            )
        )
    return refs


def _root_causes(event: Event) -> list[RootCause]:
    """Impact per (service, usage type), largest first: what AWS Cost Anomaly Detection would name."""
    contribution: dict[tuple[str, str], float] = defaultdict(float)
    for e in event.entities:
        key = (e.get("product") or "unknown", e.get("usage_type") or "unknown")
        contribution[key] += float(e["impact_usd"])
    return [
        RootCause(
            linked_account=event.account,
            region=event.region,
            service=service,
            usage_type=usage_type,
            impact=RootCauseImpact(contribution=round(value, 4)),
        )
        for (service, usage_type), value in sorted(contribution.items(), key=lambda kv: -kv[1])
    ]


def _entity(event: Event, e: dict) -> Entity:
    share = float(e["impact_usd"]) / event.impact_usd if event.impact_usd > 0 else 0.0
    return Entity(
        kind=entity_kind(e["entity"], e.get("product")),
        id=e["entity"],
        account=event.account,
        region=event.region,
        destination_class=e["destination"],
        peer=e.get("peer_region") or None,
        via=e.get("via") or None,
        team=e.get("team") or None,
        bytes=int(e.get("bytes", 0)),
        dollars=float(e["actual_usd"]),
        expected_dollars=float(e["expected_usd"]),
        impact_dollars=float(e["impact_usd"]),
        share=round(share, 4),
        cache_hit_ratio=e.get("cache_hit_ratio"),
        cache_hit_ratio_before=e.get("cache_hit_ratio_before"),
    )


def to_incident(event: Event) -> Incident:
    """The incident contract for a detector event (status open)."""
    return Incident(
        id=event.id,
        accounts=[event.account],
        region=event.region,
        window=Window(
            start=pd.Timestamp(event.start).to_pydatetime(),
            end=pd.Timestamp(event.end).to_pydatetime(),
            detected_at=pd.Timestamp(event.detected_at).to_pydatetime(),
        ),
        severity=event.severity,
        score=min(max(event.max_score, 0.0), 1.0),
        impact=Impact(
            expected_usd=event.expected_usd,
            actual_usd=event.actual_usd,
            total_usd=event.impact_usd,
            percentage=event.impact_pct,
            per_day_usd=event.impact_usd_per_day,
            max_hourly_usd=event.max_hourly_impact_usd,
        ),
        root_causes=_root_causes(event),
        entities=[_entity(event, e) for e in event.entities],
        destinations=event.destinations,
        teams=event.teams,
        evidence=_evidence(event),
    )
