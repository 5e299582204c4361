"""The egress detector: signals -> robust rules and an Isolation Forest -> anomalous series-hours.

Modes (``modes.py``; measured against each other by ``egress evaluate``, see bench/RESULTS.md):
- ``ensemble`` (default): the rules, the forest confirming or dropping their short marginal alerts
  (``core.confirmed``);
- ``baseline``: the robust rules alone (the core's univariate rules, fresh-peer bytes, CloudFront cache-miss
  share);
- ``forest``: the Isolation Forest alone, at its contamination threshold.
A hour is damped when the same team's series in other regions rise with it (``breadth``): demand lifts a
whole application at once, leaks and misconfigurations hit one path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from egress_optimizer.detection.baselines import day_starts
from egress_optimizer.detection.context import CONTEXT
from egress_optimizer.detection.core import (
    SUSTAINED_RULE,
    VOLUME_RULES,
    WINDOWS,
    SurpriseThresholds,
    beyond_habit,
    confirmed,
    jumped,
    needs_confirmation,
    standing_evidence,
    surprise_rules,
)
from egress_optimizer.detection.forest import EgressIsolationForest
from egress_optimizer.detection.modes import DEFAULT_MODE, MODES
from egress_optimizer.detection.panel import Panel
from egress_optimizer.detection.signals import (
    DEMAND_BREADTH,
    SIGNALS,
    WARMUP_HOURS,
    compute_signals,
    new_path,
    peer_memory_factor,
    similar_series_groups,
)


@dataclass
class Thresholds(SurpriseThresholds):
    """The core's univariate thresholds plus those of the evidence only the lake has.

    A lone busy hour pages only on a path new at that hour (nothing expected, see ``new_path``): a new
    destination is more suspicious than more of an old one (exfiltration, a lost gateway endpoint and a new
    replication rule all open paths; on a known path lone busy hours are what batch jobs and retries do, and the
    next hour confirms a real change at the cost of one hour). Whether a new path's bytes matter is the
    materiality floor's call (``events``), as for every other event."""

    peer_z: float = 4.0
    cache_z: float = 6.0  # CloudFront cache-miss share, in binomial sigmas
    breadth: float = DEMAND_BREADTH  # damp hours when at least this share of the team's other-region series also rise
    forest_score: float = 0.9995  # the forest mode: more abnormal than this share of the training hours
    free_series_factor: float = 1.0  # > 1: $0 series (origin fetches) need this much more evidence to page


@dataclass
class DetectorParams:
    mode: str = DEFAULT_MODE
    seed: int = 0
    n_estimators: int = 200
    thresholds: Thresholds = field(default_factory=Thresholds)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DetectorParams:
        d = dict(d)
        d["thresholds"] = Thresholds(**d.get("thresholds", {}))
        return cls(**d)


def _strongest_span(spans: list[int], rules: list[np.ndarray], cells: np.ndarray) -> np.ndarray:
    """Per cell in ``cells`` (1 elsewhere): the hours spanned by its strongest rule. Only flagged cells need it,
    so only they are compared (stacking every rule for every cell would copy the whole panel seven times)."""
    out = np.ones(cells.shape, dtype=np.int16)
    rows, cols = np.nonzero(cells)
    if len(rows):
        out[rows, cols] = np.asarray(spans, dtype=np.int16)[np.argmax([rule[rows, cols] for rule in rules], axis=0)]
    return out


def signal_matrix(sig: dict[str, np.ndarray]) -> np.ndarray:
    """(n_series * n_hours, len(SIGNALS)) in row-major series order."""
    return np.stack([sig[k].reshape(-1) for k in SIGNALS], axis=1)


class EgressDetector:
    """``fit(panel)`` trains the forest on the panel's hours after warm-up; ``score_panel`` scores every cell."""

    def __init__(self, params: DetectorParams | None = None):
        self.params = params or DetectorParams()
        if self.params.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.forest: EgressIsolationForest | None = None

    def fit(self, panel: Panel, sig: dict[str, np.ndarray] | None = None) -> EgressDetector:
        sig = sig if sig is not None else compute_signals(panel, demand_breadth=self.params.thresholds.breadth)
        X = signal_matrix({k: v[:, WARMUP_HOURS:] for k, v in sig.items() if k in SIGNALS})
        if len(X) == 0:
            raise ValueError("not enough history to train: need more than three days of hourly features")
        self.forest = EgressIsolationForest(
            n_estimators=self.params.n_estimators,
            random_state=self.params.seed,
            two_sided=tuple(SIGNALS.index(c) for c in CONTEXT),
        )
        self.forest.fit(X)
        return self

    def _rules(
        self, sig: dict[str, np.ndarray], starts: np.ndarray, groups: np.ndarray | None = None
    ) -> tuple[list[int], list[np.ndarray]]:
        """Each rule's evidence per cell, in units of its threshold (>= 1 fires) and of the series' habit, and
        the hours it spans: the core's univariate rules, fresh peers and the CloudFront cache-miss share."""
        th = self.params.thresholds
        windows = {k: sig[f"z{k}"] for k in WINDOWS}
        spans, rules, raw, margins = surprise_rules(sig["z"], sig["zi"], windows, th)
        # The lone-hour rule only where the path is new at this hour (see Thresholds).
        fresh = new_path(sig)
        rules[0], raw[0] = np.where(fresh, rules[0], 0.0), np.where(fresh, raw[0], 0.0)
        # Scales learnt from the series' own past are uncertain in a young history (core.young_factor); the
        # cache-miss share's is binomial, known from the request count.
        youth = [th.young_margin] * len(rules)
        for name, level, young in (("peer_z", th.peer_z, th.young_margin), ("cache_z", th.cache_z, 0.0)):
            if name in sig:
                spans.append(1)
                rules.append(sig[name] / level)
                raw.append(rules[-1])
                margins.append(th.habit_margin)
                youth.append(young)
        per_rule = beyond_habit(rules, raw, starts, margins, groups, young_margins=youth)
        if "peer_z" in sig:
            # A young lake's memory of peers (signals.peer_memory_factor); the habit still learns the plain values.
            peer = VOLUME_RULES
            per_rule[peer] = per_rule[peer] / peer_memory_factor(per_rule[peer].shape[1])[None, :]
        return spans, per_rule

    def evidence(self, sig: dict[str, np.ndarray], starts: np.ndarray) -> np.ndarray:
        """The strongest rule evidence per cell, in units of its threshold (>= 1 fires)."""
        return np.maximum.reduce(self._rules(sig, starts)[1])

    def unpriced(self, sig: dict[str, np.ndarray], anomalous: np.ndarray) -> np.ndarray:
        """Anomalous cells whose evidence is not in dollars of egress: the edge cache stopped serving (its cost
        is the origin's load and requests, which egress pricing does not see), so events on them are judged by
        the statistics, not by the materiality of their priced excess."""
        if "cache_z" not in sig:
            return np.zeros_like(anomalous)
        return anomalous & (sig["cache_z"] >= self.params.thresholds.cache_z)

    def score_panel(
        self, panel: Panel, sig: dict[str, np.ndarray] | None = None, multipliers: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Per cell: ``score`` in [0, 1], ``anomalous`` (bool), ``evidence``, ``evidence_hours`` (on anomalous
        cells, how many hours the rule that flagged it spans, this one and those before it) and
        ``forest_score``.

        ``multipliers`` (from feedback) divide the evidence of the series users have judged.
        """
        sig = sig if sig is not None else compute_signals(panel, demand_breadth=self.params.thresholds.breadth)
        n, t = panel.shape
        th = self.params.thresholds
        starts = day_starts(t, panel.hours[0].hour) if t else np.array([], dtype=int)
        spans, per_rule = self._rules(sig, starts, similar_series_groups(panel.keys))
        scale = np.ones((n, 1)) if multipliers is None else multipliers
        free = panel.values["cost_usd"].sum(axis=1) == 0
        scale = scale * np.where(free, th.free_series_factor, 1.0)[:, None]
        ev = np.maximum.reduce(per_rule) / scale
        mode = self.params.mode
        fs = np.zeros((n, t))
        if mode != "baseline" and self.forest is None:
            raise ValueError(f"the {mode} mode needs a trained model (egress train)")
        if mode == "forest":
            fs = self.forest.anomaly_score(signal_matrix(sig)).reshape(n, t)
            hit = (fs >= th.forest_score) & (np.maximum(sig["z"], sig["z3"]) > 0)
        else:
            if mode == "ensemble":
                # The forest judges only the alerts that need it (a small share of the cells).
                levels_jumped = jumped(sig["z"], sig["zi"], th)
                long_ev = standing_evidence(spans, per_rule, VOLUME_RULES, levels_jumped) / scale
                ask = needs_confirmation(ev, long_ev, th)
                if ask.any():
                    fs[ask] = self.forest.anomaly_score(np.stack([sig[k][ask] for k in SIGNALS], axis=1))
                six_point = per_rule[SUSTAINED_RULE] / scale
                ev = confirmed(ev, long_ev, np.where(ask, fs, 1.0), th, six_point)
            hit = ev >= 1.0
        demand = sig["breadth"] >= th.breadth
        # New paths are never demand: a series with no history keeps its alert whatever else moves.
        hit = hit & (~demand | new_path(sig))
        hit[:, :WARMUP_HOURS] = False
        score = np.clip(np.maximum(1.0 - np.exp(-(np.clip(ev, 0, None) ** 2)), fs * (mode == "forest")), 0, 1)
        return {
            "anomalous": hit,
            "score": score,
            "evidence": ev,
            "evidence_hours": _strongest_span(spans, per_rule, hit),
            "forest_score": fs,
            "signals": sig,
        }
