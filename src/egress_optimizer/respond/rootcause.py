"""Root cause from evidence, by rules: deterministic, always available, and what Bedrock's narrative must match.

Each category is a general fact about how cloud egress goes wrong, with the evidence that would show it:

- ``public_object_exfiltration``: a bucket's bytes to the internet dominate, and the bucket is readable by
  everyone (a policy statement or ACL grant, or a change that made it so), or most bytes went to new peers;
- ``nat_gateway_service_traffic``: S3 or DynamoDB traffic dominates on a NAT gateway, and the route tables
  using it have no gateway endpoint for that service (or one was just deleted or modified): gateway endpoints
  are free, NAT processing is not;
- ``chatty_cross_az``: cross-AZ bytes dominate, most convincingly right after a deployment;
- ``cloudfront_cache_collapse``: a distribution's origin fetches or viewer bytes dominate while its edge hit
  ratio fell or its default behaviour caches nothing (or its caching was just changed);
- ``unintended_replication``: replication bytes dominate, with a rule (or a new one) sending them to the
  region the bytes went to;
- ``planned_work``: the incident is marked planned;
- ``organic_growth``: known paths to known peers grew, with no configuration change on them;
- ``unknown``: no category reaches ``MIN_CONFIDENCE``: an honest answer when the evidence does not fit.
Confidence adds up what supports a category, capped at 0.95; the evidence ids it rests on are cited.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from egress_optimizer.contracts.incident import Incident, Status
from egress_optimizer.respond.evidence import Evidence


class Category(str, Enum):  # noqa: UP042 - plain string values in JSON
    public_object_exfiltration = "public_object_exfiltration"
    nat_gateway_service_traffic = "nat_gateway_service_traffic"
    chatty_cross_az = "chatty_cross_az"
    cloudfront_cache_collapse = "cloudfront_cache_collapse"
    unintended_replication = "unintended_replication"
    organic_growth = "organic_growth"
    planned_work = "planned_work"
    unknown = "unknown"


# The catalogue's action for each category (issue 19 implements and extends the catalogue).
ACTIONS = {
    Category.public_object_exfiltration: ["s3.block-public-access", "s3.remove-public-policy-statements"],
    Category.nat_gateway_service_traffic: ["vpc.add-gateway-endpoint"],
    Category.cloudfront_cache_collapse: ["cloudfront.attach-caching-policy"],
    Category.unintended_replication: ["s3.disable-replication-rule"],
}
MIN_CONFIDENCE = 0.5
CAP = 0.95
DEPLOYMENT_EVENTS = {"UpdateService", "CreateService", "CreateDeployment"}


class Candidate(BaseModel):
    model_config = ConfigDict(frozen=True)
    category: Category
    confidence: float


class Explanation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    incident_id: str
    category: Category
    confidence: float = Field(ge=0, le=1)
    summary: str
    evidence_ids: list[str]
    action_ids: list[str]
    alternatives: list[Candidate] = Field(default_factory=list)
    source: str = "rules"


def _share(incident: Incident, test: Callable[[str], bool]) -> float:
    """Share of the incident's impact on paths whose destination class passes ``test`` (of its bytes, when the
    paths are free: a cache collapse's origin fetches cost nothing as transfer)."""
    for weight in (lambda e: max(e.impact_dollars, 0.0), lambda e: float(e.bytes)):
        total = sum(weight(e) for e in incident.entities)
        if total > 0:
            return sum(weight(e) for e in incident.entities if test(e.destination_class)) / total
    return 0.0


def _of(evidence: list[Evidence], kind: str, **facts: object) -> list[Evidence]:
    return [e for e in evidence if e.kind == kind and all(e.facts.get(k) == v for k, v in facts.items())]


def _changes(evidence: list[Evidence], names: set[str], touching: bool | None = None) -> list[Evidence]:
    return [
        e
        for e in _of(evidence, "cloudtrail_event")
        if e.facts.get("event_name") in names and (touching is None or e.facts.get("touches_incident") == touching)
    ]


def _score(base: float, *support: tuple[float, list[Evidence]]) -> tuple[float, list[Evidence]]:
    cited = [e for _, found in support for e in found]
    return min(CAP, base + sum(w for w, found in support if found)), cited


def _exfiltration(incident: Incident, ev: list[Evidence]) -> tuple[float, list[Evidence]]:
    share = _share(incident, lambda d: d == "internet")
    buckets = {e.id for e in incident.entities if e.kind.value == "s3_bucket" and e.destination_class == "internet"}
    if not buckets or share < 0.5:
        return 0.0, []
    public = [
        e
        for e in ev
        if e.resource in buckets
        and (
            (e.kind == "bucket_policy" and (e.facts.get("public_statements") or 0) > 0)
            or (e.kind == "bucket_acl" and e.facts.get("public_permissions"))
            or (e.kind == "bucket_public_access" and e.facts.get("policy_is_public") is True)
        )
    ]
    made_public = _changes(
        ev, {"PutBucketPolicy", "PutBucketAcl", "DeletePublicAccessBlock", "PutPublicAccessBlock"}, True
    )
    fresh = [
        e for e in _of(ev, "top_peers") if e.resource in buckets and (e.facts.get("new_peer_byte_share") or 0) >= 0.5
    ]
    return _score(0.3 * share, (0.35, public), (0.2, made_public), (0.2, fresh))


def _nat_service(incident: Incident, ev: list[Evidence]) -> tuple[float, list[Evidence]]:
    share = _share(incident, lambda d: d.startswith("aws-service:") and d.endswith("via NAT"))
    if share < 0.5:
        return 0.0, []
    services = {d.split(":", 1)[1].split(" ", 1)[0].lower() for d in incident.destinations if d.endswith("via NAT")}
    missing = [
        e for e in _of(ev, "route_table") if set(e.facts.get("services_without_gateway_endpoint") or []) & services
    ]
    endpoint_changes = _changes(ev, {"DeleteVpcEndpoints", "ModifyVpcEndpoint"})
    return _score(0.3 * share, (0.4, missing), (0.25, endpoint_changes))


def _cross_az(incident: Incident, ev: list[Evidence]) -> tuple[float, list[Evidence]]:
    share = _share(incident, lambda d: d.startswith("cross-az"))
    if share < 0.5:
        return 0.0, []
    deployments = _changes(ev, DEPLOYMENT_EVENTS)
    return _score(0.45 * share, (0.3, deployments))


def _cache(incident: Incident, ev: list[Evidence]) -> tuple[float, list[Evidence]]:
    share = _share(incident, lambda d: d.startswith("cloudfront"))
    if share < 0.5:
        return 0.0, []
    off = [e for e in _of(ev, "cache_behaviour") if e.facts.get("caches_nothing")]
    dropped = [
        e
        for e in ev
        if e.kind in ("cache_behaviour", "cache_hit_ratio")
        and isinstance(e.facts.get("hit_ratio"), float)
        and isinstance(e.facts.get("hit_ratio_before"), float)
        and e.facts["hit_ratio_before"] - e.facts["hit_ratio"] >= 0.2
    ]
    changed = _changes(ev, {"UpdateDistribution", "CreateInvalidation"})
    return _score(0.3 * share, (0.3, off), (0.3, dropped), (0.25, changed))


def _replication(incident: Incident, ev: list[Evidence]) -> tuple[float, list[Evidence]]:
    share = _share(incident, lambda d: d == "replication")
    if share < 0.5:
        return 0.0, []
    peers = {e.peer for e in incident.entities if e.destination_class == "replication"}
    rules = [e for e in _of(ev, "replication_rule") if e.facts.get("destination_region") in peers]
    added = _changes(ev, {"PutBucketReplication"})
    return _score(0.35 * share, (0.3, rules), (0.25, added))


def _growth(incident: Incident, ev: list[Evidence]) -> tuple[float, list[Evidence]]:
    """Known paths to known peers, more of them, with no change to the resources involved."""
    peers = _of(ev, "top_peers")
    known = [e for e in peers if (e.facts.get("new_peer_byte_share") or 0) < 0.2]
    if any(e.facts.get("touches_incident") for e in _of(ev, "cloudtrail_event")):
        return 0.0, []
    return _score(0.35, (0.2, known))


RULES: dict[Category, Callable[[Incident, list[Evidence]], tuple[float, list[Evidence]]]] = {
    Category.public_object_exfiltration: _exfiltration,
    Category.nat_gateway_service_traffic: _nat_service,
    Category.chatty_cross_az: _cross_az,
    Category.cloudfront_cache_collapse: _cache,
    Category.unintended_replication: _replication,
    Category.organic_growth: _growth,
}


def explain(incident: Incident, evidence: list[Evidence]) -> Explanation:
    """The most supported category (``unknown`` below ``MIN_CONFIDENCE``), its evidence and actions."""
    if incident.status == Status.planned:
        return _explanation(incident, Category.planned_work, 0.9, [], [])
    scored = {c: rule(incident, evidence) for c, rule in RULES.items()}
    ranked = sorted(scored.items(), key=lambda kv: (-kv[1][0], list(Category).index(kv[0])))
    candidates = [Candidate(category=c, confidence=round(s, 3)) for c, (s, _) in ranked if s > 0]
    best, (confidence, cited) = ranked[0]
    if confidence < MIN_CONFIDENCE:
        return _explanation(incident, Category.unknown, round(1 - confidence, 3), [], candidates)
    return _explanation(incident, best, round(confidence, 3), cited, candidates[1:])


def _explanation(
    incident: Incident, category: Category, confidence: float, cited: list[Evidence], others: list[Candidate]
) -> Explanation:
    ids = list(dict.fromkeys(e.id for e in cited))
    return Explanation(
        incident_id=incident.id,
        category=category,
        confidence=confidence,
        summary=summarise(incident, category, cited),
        evidence_ids=ids,
        action_ids=ACTIONS.get(category, []),
        alternatives=others,
    )


def summarise(incident: Incident, category: Category, cited: list[Evidence]) -> str:
    """One paragraph written by code: the category, the dollars (from the incident) and the cited facts."""
    top = max(incident.entities, key=lambda e: e.impact_dollars, default=None)
    where = f" on {top.id.rsplit(':', 1)[-1]} ({top.destination_class})" if top else ""
    head = (
        f"{category.value.replace('_', ' ').capitalize()}{where}: ${incident.impact.total_usd:,.2f} above expected "
        f"from {incident.window.start:%Y-%m-%d %H:%M} to {incident.window.end:%H:%M} UTC "
        f"(${incident.impact.per_day_usd:,.2f}/day)."
    )
    facts = " ".join(f"[{e.id}] {e.summary}." for e in cited[:6])
    return f"{head} {facts}".strip()
