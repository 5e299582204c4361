"""Evidence: one observed fact about an incident, with a stable id so explanations can cite it.

The id hashes the incident, the kind of fact and what identifies it at its source (an event id, a bucket and
the aspect looked at), so collecting again yields the same ids. ``facts`` holds values as the source gave them;
text that came from logs or tags (user agents, object keys, policy documents, tag values) is data there, shown
to people and to the language model only fenced and escaped, never as instructions.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

FactValue = str | int | float | bool | None | list[str]


class Evidence(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    kind: str = Field(description="cloudtrail_event, bucket_public_access, route_table, cache_behaviour ...")
    source: str = Field(description="The API or lake table it came from, e.g. cloudtrail:LookupEvents.")
    resource: str | None = Field(default=None, description="The resource the fact is about.")
    summary: str = Field(description="One line, written by our code from the facts.")
    facts: dict[str, FactValue] = Field(default_factory=dict)


def evidence_id(incident_id: str, kind: str, key: str) -> str:
    """Stable for the same incident, kind and source key (``ev-<kind>-<12 hex>``)."""
    digest = hashlib.sha256(f"{incident_id}\x1f{kind}\x1f{key}".encode()).hexdigest()[:12]
    return f"ev-{kind.replace('_', '-')}-{digest}"


def make(incident_id: str, kind: str, key: str, source: str, summary: str, **facts: Any) -> Evidence:
    resource = facts.pop("resource", None)
    return Evidence(
        id=evidence_id(incident_id, kind, key),
        kind=kind,
        source=source,
        resource=resource,
        summary=summary,
        facts={k: _fact(v) for k, v in facts.items()},
    )


def _fact(value: Any) -> FactValue:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple | set):
        return [str(v) for v in value]
    return str(value)


def cited(evidence: list[Evidence], ids: list[str]) -> list[Evidence]:
    """The evidence an explanation cites (all of it, when it cites none of what was collected)."""
    wanted = set(ids)
    return [e for e in evidence if e.id in wanted] or list(evidence)


def brief(e: Evidence) -> dict[str, str]:
    """What people are shown of a piece of evidence (reports, dashboards, alerts)."""
    return {"id": e.id, "kind": e.kind, "source": e.source, "summary": e.summary}


def owner_tags(evidence: list[Evidence]) -> dict[str, dict[str, str]]:
    """Resource -> its owner tags (``team``, ``owner``, ``app``) from the tags collector's evidence, for routing."""
    out: dict[str, dict[str, str]] = {}
    for e in evidence:
        if e.kind == "resource_tags" and e.resource:
            tags = {k.removeprefix("tag_"): str(v) for k, v in e.facts.items() if k.startswith("tag_")}
            if tags:
                out[e.resource] = tags
    return out
