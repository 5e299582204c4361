"""One incident's root cause without the workflow: the same collectors and rules the workflow's steps run
(``egress explain``, the demo's report and ``egress evaluate``'s root-cause accuracy).

Offline by default: the lake's traffic and CloudTrail log files (``trail_roots``); with ``clients`` (live AWS
access) also the resources' current configuration, and ``LookupEvents`` when no trail files are given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.lake import Lake
from egress_optimizer.respond import rootcause
from egress_optimizer.respond.collectors.changes import lookup_changes, trail_changes
from egress_optimizer.respond.collectors.resources import resource_evidence
from egress_optimizer.respond.collectors.traffic import traffic_evidence
from egress_optimizer.respond.evidence import Evidence

# The generator's label vocabulary for root causes, as our categories (for ``egress evaluate``).
LABELLED_CAUSES = {
    "public_bucket_policy": rootcause.Category.public_object_exfiltration,
    "missing_s3_gateway_endpoint": rootcause.Category.nat_gateway_service_traffic,
    "deployment_cross_az_traffic": rootcause.Category.chatty_cross_az,
    "cloudfront_cache_policy_change": rootcause.Category.cloudfront_cache_collapse,
    "replication_rule_misconfiguration": rootcause.Category.unintended_replication,
    "gradual_volume_growth": rootcause.Category.organic_growth,
    "planned_activity": rootcause.Category.planned_work,
}


def gather(
    incident: Incident,
    lake: Lake | None = None,
    trail_roots: Iterable[str] = (),
    clients_for: Callable[[str, str], Any] | None = None,
    cost_anomalies: bool = True,
) -> list[Evidence]:
    """Every piece of evidence the available sources give, in collector order (``cost_anomalies``: also ask
    Cost Anomaly Detection, with live access)."""
    evidence: list[Evidence] = []
    roots = list(trail_roots)
    for root in roots:
        evidence += trail_changes(root, incident)
    if clients_for is not None:
        clients = clients_for(incident.account, incident.region)
        if not roots:
            evidence += lookup_changes(clients.for_service("cloudtrail"), incident)
        evidence += resource_evidence(clients, incident, cost_anomalies)
    if lake is not None:
        evidence += traffic_evidence(lake, incident)
    return list({e.id: e for e in evidence}.values())


def explain_incident(
    incident: Incident,
    lake: Lake | None = None,
    trail_roots: Iterable[str] = (),
    clients_for: Callable[[str, str], Any] | None = None,
) -> tuple[rootcause.Explanation, list[Evidence]]:
    evidence = gather(incident, lake, trail_roots, clients_for)
    return rootcause.explain(incident, evidence), evidence


def trail_roots_in(folder: str | Path) -> list[str]:
    """Folders under ``folder`` (itself included) that hold CloudTrail deliveries (``AWSLogs/<account>/CloudTrail``)."""
    base = Path(folder)
    roots = {p.parent.parent.parent for p in base.glob("AWSLogs/*/CloudTrail")}
    roots |= {p.parent.parent.parent for p in base.glob("*/AWSLogs/*/CloudTrail")}
    return sorted(str(r) for r in roots)


def rca_accuracy(explained: list[tuple[str, rootcause.Category]]) -> dict[str, Any]:
    """Share of (labelled cause, our category) pairs that agree, overall and per labelled cause."""
    by_cause: dict[str, list[bool]] = {}
    for cause, category in explained:
        by_cause.setdefault(cause, []).append(LABELLED_CAUSES.get(cause) == category)
    hits = [h for v in by_cause.values() for h in v]
    return {
        "rca_accuracy": sum(hits) / len(hits) if hits else None,
        "rca_explained": len(hits),
        "rca_by_cause": {c: {"incidents": len(v), "correct": sum(v)} for c, v in sorted(by_cause.items())},
    }
