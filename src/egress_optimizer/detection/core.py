"""The statistical core shared by the lake detector and ``egress score-series``: how surprising each point
of a series is, given its own past.

Inputs are residuals ``r`` (actual versus expected, see ``baselines``) with their robust one-point scale
``sigma``, as (n_series, n_points) matrices; ``starts`` are the positions at which slow statistics are
refreshed (day boundaries for hourly data). Everything at point t uses only points before t (the online
contract), except where noted that the point itself is part of the window.

- ``ar1_coefficient``: the lag-1 autocorrelation of the residuals (real metrics wander: a busy hour is followed
  by another), so window means are scaled by their true spread, not by sigma / sqrt(k);
- ``innovation_z``: the part of this point the previous one did not predict (under autocorrelation the onset
  of a step is sharp there while the level itself is still within the noise);
- ``window_z``: (weighted) means of the last k residuals, each clipped at ``CLIP_SIGMAS`` so that one wild
  point cannot look like a sustained shift;
- ``sustained``: the smallest surprise of the last k points (two: a lone point is not an incident, whatever
  its size on a heavy-tailed series; six: a step outlasting the series' routine bursts);
- ``jumped``: where the level the six-point rule sees arrived in a jump (its onset was the short rules' to
  judge, so the six-point rule alone does not page there: ``standing_evidence``);
- ``beyond_habit``: how surprising this series usually is, as the largest value each rule took on it over the
  last two weeks (a series that spikes routinely needs a larger spike to page), at least what similar series
  usually do, and with a margin while fewer than two weeks have taught it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache

import numpy as np

from egress_optimizer.detection.baselines import MAD_TO_SIGMA, nan_quantiles, nan_reduce, robust_scale

WINDOWS = (3, 6, 12, 24)  # points over which mean residuals accumulate evidence
SUSTAINED_POINTS = 6  # points a level must hold for the sustained rule
RAMP_WEIGHTED_FROM = 6  # windows this long or longer weigh their points linearly, the newest most
CLIP_SIGMAS = 4.0  # a residual counts in a window mean for at most this many sigmas
PHI_MAX = 0.95
PHI_PRIOR = 0.5  # what a series with no history nor similar series is assumed to remember of its last point
HABIT_PERIODS = 14  # periods (days) a habit remembers
YOUNG_PERIODS = 7  # periods of history before a series' habit is its own alone
GROUP_HABIT_QUANTILE = 0.75  # a series' habit is at least this quantile of its group's (groups of GROUP_MIN or more)
GROUP_MIN = 3
_PHI_GRID = np.linspace(0.0, PHI_MAX, 96)


@dataclass
class SurpriseThresholds:
    """Thresholds of the univariate rules, in sigmas of the series' own noise."""

    lone: float = 10.0  # one point alone ...
    lone_margin: float = 3.0  # ... and this multiple of the largest the series did in HABIT_PERIODS
    z: float = 5.0  # the smaller of two consecutive points' surprise (level or innovation)
    sustained: float = 3.5  # every one of the last SUSTAINED_POINTS points
    window: float = 6.0  # every window mean (z3 ... z24)
    window_gate: float = 2.0  # ... each counted only while every shorter one is at least this
    habit_margin: float = 1.5  # evidence must beat this multiple of the series' habit (beyond_habit)
    young_margin: float = 0.25  # ... and 1 + this in a history's first period, falling to 0 by HABIT_PERIODS
    forest_confirm: float = 0.999  # a short marginal alert needs this forest score (``confirmed``) ...
    forest_confirm_below: float = 3.0  # ... below this much evidence (threshold units)
    forest_confirm_sustained: float = 0.99  # ... and six points of a level that jumped (``jumped``) this one


def window_weights(k: int) -> np.ndarray:
    """Weights of the k points of a window, oldest first: equal below ``RAMP_WEIGHTED_FROM``, else 1 ... k
    (the matched filter for a ramp: ~15 % more signal-to-noise on a ramp, ~10 % less on a flat step, which the
    shorter windows catch first)."""
    return np.ones(k) if k < RAMP_WEIGHTED_FROM else np.arange(1.0, k + 1)


@cache
def _factor_table(k: int) -> np.ndarray:
    w = window_weights(k)
    lags = np.abs(np.subtract.outer(np.arange(k), np.arange(k)))
    return np.array([np.sqrt(w @ (phi**lags) @ w) / w.sum() for phi in _PHI_GRID])


def window_factor(k: int, phi: float | np.ndarray = 0.0) -> np.ndarray | float:
    """Standard error of a k-point window mean in units of one point's sigma, when the points follow an AR(1)
    with coefficient ``phi`` (1 / sqrt(k) for a plain mean of independent points)."""
    out = np.interp(np.clip(phi, 0.0, PHI_MAX), _PHI_GRID, _factor_table(k))
    return float(out) if np.ndim(out) == 0 else out


def window_mean(r: np.ndarray, k: int) -> np.ndarray:
    """The (weighted) mean of each point and the k-1 before it; points before the first count as 0."""
    w = window_weights(k)
    acc = np.zeros_like(r)
    t = r.shape[1]
    for back in range(min(k, t)):
        acc[:, back:] += w[k - 1 - back] * r[:, : t - back]
    return acc / w.sum()


def ar1_coefficient(
    r: np.ndarray,
    starts: np.ndarray,
    width: int,
    groups: np.ndarray | None = None,
    prior: float = PHI_PRIOR,
    prior_pairs: int = 48,
) -> np.ndarray:
    """Lag-1 autocorrelation of the residuals of the previous ``width`` points (refreshed at each start, held
    until the next), from residuals clipped at 3 robust sigmas of that same window (one spike must not look
    like memory), in [0, PHI_MAX].

    Few pairs say little: a series' estimate is blended with a prior worth up to ``prior_pairs`` pairs, fading
    out as its window fills. The prior is the estimate pooled over the series of its group (``groups``:
    similar series, whose pairs together are many even in a young lake), else ``prior``. Depends on nothing
    outside the window, so a run that reads a shorter history gets the same value."""
    n, t = r.shape
    out = np.full((n, t), float(prior))
    bounds = [int(b) for b in starts if 0 < b < t] + [t]
    labels = np.zeros(n, dtype=int) if groups is None else np.unique(groups, return_inverse=True)[1]
    for i, d in enumerate(bounds[:-1]):
        block = r[:, max(0, d - width) : d]
        centre = nan_quantiles(block, (0.5,), 1)[0][:, None]
        mad = MAD_TO_SIGMA * nan_quantiles(np.abs(block - centre), (0.5,), 1)[0][:, None]
        c = np.clip(block - centre, -3 * mad, 3 * mad)
        a, b = c[:, 1:], c[:, :-1]
        both = ~np.isnan(a) & ~np.isnan(b)
        num = np.where(both, a * b, 0.0).sum(axis=1)
        den = np.where(both, (a * a + b * b) / 2, 0.0).sum(axis=1)
        pairs = both.sum(axis=1)
        own = np.clip(num / np.where(den > 0, den, np.inf), 0.0, PHI_MAX)
        base = np.full(n, float(prior))
        if groups is not None:
            gnum, gden = np.bincount(labels, num), np.bincount(labels, den)
            pooled = np.clip(gnum / np.where(gden > 0, gden, np.inf), 0.0, PHI_MAX)
            base = np.where(gden[labels] > 0, pooled[labels], base)
        weight = prior_pairs * np.clip(1.0 - pairs / max(width - 1, 1), 0.0, 1.0)  # gone with a full window
        out[:, d : bounds[i + 1]] = ((pairs * own + weight * base) / np.maximum(pairs + weight, 1e-9))[:, None]
    return out


def innovation_z(r: np.ndarray, phi: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """(r_t - phi r_{t-1}) over its own sigma, sigma * sqrt(1 - phi^2); the first point and points after a
    gap (NaN) are their own innovation."""
    prev = np.zeros(r.shape)
    prev[:, 1:] = np.nan_to_num(r[:, :-1])
    e = np.nan_to_num(r) - phi * prev
    return e / (sigma * np.sqrt(1.0 - phi**2))


def clipped(r: np.ndarray, sigma: np.ndarray, sigmas: float = CLIP_SIGMAS) -> np.ndarray:
    return np.clip(r, -sigmas * sigma, sigmas * sigma)


def window_z(
    r: np.ndarray,
    sigma: np.ndarray,
    phi: np.ndarray,
    k: int,
    starts: np.ndarray,
    width: int,
    exclude: np.ndarray | None = None,
    prior: np.ndarray | None = None,
    floor: float = 0.0,
) -> np.ndarray:
    """The k-point window mean of clipped residuals over its standard error: the larger of what ``sigma`` and
    ``phi`` imply and the mean's own robust spread over the previous ``width`` points (``exclude``: points kept
    out of that spread; ``prior``: a one-point sigma for series with little history; ``floor``: a one-point
    sigma below which no series is believed to be, in the residuals' units)."""
    m = window_mean(clipped(np.nan_to_num(r), sigma), k)
    f = window_factor(k, phi)
    # The spread is learnt from unclipped means (a MAD shrugs off their tails), so it depends on the residuals
    # alone and not on the sigma they were clipped by, which needs a week more history.
    plain = window_mean(np.nan_to_num(r), k)
    hist = np.where(np.isnan(r) | (False if exclude is None else exclude), np.nan, plain)
    # The middle of the means' spread only: their shoulder is every past burst, which the habit already weighs.
    prior_sigma = (sigma if prior is None else prior) * f
    own = robust_scale(hist, starts, width, floor=floor * window_factor(k), prior=prior_sigma, shoulder=False)
    return m / np.maximum(own, sigma * f)


def sustained(z: np.ndarray, k: int) -> np.ndarray:
    """The smallest of each point's value and the k-1 before it (points before the first count as 0): how
    far above expected every one of the last k points was. A step holds it up for as long as it lasts; a
    burst, however tall, only for as long as it lasts (routine bursts are short)."""
    out = z.copy()
    t = z.shape[1]
    for back in range(1, k):
        prev = np.zeros(z.shape)
        prev[:, back:] = z[:, : t - back]
        out = np.minimum(out, prev)
    return out


def _period_edges(starts: np.ndarray, t: int) -> list[tuple[int, int]]:
    bounds = [0, *[int(b) for b in starts if 0 < b < t], t]
    return [(lo, hi) for lo, hi in itertools.pairwise(bounds) if hi > lo]


def _habit_of(maxima: np.ndarray, p: int, groups: np.ndarray | None, periods: int, young: int) -> np.ndarray:
    """(n_rules, n) habit for period ``p`` from the learnt ``maxima`` (n_rules, n, n_periods) of earlier periods:
    the largest of the last ``periods``. Similar series, a fleet of NAT gateways, tend to burst alike, and two
    weeks of one series show only a few of its bursts: a habit is at least ``GROUP_HABIT_QUANTILE`` of its
    group's habits, and a series with fewer than ``young`` periods that taught it anything takes the largest."""
    seen = maxima[:, :, max(0, p - periods) : p]
    own = (
        np.clip(np.nan_to_num(nan_reduce(np.nanmax, seen, 2), nan=0.0), 0.0, None) if p else np.zeros(maxima.shape[:2])
    )
    if groups is None or p == 0:
        return own
    taught = np.sum(~np.isnan(maxima[:, :, :p]) & (maxima[:, :, :p] > 0), axis=2)
    out = own.copy()
    for g in np.unique(groups):
        rows = groups == g
        best = own[:, rows].max(axis=1, keepdims=True)
        out[:, rows] = np.where(taught[:, rows] < young, np.maximum(own[:, rows], best), own[:, rows])
        if rows.sum() >= GROUP_MIN:
            usual = np.quantile(own[:, rows], GROUP_HABIT_QUANTILE, axis=1, keepdims=True)
            out[:, rows] = np.maximum(out[:, rows], usual)
    return out


def young_factor(p: int, periods: int, margin: float) -> float:
    """How much more evidence period ``p`` of a history needs: 1 + ``margin`` at the first, falling linearly to 1
    once ``periods`` have passed. A young history's habit has seen only part of what the series does (and its
    scales rest on few days), so the bar stands in for the rest."""
    return 1.0 + margin * max(0.0, 1.0 - p / periods)


def beyond_habit(
    rules: list[np.ndarray],
    raw: list[np.ndarray],
    starts: np.ndarray,
    margins: list[float],
    groups: np.ndarray | None = None,
    periods: int = HABIT_PERIODS,
    young: int = YOUNG_PERIODS,
    young_margins: list[float] | None = None,
) -> list[np.ndarray]:
    """Each rule divided by its margin times its habit where that is above 1 (a series that routinely does what
    a rule sees needs more of it to page) and by ``young_factor`` of its period with that rule's
    ``young_margins`` (none by default): a history shorter than the habit's memory has not shown all of it.

    The habit of a rule is the largest value (``raw``) it took on the series in the previous ``periods``
    periods (between consecutive ``starts``), learnt period by period. An alert still running at a period's
    end teaches nothing until it ends: a ramp is one incident, not a new habit every midnight, and a level
    shift stays one incident until the baseline takes it in; a burst that ended is remembered, so the next
    like it does not page."""
    n, t = rules[0].shape
    spans = _period_edges(starts, t)
    k = len(rules)
    values, learn = np.stack(rules), np.stack(raw)
    maxima = np.full((k, n, len(spans)), np.nan)
    pending = np.full((k, n), np.nan)  # the largest values of each series' alert still running
    out = np.zeros((k, n, t))
    margin = np.asarray(margins, dtype=float)[:, None]
    youth = np.zeros(k) if young_margins is None else np.asarray(young_margins, dtype=float)
    for p, (lo, hi) in enumerate(spans):
        h = _habit_of(maxima, p, groups, periods, young)
        fresh = np.array([young_factor(p, periods, m) for m in youth])[:, None, None]
        scaled = values[:, :, lo:hi] / np.maximum(1.0, margin * h)[:, :, None] / fresh
        out[:, :, lo:hi] = scaled
        alert = np.nan_to_num(scaled).max(axis=0) >= 1.0  # (n, hi - lo)
        # An alert still running at the end of the period: the whole period waits (its lead-in, the hours of a
        # ramp not yet past the bar, is part of the same change).
        running = np.repeat(alert[:, -1:], hi - lo, axis=1)
        seg = learn[:, :, lo:hi]
        done = nan_reduce(np.nanmax, np.where(running[None], np.nan, seg), 2)
        ended = ((~alert).any(axis=1) & ~alert[:, -1])[None, :]  # a running alert from before ended in this period
        done = np.where(ended, np.fmax(done, pending), done)
        pending = np.where(ended, np.nan, pending)
        pending = np.fmax(pending, nan_reduce(np.nanmax, np.where(running[None], seg, np.nan), 2))
        maxima[:, :, p] = done
    return list(out)


def rise(z: np.ndarray, zi: np.ndarray) -> np.ndarray:
    """A point's surprise: its level, or its innovation where that is larger, up to twice the level. The
    innovation sharpens the onset of a rise the level also shows; a return from a dip is no rise."""
    return np.maximum(z, np.minimum(zi, 2 * z))


VOLUME_RULES = 3 + len(WINDOWS)  # how many rules ``surprise_rules`` returns (callers append their own after them)


def surprise_rules(
    z: np.ndarray,
    zi: np.ndarray,
    windows: dict[int, np.ndarray],
    th: SurpriseThresholds,
) -> tuple[list[int], list[np.ndarray], list[np.ndarray], list[float]]:
    """The univariate rules, each in units of its threshold (>= 1 fires): a lone point far beyond anything the
    series has done (level or innovation), two points both surprising, ``SUSTAINED_POINTS`` points all above
    ``th.sustained``, and each window mean (counted only while every shorter one is at least ``th.window_gate``:
    after a step ends its long means stay high for a while, and nothing may ride on that memory).

    Returns the points each rule spans, the rules, what each rule's habit is learnt from (a lone point counts
    there: a series that spikes alone routinely is a spiky series) and the multiple of its habit each needs."""
    point = rise(z, zi)
    spans = [1, 2, SUSTAINED_POINTS]  # SUSTAINED_RULE is the third
    rules = [point / th.lone, sustained(point, 2) / th.z, sustained(z, SUSTAINED_POINTS) / th.sustained]
    raw = [rules[0], point / th.z, rules[2]]
    margins = [th.lone_margin, th.habit_margin, th.habit_margin]
    own = np.ones(z.shape, dtype=bool)
    for k in WINDOWS:
        spans.append(k)
        rules.append(np.where(own, windows[k], 0.0) / th.window)
        raw.append(windows[k] / th.window)
        margins.append(th.habit_margin)
        own = own & (windows[k] >= th.window_gate)
    assert len(rules) == VOLUME_RULES
    return spans, rules, raw, margins


SUSTAINED_RULE = 2  # position of the six-point rule in ``surprise_rules``' output


def jumped(z: np.ndarray, zi: np.ndarray, th: SurpriseThresholds) -> np.ndarray:
    """Per point: whether the run of points above ``th.sustained`` that ends here began with a jump, the
    two-point surprise (before any habit) reaching ``th.z`` at the run's first or second point.

    Levels arrive two ways. A jump (a batch job, a retry storm, a leak switched on) is seen by the short rules
    at its first hours, where the forest confirms it or it is the series' habit; six hours later it is the
    same change, longer. A level that crept up (a ramp, a drift) shows in no single hour, and the six-point
    rule is its first evidence."""
    above = z >= th.sustained
    cols = np.arange(z.shape[1])
    before = np.zeros_like(above)
    before[:, 1:] = above[:, :-1]
    first = np.maximum.accumulate(np.where(above & ~before, cols, 0), axis=1)
    second = np.minimum(first + 1, cols)
    jump = sustained(rise(z, zi), 2) >= th.z
    return above & (np.take_along_axis(jump, first, 1) | np.take_along_axis(jump, second, 1))


def standing_evidence(
    spans: list[int], rules: list[np.ndarray], n_volume: int | None = None, jumped: np.ndarray | None = None
) -> np.ndarray:
    """Per point: the strongest evidence that needs no confirmation: the volume rules spanning
    ``SUSTAINED_POINTS`` or more (where ramps and level shifts show), except the six-point rule where its
    level ``jumped`` (it then asks the forest, as the jump's own alerts did), and every rule after the first
    ``n_volume`` (evidence of how traffic is made, such as fresh peers, already says what the forest would)."""
    n_volume = len(rules) if n_volume is None else n_volume
    rules = list(rules)
    if jumped is not None:
        rules[SUSTAINED_RULE] = np.where(jumped, 0.0, rules[SUSTAINED_RULE])
    return np.maximum.reduce(
        [r for i, (s, r) in enumerate(zip(spans, rules, strict=True)) if s >= SUSTAINED_POINTS or i >= n_volume]
    )


def needs_confirmation(evidence: np.ndarray, standing: np.ndarray, th: SurpriseThresholds) -> np.ndarray:
    """Alerts only short volume rules raise (``standing`` below 1), with evidence below
    ``th.forest_confirm_below``."""
    return (evidence >= 1.0) & (evidence < th.forest_confirm_below) & (standing < 1.0)


def confirmed(
    evidence: np.ndarray,
    standing: np.ndarray,
    forest_score: np.ndarray,
    th: SurpriseThresholds,
    six_point: np.ndarray | None = None,
) -> np.ndarray:
    """The evidence once an Isolation Forest over every feature of the point has been asked to confirm it.

    Benign bursts scale what a series usually does; leaks and misconfigurations also change how its traffic
    is made. A short marginal volume alert (``needs_confirmation``) stands only if the forest ranks the point at least
    ``th.forest_confirm`` (more abnormal than that share of the points it was trained on); otherwise its
    evidence falls below 1, in proportion to the forest's score. Where the six-point rule fires (``six_point``,
    its evidence: ``surprise_rules``' ``SUSTAINED_RULE``) the bar is ``th.forest_confirm_sustained``: six points
    of a level say more than one or two. Other points keep their evidence."""
    bar = np.full(evidence.shape, th.forest_confirm)
    if six_point is not None:
        bar = np.where(six_point >= 1.0, th.forest_confirm_sustained, bar)
    drop = needs_confirmation(evidence, standing, th) & (forest_score < bar)
    return np.where(drop, np.minimum(evidence, 1.0) * forest_score / bar * 0.999, evidence)
