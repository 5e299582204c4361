"""False incidents on incident-free series under hard noise (issue 17's stress test, measured before it is a gate).

30 hourly series of one account over 3 weeks, a diurnal shape and 8 % spread, under each noise model: i.i.d.
lognormal, AR(1) with phi = 0.8, Student-t(3), routine bursts (about every other day per series, 1.5-3x,
1-3 hours) and rare bursts (about one a week, 1.5-3x, 1-6 hours: benign, yet shaped like the step). Each panel
is fitted and scored by the lake detector's own path (``fit_detector`` + ``scoring.score``), in every mode; the
count is incidents (events) per model, and per account-week. A +50 % step of 6 hours on one series is then added
to each panel: is it found (an event naming that series overlapping the step)?

Usage: python bench/stress.py [--seed 0] [--modes baseline,forest,ensemble]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from egress_optimizer.detection.detector import DetectorParams
from egress_optimizer.detection.panel import build_panel
from egress_optimizer.detection.scoring import score
from egress_optimizer.detection.training import fit_detector

SERIES, DAYS, SIGMA = 30, 21, 0.08
MODELS = ("iid", "ar1", "student_t3", "bursts", "rare_bursts")
START = pd.Timestamp("2026-10-05", tz="UTC")
STEP = (24 * 17 + 9, 24 * 17 + 15, 0.5, 7)  # start hour, end hour, +50 %, on series 7


def noise(model: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """Log-scale noise with spread ``SIGMA`` (bursts: i.i.d. noise plus the bursts)."""
    if model == "ar1":
        x = np.zeros(n)
        e = rng.normal(0, SIGMA * np.sqrt(1 - 0.8**2), n)
        for t in range(1, n):
            x[t] = 0.8 * x[t - 1] + e[t]
        return x
    if model == "student_t3":
        return rng.standard_t(3, n) / np.sqrt(3.0) * SIGMA
    x = rng.normal(0, SIGMA, n)
    # Routine bursts (a series' habit: about every other day, 1-3 hours) and rare ones (about once a week,
    # up to 6 hours: as long as the step, so the step is only found where it outgrows them).
    per_day, longest = {"bursts": (0.5, 3), "rare_bursts": (1 / 7, 6)}.get(model, (0.0, 0))
    for _ in range(rng.poisson(per_day * DAYS)):
        lo = int(rng.integers(0, n - longest))
        x[lo : lo + int(rng.integers(1, longest + 1))] += np.log(rng.uniform(1.5, 3.0))
    return x


def panel_rows(model: str, seed: int, step: bool) -> pd.DataFrame:
    rng = np.random.default_rng([seed, MODELS.index(model)])
    hours = pd.date_range(START, periods=DAYS * 24, freq="h")
    shape = 0.6 + 0.4 * np.sin((hours.hour.to_numpy() - 7) / 24 * 2 * np.pi).clip(-0.5, 1)
    frames = []
    for s in range(SERIES):
        b = 1e9 * (1 + s % 5) * shape * np.exp(noise(model, rng, len(hours)))
        if step and s == STEP[3]:
            b[STEP[0] : STEP[1]] *= 1 + STEP[2]
        frames.append(
            pd.DataFrame(
                {
                    "hour": hours,
                    "account_id": "111122223333",
                    "region": "us-east-1",
                    "entity": f"nat-{s:03d}",
                    "destination": "internet via NAT",
                    "peer_region": "",
                    "team": f"team-{s % 3}",
                    "bytes": b.astype(np.int64),
                    "cost_usd": b / 1024**3 * 0.045,
                    "distinct_peers": 5,
                    "new_peers": 0,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def run(model: str, mode: str, seed: int) -> tuple[int, bool]:
    quiet = build_panel(panel_rows(model, seed, step=False))
    detector, _ = fit_detector(quiet, DetectorParams(mode=mode, seed=seed))
    _, events = score(detector, quiet, [])
    stepped = build_panel(panel_rows(model, seed, step=True))
    detector, _ = fit_detector(stepped, DetectorParams(mode=mode, seed=seed))
    _, found = score(detector, stepped, [])
    lo, hi = stepped.hours[STEP[0]], stepped.hours[STEP[1]]
    hit = any(
        any(e["entity"] == f"nat-{STEP[3]:03d}" for e in ev.entities) and pd.Timestamp(ev.start) < hi
        and pd.Timestamp(ev.end) > lo
        for ev in found
    )  # fmt: skip
    return len(events), hit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modes", default="baseline,forest,ensemble")
    args = ap.parse_args()
    weeks = DAYS / 7
    print(f"{SERIES} series, {DAYS} days, one account; false incidents (per account-week), and the +50 % 6 h step")
    print("noise".ljust(12) + "".join(m.rjust(26) for m in args.modes.split(",")))
    for model in MODELS:
        cells = []
        for mode in args.modes.split(","):
            n, hit = run(model, mode, args.seed)
            cells.append(f"{n:4d} ({n / weeks:5.2f}/wk) {'found' if hit else 'MISSED':>7}")
        print(model.ljust(12) + "".join(c.rjust(26) for c in cells))


if __name__ == "__main__":
    main()
