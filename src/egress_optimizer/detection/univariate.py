"""Online anomaly scores for one bring-your-own metric series (``egress score-series``).

The series can be anything a user exports (CloudWatch NetworkOut, a daily cost export), so nothing here is
tuned per series. Every score uses only rows up to and including its own (the online contract), computed
with vectorised windows over the past:

- expected value: the median of the same phase in the previous cycles when the warm-up shows a cycle
  (daily or weekly, found by autocorrelation at the periods the timestamps suggest), else the median of a
  trailing window;
- surprise: the residual divided by a robust scale (MAD) of past residuals, for the point itself and for the
  mean of the last few points (a level shift shows up in the mean before the window median adapts);
- score: the magnitude ``1 - exp(-(z / 4) ** 2)`` (a 4-MAD surprise ~0.63, 8 MADs ~0.98) times ``exp(-k / 2)``
  where k counts the earlier surprises of this series that were at least as large: real metrics repeat
  spikes a Gaussian scale calls 8-sigma events, and only what is unusual for the series itself should score
  high. Scores are comparable across series because both factors are relative to the series' own past.
Warm-up rows (the first 15 %, at most 750) score 0.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

MAD_TO_SIGMA = 1.4826


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
    if timestamps is not None and len(timestamps) > 2:
        ts = np.asarray(timestamps, dtype="datetime64[s]").astype(np.int64)
        step = float(np.median(np.diff(ts)))
        if step > 0:
            return sorted({round(s / step) for s in (86400, 7 * 86400) if 2 <= round(s / step) <= n // 2})
    return [p for p in (7, 12, 24, 48, 96, 168, 288) if p <= n // 2]


def _online_exceedances(z: np.ndarray, start: int) -> np.ndarray:
    """For each row from ``start``: how many earlier values (from row ``start // 2`` on) were at least as large."""
    import bisect

    out = np.zeros(len(z))
    seen: list[float] = sorted(float(v) for v in z[max(start // 2, 1) : start])
    for i in range(start, len(z)):
        v = float(z[i])
        out[i] = len(seen) - bisect.bisect_left(seen, v)
        bisect.insort(seen, v)
    return out


@dataclass
class OnlineSeriesScorer:
    """Scores a whole series at once; the score at row t depends only on rows <= t."""

    warmup_fraction: float = 0.15
    max_warmup: int = 750
    window: int = 48
    cycles: int = 4
    smooth: int = 3

    def score(self, values: np.ndarray, timestamps: np.ndarray | None = None, warmup: int | None = None) -> np.ndarray:
        """Scores for every row; ``warmup`` overrides the warm-up length (to score a prefix exactly as the
        whole series would be scored)."""
        x = np.asarray(values, dtype=float)
        n = len(x)
        scores = np.zeros(n)
        warm = warmup if warmup is not None else warmup_rows(n, self.warmup_fraction, self.max_warmup)
        if n - warm <= 0 or warm < 4:
            return scores
        # Missing values are carried forward so they never look like anomalies themselves.
        if np.isnan(x).any():
            idx = np.where(~np.isnan(x), np.arange(n), 0)
            np.maximum.accumulate(idx, out=idx)
            x = x[idx]
            x[np.isnan(x)] = np.nanmedian(x) if not np.all(np.isnan(x)) else 0.0
        # The cycle is looked for at the end of warm-up and again each time the history doubles, and used
        # only from that row on (a daily cycle in 5-minute data needs two days before it can be seen).
        period, from_row, k = None, n, warm
        while k < n and period is None:
            stamps = timestamps[:k] if timestamps is not None else None
            period = detect_period(x[:k], period_candidates(stamps, k))
            # A cycle seen in the warm-up applies to the warm-up rows too: they are never scored, but their
            # surprises are the history new surprises are ranked against, and a cycle-blind history is full
            # of false records (every daily edge) that would mute the real ones.
            from_row = (0 if k == warm else k) if period else n
            k *= 2
        w = int(min(self.window, max(8, warm // 2)))
        level = _past_window_stat(x, w, np.nanmedian)
        expected = level
        if period:
            lagged = np.stack(
                [np.concatenate([np.full(j * period, np.nan), x[: n - j * period]]) for j in range(1, self.cycles + 1)],
                axis=1,
            )
            has = ~np.isnan(lagged).all(axis=1)
            seasonal = np.nanmedian(np.where(has[:, None], lagged, 0.0), axis=1)
            # Keep the seasonal shape but follow the current level (drift after growth).
            shift = _past_window_stat(x - np.where(has, seasonal, np.nan), w, np.nanmedian)
            use = has & ~np.isnan(shift) & (np.arange(n) >= from_row)
            expected = np.where(use, seasonal + np.nan_to_num(shift), level)
        resid = x - expected
        scale_w = int(min(max(4 * w, 2 * (period or 0)), max(warm, 8)))
        mad = _past_window_stat(np.abs(resid - _past_window_stat(resid, scale_w, np.nanmedian)), scale_w, np.nanmedian)
        spread = _past_window_stat(x, scale_w, np.nanstd)
        # A floor on the scale keeps flat or quantised series from scoring every tiny change as an anomaly.
        floor = np.maximum(1e-9, 0.01 * np.abs(np.nan_to_num(level)) + 0.05 * np.nan_to_num(spread))
        sigma = np.maximum(MAD_TO_SIGMA * np.nan_to_num(mad), floor)
        z_point = np.abs(resid) / sigma
        k = self.smooth
        mean_resid = np.convolve(np.nan_to_num(resid), np.ones(k) / k, mode="full")[:n]
        # The mean's own past spread, not sigma / sqrt(k): residuals of a lagging predictor are correlated.
        mad_mean = _past_window_stat(
            np.abs(mean_resid - _past_window_stat(mean_resid, scale_w, np.nanmedian)), scale_w, np.nanmedian
        )
        sigma_mean = np.maximum(MAD_TO_SIGMA * np.nan_to_num(mad_mean), floor / np.sqrt(k))
        z_mean = np.abs(mean_resid) / sigma_mean
        z = np.nan_to_num(np.maximum(z_point, 0.8 * z_mean))
        magnitude = 1.0 - np.exp(-((z / 4.0) ** 2))
        # Real metrics have recurring spikes a Gaussian scale calls 8-sigma events; what matters is how
        # unusual this surprise is for *this* series: how many earlier surprises were as large.
        exceeded_by = _online_exceedances(z, warm)
        # exp(-k/2): a new record for this series scores 1, a surprise beaten once before ~0.61, twice ~0.37.
        scores = magnitude * np.exp(-exceeded_by / 2.0)
        scores[:warm] = 0.0
        return np.clip(scores, 0.0, 1.0)
