"""Incidents onto an EventBridge bus: one entry per incident, its detail the incident contract.

An entry must stay under EventBridge's 256 KB limit (its Source, DetailType and Detail in UTF-8, and 14 bytes
for a Time), so an incident too large for it is cut down, smallest entities first, and says how much was
cut (``Incident.truncated``). A request carries at most 10 entries and, to be safe, at most 256 KB of them.
Entries EventBridge refuses are reported, not retried here: the caller decides (the detect Lambda fails the
run so nothing is marked as delivered and the next run sends them again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from egress_optimizer.contracts.events import EVENT_SOURCE, INCIDENT
from egress_optimizer.contracts.incident import Incident

MAX_ENTRY_BYTES = 256 * 1024
MAX_ENTRIES_PER_REQUEST = 10
TIME_BYTES = 14  # how EventBridge counts a Time parameter


@dataclass
class Delivery:
    delivered: list[Incident] = field(default_factory=list)
    refused: list[tuple[Incident, str]] = field(default_factory=list)  # incident, EventBridge's error code

    @property
    def complete(self) -> bool:
        return not self.refused


def entry(incident: Incident, bus: str) -> dict[str, Any]:
    """The PutEvents entry for an incident, within the entry size limit."""
    overhead = len(EVENT_SOURCE.encode()) + len(INCIDENT.encode()) + TIME_BYTES
    fitted = incident.within(MAX_ENTRY_BYTES - overhead)
    return {
        "Source": EVENT_SOURCE,
        "DetailType": INCIDENT,
        "EventBusName": bus,
        "Resources": [],
        # Log-derived text (tags, names) stays inside the detail as data; nothing downstream interprets it.
        "Detail": fitted.model_dump_json(by_alias=True),
    }


def _size(e: dict[str, Any]) -> int:
    return len(e["Source"].encode()) + len(e["DetailType"].encode()) + len(e["Detail"].encode()) + TIME_BYTES


def _batches(pairs: list[tuple[Incident, dict]]) -> list[list[tuple[Incident, dict]]]:
    batches: list[list[tuple[Incident, dict]]] = []
    size = 0
    for pair in pairs:
        n = _size(pair[1])
        if not batches or len(batches[-1]) == MAX_ENTRIES_PER_REQUEST or size + n > MAX_ENTRY_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(pair)
        size += n
    return batches


def put_incidents(client: Any, bus: str, incidents: list[Incident]) -> Delivery:
    """Send incidents to ``bus`` with an EventBridge client; stops at the first request with refusals (the
    rest are reported as refused too, so the caller retries them all)."""
    delivery = Delivery()
    batches = _batches([(i, entry(i, bus)) for i in incidents])
    for n, batch in enumerate(batches):
        resp = client.put_events(Entries=[e for _, e in batch])
        for (incident, _), result in zip(batch, resp["Entries"], strict=True):
            if result.get("EventId"):
                delivery.delivered.append(incident)
            else:
                delivery.refused.append((incident, str(result.get("ErrorCode") or "unknown")))
        if resp.get("FailedEntryCount"):
            later = [(i, "not sent: an earlier request was refused") for b in batches[n + 1 :] for i, _ in b]
            delivery.refused.extend(later)
            break
    return delivery
