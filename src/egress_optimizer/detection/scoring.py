"""Score a panel and form events: the decision path shared by the lake runs, SageMaker and evaluation.

Planned hours never alert; feedback on earlier events scales the evidence a series needs.
"""

from __future__ import annotations

import numpy as np

from egress_optimizer.detection.detector import EgressDetector
from egress_optimizer.detection.events import MIN_IMPACT_SHARE, Event, PlannedWindow, build_events, planned_mask
from egress_optimizer.detection.feedback import Feedback, threshold_multipliers
from egress_optimizer.detection.panel import Panel
from egress_optimizer.detection.signals import compute_signals


def score(
    detector: EgressDetector,
    panel: Panel,
    planned: list[PlannedWindow],
    feedback: list[Feedback] | None = None,
    min_impact_usd: float = 0.0,
    min_impact_pct: float = 0.0,
    min_impact_share: float = MIN_IMPACT_SHARE,
) -> tuple[dict[str, np.ndarray], list[Event]]:
    """Score a panel and form events (planned hours never alert)."""
    exclude = planned_mask(panel, planned)
    sig = compute_signals(panel, exclude, demand_breadth=detector.params.thresholds.breadth)
    return score_signals(detector, panel, sig, exclude, feedback, min_impact_usd, min_impact_pct, min_impact_share)


def score_signals(
    detector: EgressDetector,
    panel: Panel,
    sig: dict[str, np.ndarray],
    exclude: np.ndarray,
    feedback: list[Feedback] | None = None,
    min_impact_usd: float = 0.0,
    min_impact_pct: float = 0.0,
    min_impact_share: float = MIN_IMPACT_SHARE,
) -> tuple[dict[str, np.ndarray], list[Event]]:
    """The decision half of ``score`` on signals computed once (evaluation reuses them across seeds)."""
    out = detector.score_panel(panel, sig, threshold_multipliers(panel, feedback or []))
    out["anomalous"] &= ~exclude
    events = build_events(
        panel,
        out["anomalous"],
        out["score"],
        sig["expected_usd"],
        3,
        min_impact_usd,
        min_impact_pct,
        min_impact_share,
        unpriced=detector.unpriced(sig, out["anomalous"]),
    )
    return out, events
