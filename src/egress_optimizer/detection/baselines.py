"""Robust statistical baselines, vectorised over a panel (series x hours).

All statistics for hour t use only hours before t, so scoring the newest hour gives the same answer as
scoring the whole history (what the hourly Lambda relies on).
"""

from __future__ import annotations

import functools
import itertools
import warnings

import numpy as np

MAD_TO_SIGMA = 1.4826
Q75_TO_SIGMA = 1.1503  # the 75th percentile of |N(0, 1)|
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


def nan_reduce(fn, a: np.ndarray, axis: int) -> np.ndarray:
    """``fn`` (a NaN-aware reduction) without the warning for all-NaN slices, which are NaN on purpose."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(a, axis=axis)


def trailing_window(x: np.ndarray, width: int) -> np.ndarray:
    """(width, n, t) view of the previous ``width`` hours for every hour (NaN where absent)."""
    return _lagged(x, list(range(1, width + 1)))


def day_starts(n_hours: int, first_hour_of_day: int = 0) -> np.ndarray:
    """Positions of UTC midnights in a panel whose first column is ``first_hour_of_day`` o'clock."""
    return np.arange((24 - first_hour_of_day) % 24, n_hours, 24)


def stepped_stat(x: np.ndarray, width: int, fn, starts: np.ndarray) -> np.ndarray:
    """``fn`` over the ``width`` hours before each start, held until the next start (NaN before the first).

    Slow-moving statistics (a week's spread, a week's level) are recomputed once a day instead of every hour:
    24x less work, still strictly from the past, and identical whatever window a run happens to read.
    """
    n, t = x.shape
    out = np.full((n, t), np.nan)
    bounds = [int(b) for b in starts if 0 < b < t] + [t]
    for i, d in enumerate(bounds[:-1]):
        lo = max(0, d - width)
        out[:, d : bounds[i + 1]] = nan_reduce(fn, x[:, lo:d], 1)[:, None]
    return out


def seasonal_support(x: np.ndarray, days: int = 7, weekend: np.ndarray | None = None) -> np.ndarray:
    """How many of the previous ``days`` days hold this hour and are of the same kind (weekday / weekend day)
    when ``weekend`` is given: the days a ``seasonal_expected`` baseline really rests on."""
    n, t = x.shape
    out = np.zeros((n, t), dtype=int)
    for lag in (DAY * k for k in range(1, days + 1)):
        if lag < t:
            ok = ~np.isnan(x[:, : t - lag])
            if weekend is not None:
                ok &= weekend[:, lag:] == weekend[:, : t - lag]
            out[:, lag:] += ok
    return out


def seasonal_expected(x: np.ndarray, days: int = 7, weekend: np.ndarray | None = None) -> np.ndarray:
    """Median of the same hour on the previous ``days`` days (needs at least two of them).

    With ``weekend`` (bool per series and hour, local time) only days of the same kind count when there is
    one: a Monday is compared with the previous weekdays, not with the weekend before it (hour-of-week
    seasonality without needing several weeks of history); a single such day is blended with the rest.
    """
    lag_list = [DAY * k for k in range(1, days + 1)]
    lags = _lagged(x, lag_list)
    any_med = nan_reduce(np.nanmedian, lags, 0)
    enough = np.sum(~np.isnan(lags), axis=0) >= 2
    if weekend is not None:
        n, t = x.shape
        same = np.zeros((len(lag_list), n, t), dtype=bool)
        for i, lag in enumerate(lag_list):
            if lag < t:
                same[i, :, lag:] = weekend[:, lag:] == weekend[:, : t - lag]
        same_lags = np.where(same, lags, np.nan)
        n_same = np.sum(~np.isnan(same_lags), axis=0)
        same_med = nan_reduce(np.nanmedian, same_lags, 0)
        # One same-kind day is a noisy baseline on its own: meet the all-days median halfway. Arithmetic, not
        # geometric: a single silent hour (0 bytes) must not make the baseline 0 and the next hour infinitely
        # surprising.
        one = 0.5 * (np.clip(same_med, 0, None) + np.clip(any_med, 0, None))
        any_med = np.where(n_same >= 2, same_med, np.where(n_same == 1, one, any_med))
    return np.where(enough, any_med, np.nan)


def nan_quantiles(block: np.ndarray, qs: tuple[float, ...], axis: int) -> list[np.ndarray]:
    """Linear-interpolated quantiles of the non-NaN values along ``axis`` (NaN where there are none), from one
    sort: numpy's NaN-aware quantile walks the rows one by one."""
    a = np.sort(np.where(np.isnan(block), np.inf, block), axis=axis)
    n = np.sum(~np.isnan(block), axis=axis, keepdims=True)
    out = []
    for q in qs:
        pos = q * np.maximum(n - 1, 0)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        a_lo, a_hi = np.take_along_axis(a, lo, axis=axis), np.take_along_axis(a, hi, axis=axis)
        with np.errstate(invalid="ignore"):
            v = a_lo + (pos - lo) * np.where(hi > lo, a_hi - a_lo, 0.0)
        out.append(np.squeeze(np.where(n > 0, v, np.nan), axis=axis))
    return out


def _robust_sigma(block: np.ndarray, axis: int, shoulder: bool = True) -> np.ndarray:
    """The MAD's Gaussian sigma, with ``shoulder`` never less than half the 75th percentile's: a sparse,
    count-like series (mostly zeros) has a MAD of 0 and would call every ordinary busy hour infinitely
    surprising, while the shoulder sees how far its ordinary hours stray. Half, so that an incident filling a
    quarter of the window (a day-long ramp) does not widen the scale that scores its own second day."""
    (centre,) = nan_quantiles(block, (0.5,), axis)
    middle, upper = nan_quantiles(np.abs(block - np.expand_dims(centre, axis)), (0.5, 0.75), axis)
    return np.fmax(MAD_TO_SIGMA * middle, 0.5 * upper / Q75_TO_SIGMA) if shoulder else MAD_TO_SIGMA * middle


def stepped_spread(
    r: np.ndarray, starts: np.ndarray, width: int = WEEK, shoulder: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Robust sigma of the previous ``width`` hours' values (recomputed daily; ``_robust_sigma``, or the MAD's
    alone without ``shoulder``) and how many there were."""
    count = np.nan_to_num(stepped_stat(~np.isnan(r) * 1.0, width, np.sum, starts))
    spread = np.nan_to_num(stepped_stat(r, width, functools.partial(_robust_sigma, shoulder=shoulder), starts), nan=0.0)
    return spread, count


def blend_with_prior(
    spread: np.ndarray,
    count: np.ndarray,
    width: int = WEEK,
    floor: float = 0.03,
    prior: float | np.ndarray = 0.15,
    prior_weight: float = 48.0,
) -> np.ndarray:
    """A spread measured on ``count`` values blended with a ``prior`` sigma (a number, or one per cell) worth up
    to ``prior_weight`` observations, fading out as ``count`` reaches ``width``; at least ``floor``."""
    weight = prior_weight * np.clip(1.0 - count / width, 0.0, 1.0)
    blended = np.sqrt((count * spread**2 + weight * np.square(prior)) / np.maximum(count + weight, 1e-9))
    return np.maximum(blended, floor)


def robust_scale(
    r: np.ndarray,
    starts: np.ndarray,
    width: int = WEEK,
    floor: float = 0.03,
    prior: float | np.ndarray = 0.15,
    prior_weight: float = 48.0,
    shoulder: bool = True,
) -> np.ndarray:
    """Robust sigma of the residuals of the previous ``width`` hours (recomputed daily), at least ``floor``.

    With few residuals the MAD is itself noisy (two quiet days make any wobble look huge), so it is blended
    with a ``prior`` sigma (``blend_with_prior``): with a full window of history the series' own spread alone
    counts.
    """
    spread, count = stepped_spread(r, starts, width, shoulder)
    return blend_with_prior(spread, count, width, floor, prior, prior_weight)


def log_residual(x: np.ndarray, expected: np.ndarray, eps: np.ndarray) -> np.ndarray:
    return np.log((x + eps) / (np.nan_to_num(expected, nan=0.0) + eps))


def series_floor(x: np.ndarray, starts: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """Per-series additive floor for log ratios: a fraction of the trailing-week median of positive hours."""
    level = np.nan_to_num(stepped_stat(np.where(x > 0, x, np.nan), WEEK, np.nanmedian, starts), nan=0.0)
    return np.maximum(fraction * level, 1e-6)


def _centred_by_day(r: np.ndarray, weak: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``r`` with the weak hours of each day (between consecutive ``starts``) less their median."""
    out = r.copy()
    bounds = [0, *[int(b) for b in starts if 0 < b < r.shape[1]], r.shape[1]]
    for lo, hi in itertools.pairwise(bounds):
        w = np.where(weak[:, lo:hi], r[:, lo:hi], np.nan)
        out[:, lo:hi] = np.where(weak[:, lo:hi], w - nan_reduce(np.nanmedian, w, 1)[:, None], r[:, lo:hi])
    return out


MIN_SUPPORT = 2  # same-kind days a baseline needs before its residuals say how noisy the series is


class SeasonalMedianMAD:
    """z = log(actual / median of the same hour over the past week) / robust sigma of past residuals.

    Hours whose baseline rests on fewer than ``MIN_SUPPORT`` days of their own kind (a young lake's first
    weekend is compared with weekdays) are *weak*: their residuals carry the weekday/weekend difference, not
    the series' noise, so they stay out of the sigma that scores every other hour (in a lake a week old they
    doubled it and halved every z). Weak hours themselves are scored against the sigma of all residuals.
    """

    def __init__(self, days: int = 7, width: int = WEEK, floor: float = 0.03):
        self.days, self.width, self.floor = days, width, floor

    def residuals(
        self,
        x: np.ndarray,
        exclude: np.ndarray | None = None,
        starts: np.ndarray | None = None,
        weekend: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """``expected``, log ``residual`` (NaN where there is no baseline or the hour is excluded), ``weak``,
        and the daily ``spread`` and ``count`` of the residuals of the other hours (what the series says of
        its noise)."""
        starts = day_starts(x.shape[1]) if starts is None else starts
        hist = np.where(exclude, np.nan, x) if exclude is not None else x
        expected = seasonal_expected(hist, self.days, weekend)
        eps = series_floor(np.nan_to_num(hist), starts)
        r = log_residual(x, expected, eps)
        r = np.where(np.isnan(expected), np.nan, r)
        if exclude is not None:
            r = np.where(exclude, np.nan, r)
        weak = seasonal_support(hist, self.days, weekend) < MIN_SUPPORT
        spread, count = stepped_spread(np.where(weak, np.nan, r), starts, self.width)
        # Only a young lake's first days need the centred spread (see ``noise``): computed up to the last hour
        # at which some series still has less than a day of strong residuals.
        young = np.flatnonzero((count < DAY).any(axis=0))
        end = int(young[-1]) + 1 if len(young) else 0
        centred, centred_count = np.zeros(r.shape), np.zeros(r.shape)
        if end:
            centred[:, :end], centred_count[:, :end] = stepped_spread(
                _centred_by_day(r[:, :end], weak[:, :end], starts), starts[starts < end], self.width, shoulder=False
            )
        return {
            "expected": expected,
            "residual": r,
            "weak": weak,
            "spread": spread,
            "count": count,
            "centred_spread": centred,
            "centred_count": centred_count,
        }

    @staticmethod
    def noise(res: dict[str, np.ndarray], min_hours: int = 24) -> np.ndarray:
        """What this series tells similar ones about their noise: the spread of ``residuals`` where it rests on
        at least ``min_hours`` residuals; before that (a young lake's first Monday, when only its first
        weekend has residuals) the spread of all of them with each day's weak ones centred on their median
        (off by the weekday/weekend difference, a level, not noise); else NaN. ``residuals`` computes that
        centred spread while some series has less than a day of residuals, so ``min_hours`` is at most 24."""
        return np.where(
            res["count"] >= min_hours,
            res["spread"],
            np.where(res["centred_count"] >= min_hours, res["centred_spread"], np.nan),
        )

    def scored(
        self, res: dict[str, np.ndarray], starts: np.ndarray, prior: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """``residuals`` scored: sigma per cell and z. ``prior`` (NaN where unknown) is what similar series say
        of their noise; unknown, the series' own spread over all its residuals stands in (wide while the lake
        is young). Weak hours are scored against that all-residual sigma when it is the wider."""
        r = res["residual"]
        every = robust_scale(r, starts, self.width, self.floor)
        prior = every if prior is None else np.where(np.isnan(prior), every, prior)
        strong = blend_with_prior(res["spread"], res["count"], self.width, self.floor, prior)
        sigma = np.where(res["weak"], np.maximum(strong, every), strong)
        return {
            "expected": np.nan_to_num(res["expected"], nan=0.0),
            "residual": np.nan_to_num(r),
            "z": np.nan_to_num(r / sigma, nan=0.0),
            "sigma": sigma,
            "strong_sigma": strong,
            "weak": res["weak"],
            "prior": prior,
        }

    def transform(
        self,
        x: np.ndarray,
        exclude: np.ndarray | None = None,
        starts: np.ndarray | None = None,
        weekend: np.ndarray | None = None,
        prior: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """``exclude`` marks hours (planned work) kept out of every baseline and residual scale; ``starts``
        are the day boundaries (UTC midnights) at which slow statistics are refreshed."""
        starts = day_starts(x.shape[1]) if starts is None else starts
        return self.scored(self.residuals(x, exclude, starts, weekend), starts, prior)


class TrailingZScore:
    """z = (actual - mean of the previous ``width`` hours) / their standard deviation."""

    def __init__(self, width: int = WEEK, floor_fraction: float = 0.05):
        self.width, self.floor_fraction = width, floor_fraction

    def transform(self, x: np.ndarray) -> dict[str, np.ndarray]:
        win = trailing_window(x, self.width)
        mean = nan_reduce(np.nanmean, win, 0)
        std = nan_reduce(np.nanstd, win, 0)
        std = np.maximum(np.nan_to_num(std), self.floor_fraction * np.abs(np.nan_to_num(mean)) + 1e-9)
        z = np.nan_to_num((x - mean) / std, nan=0.0)
        return {"expected": np.nan_to_num(mean), "z": z}
