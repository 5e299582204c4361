"""How an hour's traffic is made, relative to the series' own past: the features univariate rules are blind to.

A volume rule sees how many bytes left; these see what kind of bytes. Each is the hour's value minus the
median of the series' previous week, over the robust spread of those differences (recomputed daily, like
every other baseline), so 0 is "made like this series usually is" whatever its size:

- ``destination_share``: the series' share of its resource's bytes across all destinations (its destination
  mix): a leak or a lost gateway endpoint moves bytes between destinations of one resource, a busy day
  scales them all;
- ``flow_size``: log bytes per flow record (bulk copies move few large flows, scans and crawlers many small);
- ``packet_size``: log bytes per packet (full segments for bulk transfer, small ones for chatty protocols);
- ``peer_count``: log distinct peers (a fan-out to many addresses, or one new heavy peer).

The fresh-peer share (``peer_z``) and the CloudFront cache-miss share (``cache_z``) are in ``signals``;
the time-of-day profile is the seasonal baseline of ``z`` itself. Hours with no traffic, and hours a series
cannot measure (no flow records, a CUR-only lake's empty packet counts) score 0.
"""

from __future__ import annotations

import numpy as np

from egress_optimizer.detection.baselines import robust_scale, stepped_stat
from egress_optimizer.detection.panel import Panel

CONTEXT = ["destination_share", "flow_size", "packet_size", "peer_count"]
CONTEXT_CAP = 20.0
WEEK = 168


def relative_to_own_week(x: np.ndarray, valid: np.ndarray, starts: np.ndarray, floor: float) -> np.ndarray:
    """``x`` minus its trailing-week median over the trailing-week robust spread of that difference; 0 where
    ``x`` is not measured (``valid`` False) or the series has no week behind it yet."""
    x = np.where(valid, x, np.nan)
    with np.errstate(all="ignore"):
        dev = x - stepped_stat(x, WEEK, np.nanmedian, starts)
        z = dev / robust_scale(dev, starts, WEEK, floor=floor, prior=10 * floor)
    return np.clip(np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0), -CONTEXT_CAP, CONTEXT_CAP)


def resource_totals(panel: Panel) -> np.ndarray:
    """Per cell: the bytes of all series of the same account and resource that hour."""
    resource = (panel.keys["account"].astype(str) + "|" + panel.keys["entity"].astype(str)).to_numpy()
    _, group = np.unique(resource, return_inverse=True)
    totals = np.zeros((int(group.max()) + 1 if len(group) else 0, panel.shape[1]))
    np.add.at(totals, group, panel.values["bytes"])
    return totals[group]


def context_signals(panel: Panel, starts: np.ndarray, exclude: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every ``CONTEXT`` feature as an (n_series, n_hours) matrix (planned hours score 0)."""
    v = panel.values
    sent = v["bytes"]
    records, packets = v.get("records", np.zeros_like(sent)), v.get("packets", np.zeros_like(sent))
    total = resource_totals(panel)
    with np.errstate(all="ignore"):
        out = {
            "destination_share": relative_to_own_week(sent / total, sent > 0, starts, 0.01),
            "flow_size": relative_to_own_week(np.log(sent / records), (sent > 0) & (records > 0), starts, 0.05),
            "packet_size": relative_to_own_week(np.log(sent / packets), (sent > 0) & (packets > 0), starts, 0.02),
            "peer_count": relative_to_own_week(np.log1p(v["distinct_peers"]), sent > 0, starts, 0.05),
        }
    if exclude is not None:
        for m in out.values():
            m[exclude] = 0.0
    return out
