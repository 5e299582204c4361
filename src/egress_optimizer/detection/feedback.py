"""User feedback on incidents and planned windows declared ahead of time, kept as small JSON documents.

Verdicts follow AWS Cost Anomaly Detection's YES / NO / PLANNED_ACTIVITY as ``true`` / ``false`` / ``planned``.
They change future scoring of the series the incident involved, never the past:
- ``false`` and ``planned``: those series need 1.5x the evidence for the next 14 days (compounding, at most 3x);
- ``true``: those series alert on 0.8x the evidence for the next 30 days (the user cares about that path).
Planned windows (``planned.json``) suppress every matching hour inside them when declared before they start.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.detection.events import PlannedWindow
from egress_optimizer.detection.panel import SERIES_KEY, Panel
from egress_optimizer.errors import InputError
from egress_optimizer.lake import Lake

FEEDBACK = "detection/feedback.json"
PLANNED = "detection/planned.json"
VERDICTS = {"true": (0.8, 30), "false": (1.5, 14), "planned": (1.5, 14)}
MAX_MULTIPLIER = 3.0


@dataclass
class Feedback:
    incident_id: str
    verdict: str
    at: str
    incident_end: str
    series: list[dict]  # SERIES_KEY values of the incident's series
    note: str = ""


def load_feedback(lake: Lake) -> list[Feedback]:
    return [Feedback(**f) for f in lake.read_json(FEEDBACK)] if lake.exists(FEEDBACK) else []


def record_feedback(lake: Lake, incident: Incident, verdict: str, note: str = "") -> Feedback:
    """Store a verdict for an incident (a later verdict on the same incident replaces the earlier one)."""
    if verdict not in VERDICTS:
        raise InputError(f"verdict must be one of {sorted(VERDICTS)}, not {verdict!r}")
    series = [
        {
            "account": e.account,
            "region": e.region,
            "entity": e.id,
            "destination": e.destination_class,
            "peer_region": e.peer or "",
        }
        for e in incident.entities
    ]
    end = incident.window.end.isoformat()
    fb = Feedback(incident.id, verdict, datetime.now(UTC).isoformat(), end, series, note)
    items = [f for f in load_feedback(lake) if f.incident_id != fb.incident_id] + [fb]
    lake.write_json(FEEDBACK, [asdict(f) for f in items])
    return fb


def threshold_multipliers(panel: Panel, feedback: list[Feedback]) -> np.ndarray:
    """(n_series, n_hours) factor by which each cell's evidence is divided."""
    n, t = panel.shape
    mult = np.ones((n, t))
    if not feedback or n == 0:
        return mult
    index = {tuple(r): i for i, r in enumerate(panel.keys[SERIES_KEY].astype(str).itertuples(index=False))}
    for fb in feedback:
        factor, days = VERDICTS[fb.verdict]
        start = pd.Timestamp(fb.incident_end)
        cols = (panel.hours >= start) & (panel.hours < start + pd.Timedelta(days=days))
        for s in fb.series:
            i = index.get(tuple(str(s.get(k, "")) for k in SERIES_KEY))
            if i is not None:
                mult[i, cols] *= factor
    return np.clip(mult, 1 / MAX_MULTIPLIER, MAX_MULTIPLIER)


def load_planned(lake: Lake) -> list[PlannedWindow]:
    return [PlannedWindow.from_dict(d) for d in lake.read_json(PLANNED)] if lake.exists(PLANNED) else []


def add_planned(lake: Lake, windows: list[dict]) -> int:
    """Append planned windows (dicts with start, end and optional accounts/regions/resources/id)."""
    current = lake.read_json(PLANNED) if lake.exists(PLANNED) else []
    known = {w.get("id") for w in current if w.get("id")}
    added = 0
    for w in windows:
        try:
            PlannedWindow.from_dict(w)
        except (KeyError, ValueError) as exc:
            raise InputError(f"planned window {w!r}: {exc}") from None
        if w.get("id") and w["id"] in known:
            continue
        current.append(dict(w, declared_at=w.get("declared_at") or datetime.now(UTC).isoformat()))
        added += 1
    lake.write_json(PLANNED, current)
    return added


def read_planned_file(path) -> list[dict]:
    """Planned windows from a JSON file: a list, or ``{"planned_activities": [...]}`` as the generator writes."""
    import json
    from pathlib import Path

    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"planned windows file {path}: {exc}") from None
    items = doc.get("planned_activities") if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not all(isinstance(w, dict) for w in items):
        raise InputError(f"planned windows file {path}: expected a list of windows or {{'planned_activities': [...]}}")
    for w in items:
        try:
            PlannedWindow.from_dict(w)
        except (KeyError, ValueError) as exc:
            raise InputError(f"planned windows file {path}: window {w.get('id', '?')!r}: {exc}") from None
    return items
