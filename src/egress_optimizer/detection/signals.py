"""Per-series, per-hour anomaly signals engineered from the panel (the detector's feature matrix).

Every signal is already normalised by the series' own past (a z-like scale), so one model and one threshold
serve series whose levels differ by six orders of magnitude, and level drift after legitimate growth is
absorbed by the trailing baselines instead of being scored forever.

- ``z``: log residual of bytes versus the median of the same hour over the past week, over a robust sigma;
- ``zi``: the residual's innovation (``core.innovation_z``): what the previous hour's residual did not predict;
- ``z3`` / ``z6`` / ``z12`` / ``z24``: the (from 6 hours on, linearly weighted) mean of the last k hours'
  clipped residuals over its standard error under the series' autocorrelation (``core.window_z``), so a
  sustained 15 % shift or a ramp accumulates evidence that no single hour shows (hours that rose with the
  rest of their application, see ``breadth``, and hours without a same-kind baseline add nothing to these
  means);
- ``peer_z``: bytes from peers first seen within the last day, as a share of the hour's bytes, above its own
  trailing median, over three hours (exfiltration to new addresses hides inside normal volume noise but not
  here); on a CloudFront distribution, whose viewers are the public internet, also in two of those hours;
- ``cache_z``: on a CloudFront distribution's series, the share of its requests that missed the edge cache
  above its own trailing median, in units of the binomial noise of that many requests (a cache that stops
  caching shows in the first hour here, long before the origin's bursty fetch volume says so);
- ``breadth``: the share of the same team's series in other regions (same kind of resource, or its serving
  resources, same class of destination) whose z is also high this hour (a release lifts the storefront's
  load balancers and servers everywhere at once; a misconfiguration hits one path). An hour without a
  same-kind baseline yet counts as rising by how far it rose over the hours just before it
  (``_weak_rise``), its own z being small by design.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from egress_optimizer.detection.baselines import (
    SeasonalMedianMAD,
    day_starts,
    nan_reduce,
    robust_scale,
    stepped_stat,
    trailing_window,
)
from egress_optimizer.detection.context import CONTEXT, context_signals
from egress_optimizer.detection.core import WINDOWS, ar1_coefficient, innovation_z, window_z
from egress_optimizer.detection.panel import SERVER_KINDS, Panel, cloudfront_viewer_rows, entity_kind, weekend_matrix

SIGNALS = ["z", "zi", *[f"z{k}" for k in WINDOWS], "peer_z", "cache_z", "breadth", *CONTEXT]
Z_CAP = 50.0
WARMUP_HOURS = 72  # the first three days only build baselines
PEER_WARMUP_HOURS = 48
PEER_BASELINE_HOURS = 48  # hours of fresh-peer shares a baseline rests on before it scores
PEER_MEMORY_HOURS = 168  # a lake must have seen a week of peers (clients that come weekly) to call one fresh
PEER_YOUNG_MARGIN = 2.0  # extra fresh-peer evidence needed when scoring starts, falling to none by a week
DEMAND_BREADTH = 0.5  # at least half the team's series of the same class in other regions rise together
PEER_SHARE_FLOOR = 0.03  # a 3-hour share of bytes to fresh peers 3 points above normal is one unit
PRIOR_MIN_HOURS = 24  # residual hours a series needs before its noise informs the prior of similar series


def _rolling_mean(x: np.ndarray, k: int) -> np.ndarray:
    c = np.cumsum(np.pad(x, ((0, 0), (1, 0))), axis=1)
    out = np.empty_like(x)
    t = x.shape[1]
    idx = np.arange(t)
    lo = np.maximum(idx - k + 1, 0)
    out[:] = (c[:, idx + 1] - c[:, lo]) / (idx - lo + 1)
    return out


def _rolling_median3(x: np.ndarray) -> np.ndarray:
    """Median of each hour and the two before it (hours before the first count as 0)."""
    a = np.pad(x, ((0, 0), (2, 0)))
    return np.median(np.stack([a[:, 2:], a[:, 1:-1], a[:, :-2]]), axis=0)


def _scaled_peer(dev: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """A fresh-peer share statistic over its own past spread (hours of the peer warm-up left out)."""
    hist = dev.copy()
    hist[:, : PEER_WARMUP_HOURS + 3] = np.nan
    return dev / robust_scale(hist, starts, 168, floor=PEER_SHARE_FLOOR, prior=PEER_SHARE_FLOOR)


def _window_signals(
    out: dict[str, np.ndarray],
    sl: slice | np.ndarray,
    r: np.ndarray,
    ex: np.ndarray | None,
    sigma: np.ndarray,
    phi: np.ndarray,
    starts: np.ndarray,
    prior: np.ndarray,
) -> None:
    """``z<k>`` (``core.window_z``) into ``out[...][sl]`` (a slice or the row indices of ``r``)."""
    for k in WINDOWS:
        z = window_z(r, sigma, phi, k, starts, 168, ex, prior, floor=0.03)
        out[f"z{k}"][sl] = np.clip(z, -Z_CAP, Z_CAP)


WEAK_RISE_HOURS = 6  # hours a weak hour is compared with (see _weak_rise)


def peer_memory_factor(t: int) -> np.ndarray:
    """Per hour of a panel: how much more fresh-peer evidence is needed. "Fresh" means first seen by the lake,
    so in a lake younger than ``PEER_MEMORY_HOURS`` returning clients still look fresh and the fresh share is
    high and volatile, falling as the lake's memory fills (development estates: 0-90 % an hour on day 4, under
    10 % by day 7). 1 + ``PEER_YOUNG_MARGIN`` when peers start scoring, 1 from a week on."""
    scored_from = PEER_WARMUP_HOURS + PEER_BASELINE_HOURS
    left = (PEER_MEMORY_HOURS - np.arange(t)) / (PEER_MEMORY_HOURS - scored_from)
    return 1.0 + PEER_YOUNG_MARGIN * np.clip(left, 0.0, 1.0)


def _weak_rise(r: np.ndarray, weak: np.ndarray, strong_sigma: np.ndarray) -> np.ndarray:
    """On weak hours (no same-kind baseline yet): the residual's rise over the median of the previous
    ``WEAK_RISE_HOURS`` weak residuals (at least half of them), in units of the series' noise; 0 elsewhere.

    A weak hour's own z is small by design (scored against the wide all-residual sigma, its residual holds
    the weekday/weekend difference), so a release that lifts a series on its first Sunday evening would not
    count as rising in ``breadth``. Against the hours just before, that difference cancels and the release
    shows."""
    out = np.zeros(r.shape)
    cols = np.flatnonzero(weak.any(axis=0))
    if len(cols) == 0:
        return out
    end = int(cols[-1]) + 1  # weak hours are a young lake's first days: the rest need no trailing median
    r, weak, strong_sigma = r[:, :end], weak[:, :end], strong_sigma[:, :end]
    recent = trailing_window(np.where(weak, r, np.nan), WEAK_RISE_HOURS)
    enough = np.sum(~np.isnan(recent), axis=0) >= WEAK_RISE_HOURS // 2
    base = nan_reduce(np.nanmedian, recent, 0)
    rise = np.where(weak & enough & ~np.isnan(r), (r - base) / strong_sigma, 0.0)
    out[:, :end] = np.clip(np.nan_to_num(rise), -Z_CAP, Z_CAP)
    return out


def _similar_series_prior(panel: Panel, noise: np.ndarray) -> np.ndarray:
    """Per cell: the median hourly noise of the series of the same kind of resource and destination class
    (NAT gateways' internet egress, buckets' replication ...), from those with at least a day of residuals;
    NaN where none has. A young series borrows it instead of a fixed guess: its own few residuals say little,
    and a fixed 15 % is three times the noise of a busy NAT gateway and a tenth of a bursty origin's."""
    groups = similar_series_groups(panel.keys)
    out = np.full(noise.shape, np.nan)
    for g in np.unique(groups):
        rows = groups == g
        out[rows] = np.maximum(nan_reduce(np.nanmedian, noise[rows], 0), 0.03)[None, :]
    return out


def compute_signals(
    panel: Panel, exclude: np.ndarray | None = None, chunk: int = 256, demand_breadth: float = DEMAND_BREADTH
) -> dict[str, np.ndarray]:
    """All signals as (n_series, n_hours) matrices, plus ``expected_bytes`` and ``expected_usd``.

    ``exclude`` (same shape) marks planned hours: they neither score nor feed any baseline. Hours whose
    ``breadth`` reaches ``demand_breadth`` are demand and add nothing to the multi-hour means (the detector's
    ``Thresholds.breadth``, so one setting decides both).
    """
    n, t = panel.shape
    out = {k: np.zeros((n, t)) for k in [*SIGNALS, "expected_bytes", "expected_usd", "residual"]}
    model = SeasonalMedianMAD()
    starts = day_starts(t, panel.hours[0].hour) if t else np.array([], dtype=int)
    weekend = weekend_matrix(panel) if t else None
    viewers = cloudfront_viewer_rows(panel.keys)
    # First pass: every series' residuals, so each can borrow the noise of similar series (a young lake's
    # series know little of their own).
    raw = [
        model.residuals(
            panel.values["bytes"][lo : lo + chunk],
            exclude[lo : lo + chunk] if exclude is not None else None,
            starts,
            weekend[lo : lo + chunk] if weekend is not None else None,
        )
        for lo in range(0, n, chunk)
    ]
    noise = np.concatenate([model.noise(res, PRIOR_MIN_HOURS) for res in raw]) if n else None
    similar = _similar_series_prior(panel, noise) if n else None
    sigma = np.zeros((n, t))
    prior = np.zeros((n, t))
    weak = np.zeros((n, t), dtype=bool)
    # Memory of the last hour, pooled over similar series while a series' own residuals are few.
    strong = [np.where(res["weak"] | np.isnan(res["residual"]), np.nan, res["residual"]) for res in raw]
    phi = ar1_coefficient(np.concatenate(strong), starts, 168, similar_series_groups(panel.keys)) if n else None
    rise = np.zeros((n, t))
    for lo, res in zip(range(0, n, chunk), raw, strict=True):
        sl = slice(lo, min(n, lo + chunk))
        x = panel.values["bytes"][sl]
        ex = exclude[sl] if exclude is not None else None
        s = model.scored(res, starts, similar[sl])
        sigma[sl], prior[sl], weak[sl] = s["sigma"], s["prior"], s["weak"]
        rise[sl] = _weak_rise(res["residual"], s["weak"], s["strong_sigma"])
        z = np.clip(s["z"], -Z_CAP, Z_CAP)
        if ex is not None:
            z = np.where(ex, 0.0, z)
        r = s["residual"] if ex is None else np.where(ex, 0.0, s["residual"])
        out["z"][sl] = z
        zi = np.clip(innovation_z(np.where(s["weak"], 0.0, r), phi[sl], s["sigma"]), -Z_CAP, Z_CAP)
        out["zi"][sl] = zi if ex is None else np.where(ex, 0.0, zi)
        out["residual"][sl] = r
        _window_signals(out, sl, np.where(s["weak"], 0.0, r), ex, s["sigma"], phi[sl], starts, s["prior"])
        out["expected_bytes"][sl] = s["expected"]
        cost = panel.values["cost_usd"][sl]
        rate = np.where(x > 0, cost / np.where(x > 0, x, 1), np.nan)
        # Dollars per byte of this series lately (tiers change it slowly); used to price the expected bytes.
        recent_rate = np.nan_to_num(stepped_stat(rate, 24, np.nanmedian, starts)) if t else rate
        recent_rate = np.where(np.isnan(rate), recent_rate, rate)
        out["expected_usd"][sl] = s["expected"] * np.nan_to_num(recent_rate)
        share = panel.values["recent_peer_bytes"][sl] / np.where(x > 0, x, 1)
        # In the first two days of a lake every peer is "recent": keep those hours out of the peer baseline.
        share_hist = share.copy()
        share_hist[:, :PEER_WARMUP_HOURS] = np.nan
        base = stepped_stat(share_hist, 168, np.nanmedian, starts)
        # In a young lake every peer is fresh: fresh peers say nothing (nor teach the habit) until the lake has
        # two days of shares behind its warm-up. After that a series with no history of its own expected none
        # (a new path's peers are all fresh, and that is the evidence).
        young = np.arange(t) < PEER_WARMUP_HOURS + PEER_BASELINE_HOURS
        base = np.where(young[None, :], share, np.nan_to_num(base))
        # The 3-hour mean: one fresh client taking a big share for an hour is normal, fresh addresses taking a
        # large share hour after hour are not.
        peer = _scaled_peer(_rolling_mean(share - base, 3), starts)
        # A CDN's viewers are the public internet, where a new address is the rule: there the fresh share must
        # also be up in two of the last three hours (the median), or one new viewer's busy hour pages.
        cdn = viewers[sl]
        if cdn.any():
            peer[cdn] = np.minimum(peer[cdn], _scaled_peer(_rolling_median3(share[cdn] - base[cdn]), starts))
        out["peer_z"][sl] = np.clip(peer if ex is None else np.where(ex, 0.0, peer), -Z_CAP, Z_CAP)
    out["cache_z"] = _cache_z(panel, viewers, exclude, starts)
    out.update(context_signals(panel, starts, exclude))
    out["breadth"] = _breadth(panel, np.maximum.reduce([out["z"], out["z3"], rise]))
    # Hours that rose with the rest of their application (a release, a sale) are demand, not evidence: the
    # multi-hour means are recomputed without them, or a release would keep a 12-hour mean high for half a
    # day after the release itself stopped being scored.
    # Only series that had a demand hour change, so only those are recomputed.
    demand = (out["breadth"] >= demand_breadth) & ~new_path(out)
    rows = np.flatnonzero(demand.any(axis=1))
    for lo in range(0, len(rows), chunk):
        idx = rows[lo : lo + chunk]
        ex = exclude[idx] if exclude is not None else None
        r = np.where(demand[idx] | weak[idx], 0.0, out["residual"][idx])
        _window_signals(out, idx, r, ex, sigma[idx], phi[idx], starts, prior[idx])
    return out


def new_path(sig: dict[str, np.ndarray]) -> np.ndarray:
    """Cells where the series carries traffic nothing was expected at (a path new at that hour of the day):
    never demand, whatever else moves, and the one place a lone hour pages (``detector.Thresholds``)."""
    return (sig["expected_bytes"] <= 0) & (sig["z"] > 0)


def _cache_z(
    panel: Panel, cf: np.ndarray, exclude: np.ndarray | None, starts: np.ndarray, min_share: float = 0.02
) -> np.ndarray:
    """Per CloudFront distribution and hour (its geographies pooled, for the request count): the cache-miss
    share above its trailing-week median, over the binomial sigma of the hour's requests (the base share at
    least ``min_share``) widened by the series' own overdispersion; the same value on each of its series
    (``cf`` marks the viewer series)."""
    out = np.zeros(panel.shape)
    if not cf.any() or "cache_misses" not in panel.values or not panel.values["cache_misses"][cf].any():
        return out
    entities = panel.keys["entity"].to_numpy()
    for entity in np.unique(entities[cf]):
        rows = np.flatnonzero(cf & (entities == entity))
        n = panel.values["records"][rows].sum(axis=0)
        share = np.where(n > 0, panel.values["cache_misses"][rows].sum(axis=0) / np.maximum(n, 1), np.nan)
        hist = share.copy()
        if exclude is not None:
            hist[exclude[rows].any(axis=0)] = np.nan
        base = stepped_stat(hist[None, :], 168, np.nanmedian, starts)[0]
        p = np.clip(np.nan_to_num(base, nan=min_share), min_share, 1 - min_share)
        raw = np.where(n > 0, (share - p) / np.sqrt(p * (1 - p) / np.maximum(n, 1)), np.nan)
        raw_hist = np.where(np.isnan(hist), np.nan, raw)
        # Request mixes change (a popular new object, a purge): past hours say how far beyond binomial noise
        # this distribution's share wanders, and never less than the binomial sigma itself.
        scale = robust_scale(raw_hist[None, :], starts, 168, floor=1.0, prior=1.0)[0]
        z = np.nan_to_num(np.where(np.isnan(base), 0.0, raw / scale), nan=0.0)
        out[rows] = np.clip(z, -Z_CAP, Z_CAP)[None, :]
    if exclude is not None:
        out[exclude] = 0.0
    return out


def _breadth(panel: Panel, z: np.ndarray, level: float = 3.0) -> np.ndarray:
    """For each cell: share of the same team's series of the same destination class and kind of resource in
    *other* regions that are also up by ``level`` sigmas (a release's load balancers are compared with load
    balancers, not diluted by the team's flat NAT gateways), or, if higher, the same share over the team's
    serving resources (load balancers, instances, tasks) of that class: a release lifts the front door and
    the servers behind it, and a web tier with one instance in the other region is not left to that one
    instance's noise."""
    dest_class, kind = _class_and_kind(panel.keys)
    base = panel.keys["team"].fillna("").to_numpy().astype(object) + "|" + dest_class + "|"
    serving = np.isin(kind, SERVER_KINDS)
    regions = panel.keys["region"].to_numpy()
    up = (z >= level).astype(float)
    out = np.zeros_like(z)
    for groups in (base + kind, np.where(serving, base + "serving", "")):
        for team in np.unique(groups):
            if team == "" or team.startswith("|"):
                continue
            rows = np.flatnonzero(groups == team)
            if len(np.unique(regions[rows])) < 2:
                continue
            for r in np.unique(regions[rows]):
                mine = rows[regions[rows] == r]
                others = rows[regions[rows] != r]
                out[mine] = np.maximum(out[mine], up[others].mean(axis=0)[None, :])
    return out


def similar_series_groups(keys: pd.DataFrame) -> np.ndarray:
    """A label per series: its destination class and kind of resource (see ``_class_and_kind``)."""
    dest_class, kind = _class_and_kind(keys)
    return dest_class + "|" + kind


def _class_and_kind(keys: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per series: its destination class (``internet``, ``cloudfront``, ``cross-az`` ..., the destination
    before any ``:<detail>``) and its kind of resource (``entity_kind``), the two that make series similar."""
    dest_class = keys["destination"].astype(str).str.split(":").str[0].to_numpy().astype(object)
    return dest_class, keys["entity"].astype(str).map(entity_kind).to_numpy().astype(object)
