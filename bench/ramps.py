"""Time to detect a ramp by how fast it rises and how noisy its series is (issue 17's target: at most 6 hours
for ramps of 50 %/day and more), on synthetic panels, development data.

30 hourly NAT-like series of one account over 3 weeks, a diurnal shape and log-normal noise of spread ``sigma``
(i.i.d.); on one of them, from day 17 at 09:00 to the panel's end (4 days), bytes grow linearly by ``rate`` of
their level per day (0.5: +50 % a day). The detector runs its own path (``fit_detector`` + ``scoring.score``),
default mode, fitted on the panel it scores. Each cell: the median over seeds of the hours from the ramp's start
to the first event naming that series (its ``detected_at``), ``-`` where a seed found none (the count of seeds
that found it follows), the events on the other series (false incidents) summed over seeds, and the hours an
ideal detector would need (``ideal_hours``): told when the ramp starts and how noisy its series is, allowed one
false incident per account-week.

Usage: python bench/ramps.py [--seeds 0,1,2] [--sigmas 0.02,0.04,0.08] [--rates 0.25,0.5,1,2]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from scipy.stats import norm

from egress_optimizer.detection.detector import DEFAULT_MODE, DetectorParams
from egress_optimizer.detection.panel import build_panel
from egress_optimizer.detection.scoring import score
from egress_optimizer.detection.training import fit_detector

SERIES, DAYS, RAMPED = 30, 21, 7
START = pd.Timestamp("2026-10-05", tz="UTC")
RAMP_FROM = 24 * 17 + 9


def panel_rows(sigma: float, rate: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng([seed, int(sigma * 1000), int(rate * 1000)])
    hours = pd.date_range(START, periods=DAYS * 24, freq="h")
    shape = 0.6 + 0.4 * np.sin((hours.hour.to_numpy() - 7) / 24 * 2 * np.pi).clip(-0.5, 1)
    since = np.clip(np.arange(len(hours)) - RAMP_FROM, 0, None)
    frames = []
    for s in range(SERIES):
        b = 1e9 * (1 + s % 5) * shape * np.exp(rng.normal(0, sigma, len(hours)))
        if s == RAMPED:
            b = b * (1 + rate * since / 24)
        frames.append(
            pd.DataFrame(
                {
                    "hour": hours, "account_id": "111122223333", "region": "us-east-1", "entity": f"nat-{s:03d}",
                    "destination": "internet via NAT", "peer_region": "", "team": f"team-{s % 3}",
                    "bytes": b.astype(np.int64), "cost_usd": b / 1024**3 * 0.045, "distinct_peers": 5, "new_peers": 0,
                }
            )
        )  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def run(sigma: float, rate: float, seed: int) -> tuple[float | None, int]:
    """Hours from the ramp's start to its first report (None: not found), and events on the other series."""
    panel = build_panel(panel_rows(sigma, rate, seed))
    detector, _ = fit_detector(panel, DetectorParams(mode=DEFAULT_MODE, seed=seed))
    _, events = score(detector, panel, [])
    ramped, start = f"nat-{RAMPED:03d}", panel.hours[RAMP_FROM]
    on_ramp = [e for e in events if any(x["entity"] == ramped for x in e.entities) and pd.Timestamp(e.end) > start]
    others = sum(not any(x["entity"] == ramped for x in e.entities) for e in events)
    if not on_ramp:
        return None, others
    first = min(pd.Timestamp(e.detected_at) for e in on_ramp)
    return (first - start) / pd.Timedelta(hours=1), others


def ideal_hours(sigma: float, rate: float, false_per_week: float = 1.0) -> int:
    """Hours from the ramp's start to the report of a detector told its start, shape and noise: the matched
    filter over the ramp's hours so far (log growth over the log-normal spread) past the bar that noise alone
    crosses ``false_per_week`` times a week over the panel's series, one test per series-hour. Optimistic: a
    detector that must find the start tests many starts each hour and needs a higher bar."""
    bar = norm.isf(false_per_week / (SERIES * 168))
    k = 0
    while True:
        k += 1
        growth = np.log1p(rate * np.arange(1, k + 1) / 24)
        if np.sqrt(np.sum(growth**2)) / sigma >= bar:
            return k + 1  # the ramp's first hour adds nothing; its k-th grown hour is reported at that hour's end


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--sigmas", default="0.02,0.04,0.08")
    ap.add_argument("--rates", default="0.25,0.5,1,2")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    rates = [float(r) for r in args.rates.split(",")]
    print(f"{SERIES} series, {DAYS} days, one ramped from day 17; median hours to detect (found / seeds), "
          f"false incidents on the other series; seeds {args.seeds}")  # fmt: skip
    print("sigma".ljust(8) + "".join(f"{r:+.0%}/day".rjust(32) for r in rates))
    for sigma in (float(s) for s in args.sigmas.split(",")):
        cells = []
        for rate in rates:
            got = [run(sigma, rate, seed) for seed in seeds]
            found = [h for h, _ in got if h is not None]
            median = f"{np.median(found):5.1f} h" if found else "    -  "
            cells.append(
                f"{median} ({len(found)}/{len(seeds)}), {sum(o for _, o in got)} FI, ideal {ideal_hours(sigma, rate)} h"
            )
        print(f"{sigma:<8.2f}" + "".join(c.rjust(32) for c in cells))


if __name__ == "__main__":
    main()
