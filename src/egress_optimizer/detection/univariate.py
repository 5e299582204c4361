"""Online anomaly scores for bring-your-own metric series (``egress score-series``).

The series can be anything a user exports (a CUR cost roll-up, a network metric), so nothing here is tuned
per series. Every score uses only rows up to and including its own (the online contract):

- expected value: the median of the same phase in the previous cycles when the warm-up shows a cycle (daily
  or weekly, found by autocorrelation at the periods the timestamps suggest), following the level over a
  cycle; else the median of a trailing window;
- surprise: the lake detector's own core (``core``) on the residuals, in both directions (a user's metric may
  fail by dropping): its rules, thresholds, autocorrelation and per-series habit;
- score: ``1 - 0.1 ** (evidence ** 4)``, 0.9 exactly where the lake detector would alert;
- with ``forest``, the lake's ensemble: an Isolation Forest fitted on the warm-up rows' features (the point's
  surprise, innovation and window means) confirms or drops short marginal alerts and six-point alerts on a
  level that jumped (``core.confirmed``).
Warm-up rows (the first 15 %, at most 750) and missing rows score 0.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from egress_optimizer.detection.baselines import stepped_spread
from egress_optimizer.detection.core import (
    SUSTAINED_RULE,
    WINDOWS,
    SurpriseThresholds,
    ar1_coefficient,
    beyond_habit,
    confirmed,
    innovation_z,
    jumped,
    standing_evidence,
    surprise_rules,
    window_z,
)
from egress_optimizer.detection.forest import EgressIsolationForest


def warmup_rows(n: int, fraction: float = 0.15, cap: int = 750) -> int:
    return min(int(np.ceil(n * fraction)), cap)


def _past_window_stat(x: np.ndarray, w: int, fn) -> np.ndarray:
    """``out[t] = fn(x[t-w:t])`` (strictly the past), NaN where fewer than ``w // 2`` values exist."""
    n = len(x)
    out = np.full(n, np.nan)
    if n < 2:
        return out
    padded = np.concatenate([np.full(w, np.nan), x])
    win = sliding_window_view(padded[:-1], w)[:n]  # window for t ends at t-1
    enough = np.sum(~np.isnan(win), axis=1) >= max(2, w // 2)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        vals = fn(win, axis=1)
    out[enough] = vals[enough]
    return out


def detect_period(values: np.ndarray, candidates: list[int]) -> int | None:
    """The candidate lag with the strongest autocorrelation (>= 0.3) in ``values``, if any."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    best, best_r = None, 0.3
    for p in candidates:
        if p < 2 or len(x) < 2 * p + 2:
            continue
        a, b = x[p:], x[:-p]
        if np.std(a) == 0 or np.std(b) == 0:
            continue
        r = float(np.corrcoef(a, b)[0, 1])
        if r > best_r:
            best, best_r = p, r
    return best


def period_candidates(timestamps: np.ndarray | None, n: int) -> list[int]:
    """Lags of one day and one week at the series' sampling interval, or generic lags without timestamps."""
    step = _median_step(timestamps)
    if step:
        return sorted({round(s / step) for s in (86400, 7 * 86400) if 2 <= round(s / step) <= n // 2})
    return [p for p in (7, 12, 24, 48, 96, 168, 288) if p <= n // 2]


@dataclass
class OnlineSeriesScorer:
    """Scores a whole series at once; the score at row t depends only on rows <= t. The surprise of each row is
    the lake detector's (``core``): the same rules, thresholds and habit, on residuals from the expected value
    below, in both directions (a user's metric may fail by dropping)."""

    warmup_fraction: float = 0.15
    max_warmup: int = 750
    window: int = 48
    cycles: int = 4
    thresholds: SurpriseThresholds = field(default_factory=SurpriseThresholds)
    forest: bool = True
    seed: int = 0

    def score(self, values: np.ndarray, timestamps: np.ndarray | None = None, warmup: int | None = None) -> np.ndarray:
        """Scores for every row (0 for warm-up and missing rows); ``warmup`` overrides the warm-up length (to
        score a prefix exactly as the whole series would be scored)."""
        return self.surprise(values, timestamps, warmup)["score"]

    def evidence(
        self, values: np.ndarray, timestamps: np.ndarray | None = None, warmup: int | None = None
    ) -> np.ndarray:
        """Per row: the strongest rule's evidence in units of its threshold and of the series' habit (>= 1 fires)."""
        return self.surprise(values, timestamps, warmup)["evidence"]

    def surprise(
        self, values: np.ndarray, timestamps: np.ndarray | None = None, warmup: int | None = None
    ) -> dict[str, np.ndarray]:
        """Per row: ``evidence`` (see ``evidence``), ``expected`` value and ``score``."""
        x = np.asarray(values, dtype=float)
        n = len(x)
        warm = warmup if warmup is not None else warmup_rows(n, self.warmup_fraction, self.max_warmup)
        if n - warm <= 0 or warm < 4:
            return {"evidence": np.zeros(n), "expected": np.full(n, np.nan), "score": np.zeros(n)}
        missing = np.isnan(x)
        expected, level, period = self._expected(x, timestamps, warm)
        r = np.where(missing, np.nan, x - expected)
        cycle = period or _steps_per_day(timestamps) or self.window
        # Slow statistics refresh 24 times a cycle; the scale remembers a week of cycles (at least the warm-up).
        step = max(1, cycle // 24)
        starts = np.arange(step, n, step)
        width = int(max(min(7 * cycle, 4 * warm), 8))
        spread = _past_window_stat(np.nan_to_num(x, nan=np.nanmedian(x[:warm])), width, np.nanstd)
        # Flat or quantised series would score every tiny change: a floor on the scale.
        floor = np.maximum(1e-9, 0.01 * np.abs(np.nan_to_num(level)) + 0.05 * np.nan_to_num(spread))
        th = self.thresholds
        per_sign = []
        for sign in (1.0, -1.0):
            rs = (sign * r)[None, :]
            sigma = np.maximum(np.nan_to_num(stepped_spread(rs, starts, width)[0]), floor[None, :])
            phi = ar1_coefficient(rs, starts, width)
            z = np.nan_to_num(rs / sigma)
            zi = np.where(missing[None, :], 0.0, innovation_z(rs, phi, sigma))
            windows = {k: window_z(rs, sigma, phi, k, starts, width, prior=sigma) for k in WINDOWS}
            spans, rules, raw, margins = surprise_rules(z, zi, windows, th)
            habit_starts = starts[(starts % cycle) == 0] if cycle > 1 else starts
            # The warm-up's residuals rest on an expected value still being learnt: they teach no habit.
            raw = [np.where(np.arange(n) < warm, np.nan, v) for v in raw]
            per_rule = beyond_habit(rules, raw, habit_starts, margins, young_margins=[th.young_margin] * len(rules))
            features = np.stack([z[0], zi[0], *(windows[k][0] for k in WINDOWS)], axis=1)
            standing = standing_evidence(spans, per_rule, jumped=jumped(z, zi, th))[0]
            six_point = per_rule[SUSTAINED_RULE][0]
            per_sign.append((np.maximum.reduce(per_rule)[0], standing, features, six_point))
        forest_score = np.zeros(n)
        if self.forest:
            per_sign, forest_score = self._confirmed(per_sign, warm)
        best = np.maximum.reduce([ev for ev, *_ in per_sign])
        for v in (best, forest_score):
            v[:warm] = 0.0
            v[missing] = 0.0
        return {"evidence": best, "expected": expected, "score": score_of(best), "forest_score": forest_score}

    def _confirmed(self, per_sign: list, warm: int) -> tuple[list, np.ndarray]:
        """Each direction's evidence after the forest's confirmation, and the forest's score per row (the
        larger of both directions); the forest learns from the warm-up rows of both directions (an online
        score: nothing after the warm-up trains it)."""
        train = np.concatenate([f[warm // 4 : warm] for _, _, f, _ in per_sign])
        forest = EgressIsolationForest(n_estimators=100, random_state=self.seed).fit(train)
        scores = [forest.anomaly_score(f) for _, _, f, _ in per_sign]
        out = [
            (confirmed(ev, long_ev, fs, self.thresholds, six), long_ev, f, six)
            for (ev, long_ev, f, six), fs in zip(per_sign, scores, strict=True)
        ]
        return out, np.maximum.reduce(scores)

    def _expected(
        self, x: np.ndarray, timestamps: np.ndarray | None, warm: int
    ) -> tuple[np.ndarray, np.ndarray, int | None]:
        """Expected value, trailing level and the cycle (in rows) if one was found."""
        n = len(x)
        filled = _carried_forward(x)
        # The cycle is looked for at the end of warm-up and again each time the history doubles, and used
        # only from that row on (a daily cycle in 5-minute data needs two days before it can be seen).
        period, from_row, k = None, n, warm
        while k < n and period is None:
            stamps = timestamps[:k] if timestamps is not None else None
            period = detect_period(filled[:k], period_candidates(stamps, k))
            from_row = (0 if k == warm else k) if period else n
            k *= 2
        w = int(min(self.window, max(8, warm // 2)))
        level = _past_window_stat(filled, w, np.nanmedian)
        expected = level
        if period:
            lagged = np.stack(
                [
                    np.concatenate([np.full(j * period, np.nan), filled[: n - j * period]])
                    for j in range(1, self.cycles + 1)
                ],
                axis=1,
            )
            has = ~np.isnan(lagged).all(axis=1)
            seasonal = np.nanmedian(np.where(has[:, None], lagged, 0.0), axis=1)
            # Keep the seasonal shape but follow the current level (drift after growth), over a whole cycle:
            # an excursion shorter than half a cycle does not move it, so its end is no anomaly of its own.
            shift = _past_window_stat(filled - np.where(has, seasonal, np.nan), period, np.nanmedian)
            use = has & ~np.isnan(shift) & (np.arange(n) >= from_row)
            expected = np.where(use, seasonal + np.nan_to_num(shift), level)
        return expected, level, period


def score_of(evidence: np.ndarray) -> np.ndarray:
    """0.9 where the lake detector would alert (evidence 1), 0.999 at 1.3 times that, 0.14 at half of it."""
    return np.clip(1.0 - 0.1 ** (np.clip(evidence, 0.0, None) ** 4), 0.0, 1.0)


def _carried_forward(x: np.ndarray) -> np.ndarray:
    """Missing values carried forward (the median before the first value), for the expected value only."""
    if not np.isnan(x).any():
        return x
    n = len(x)
    idx = np.where(~np.isnan(x), np.arange(n), 0)
    np.maximum.accumulate(idx, out=idx)
    out = x[idx]
    out[np.isnan(out)] = np.nanmedian(x) if not np.all(np.isnan(x)) else 0.0
    return out


def _median_step(timestamps: np.ndarray | None) -> float | None:
    """Seconds between rows (the median), None without at least three timestamps or a positive step."""
    if timestamps is None or len(timestamps) < 3:
        return None
    step = float(np.median(np.diff(np.asarray(timestamps, dtype="datetime64[s]").astype(np.int64))))
    return step if step > 0 else None


def _steps_per_day(timestamps: np.ndarray | None) -> int | None:
    step = _median_step(timestamps)
    return round(86400 / step) if step and step <= 43200 else None
