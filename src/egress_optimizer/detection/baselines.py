"""Robust statistical baselines, vectorised over a panel (series x hours).

All statistics for hour t use only hours before t, so scoring the newest hour gives the same answer as
scoring the whole history (what the hourly Lambda relies on).
"""

from __future__ import annotations

import warnings

import numpy as np

MAD_TO_SIGMA = 1.4826
DAY = 24
WEEK = 168


def _lagged(x: np.ndarray, lags: list[int]) -> np.ndarray:
    """Stack ``x`` shifted right by each lag along the hour axis (NaN before the series starts)."""
    n, t = x.shape
    out = np.full((len(lags), n, t), np.nan)
    for i, lag in enumerate(lags):
        if lag < t:
            out[i, :, lag:] = x[:, : t - lag]
    return out


def _nan_reduce(fn, a: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(a, axis=axis)


def trailing_window(x: np.ndarray, width: int) -> np.ndarray:
    """(width, n, t) view of the previous ``width`` hours for every hour (NaN where absent)."""
    return _lagged(x, list(range(1, width + 1)))


def seasonal_expected(x: np.ndarray, days: int = 7) -> np.ndarray:
    """Median of the same hour on the previous ``days`` days (needs at least two of them)."""
    lags = _lagged(x, [DAY * k for k in range(1, days + 1)])
    enough = np.sum(~np.isnan(lags), axis=0) >= 2
    med = _nan_reduce(np.nanmedian, lags, 0)
    return np.where(enough, med, np.nan)


def robust_scale(
    r: np.ndarray, width: int = WEEK, floor: float = 0.03, prior: float = 0.15, prior_weight: float = 12.0
) -> np.ndarray:
    """MAD-based sigma of the previous ``width`` residuals, at least ``floor``.

    With few residuals the MAD is itself noisy (two quiet days make any wobble look huge), so it is blended
    with a ``prior`` sigma worth ``prior_weight`` observations; with a week of history the prior barely counts.
    """
    win = trailing_window(r, width)
    count = np.sum(~np.isnan(win), axis=0)
    med = _nan_reduce(np.nanmedian, win, 0)
    mad = np.nan_to_num(MAD_TO_SIGMA * _nan_reduce(np.nanmedian, np.abs(win - med[None]), 0), nan=0.0)
    blended = np.sqrt((count * mad**2 + prior_weight * prior**2) / (count + prior_weight))
    return np.maximum(blended, floor)


def log_residual(x: np.ndarray, expected: np.ndarray, eps: np.ndarray) -> np.ndarray:
    return np.log((x + eps) / (np.nan_to_num(expected, nan=0.0) + eps))


def series_floor(x: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """Per-series additive floor for log ratios: a fraction of the trailing-week median of positive hours."""
    win = trailing_window(np.where(x > 0, x, np.nan), WEEK)
    level = np.nan_to_num(_nan_reduce(np.nanmedian, win, 0), nan=0.0)
    return np.maximum(fraction * level, 1e-6)


class SeasonalMedianMAD:
    """z = log(actual / median of the same hour over the past week) / robust sigma of past residuals."""

    def __init__(self, days: int = 7, width: int = WEEK, floor: float = 0.03):
        self.days, self.width, self.floor = days, width, floor

    def transform(self, x: np.ndarray, exclude: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """``exclude`` marks hours (planned work) kept out of every baseline and residual scale."""
        hist = np.where(exclude, np.nan, x) if exclude is not None else x
        expected = seasonal_expected(hist, self.days)
        eps = series_floor(np.nan_to_num(hist))
        r = log_residual(x, expected, eps)
        r = np.where(np.isnan(expected), np.nan, r)
        if exclude is not None:
            r = np.where(exclude, np.nan, r)
        sigma = robust_scale(r, self.width, self.floor)
        z = np.nan_to_num(r / sigma, nan=0.0)
        return {"expected": np.nan_to_num(expected, nan=0.0), "residual": np.nan_to_num(r), "z": z}


class TrailingZScore:
    """z = (actual - mean of the previous ``width`` hours) / their standard deviation."""

    def __init__(self, width: int = WEEK, floor_fraction: float = 0.05):
        self.width, self.floor_fraction = width, floor_fraction

    def transform(self, x: np.ndarray) -> dict[str, np.ndarray]:
        win = trailing_window(x, self.width)
        mean = _nan_reduce(np.nanmean, win, 0)
        std = _nan_reduce(np.nanstd, win, 0)
        std = np.maximum(np.nan_to_num(std), self.floor_fraction * np.abs(np.nan_to_num(mean)) + 1e-9)
        z = np.nan_to_num((x - mean) / std, nan=0.0)
        return {"expected": np.nan_to_num(mean), "z": z}
