"""Detection throughput: our detector versus plain scikit-learn IsolationForest on the same rows, same run.

A synthetic ``egress_hourly`` panel (``--series`` series x ``--days`` days of diurnal traffic with 8 % noise)
is built once. Measured, in feature rows (series-hours) per second:
- ours, train: signals (seasonal medians, robust scales, 3/12-hour evidence, peer novelty, breadth) + forest fit;
- ours, score: signals + the default mode's decision (the rules; the forest too in the ensemble) for every row;
- reference: ``sklearn.ensemble.IsolationForest`` (same trees and sample size) fit on, then scoring, the raw
  numeric columns of the same rows (what a naive detector would do).
Usage: python bench/detect.py [--series 2000] [--days 30]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sklearn.ensemble import IsolationForest

from egress_optimizer.detection.detector import DEFAULT_MODE, DetectorParams, EgressDetector
from egress_optimizer.detection.panel import Panel
from egress_optimizer.detection.signals import compute_signals


def synthetic_panel(series: int, days: int, seed: int = 0) -> Panel:
    rng = np.random.default_rng(seed)
    t = days * 24
    hours = pd.date_range("2026-10-01", periods=t, freq="h", tz="UTC")
    hod = hours.hour.to_numpy()
    shape = 0.6 + 0.4 * np.clip(np.sin((hod - 7) / 24 * 2 * np.pi), -0.5, 1)
    level = rng.lognormal(20, 2, series)[:, None]
    b = level * shape[None, :] * rng.lognormal(-0.0032, 0.08, (series, t))
    keys = pd.DataFrame(
        {
            "account": [f"{100000000000 + i % 20}" for i in range(series)],
            "region": [["us-east-1", "eu-west-1", "ap-southeast-1"][i % 3] for i in range(series)],
            "entity": [f"eni-{i:08x}" for i in range(series)],
            "destination": [["internet", "cross-az", "inter-region"][i % 3] for i in range(series)],
            "peer_region": "",
            "team": [f"team-{i % 40}" for i in range(series)],
        }
    )
    values = {
        "bytes": b,
        "cost_usd": b / 1024**3 * 0.05,
        "distinct_peers": rng.poisson(12, (series, t)).astype(float),
        "new_peers": rng.poisson(0.3, (series, t)).astype(float),
        "recent_peer_bytes": b * rng.beta(1, 30, (series, t)),
    }
    return Panel(keys, hours, values)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--days", type=int, default=30)
    args = ap.parse_args()
    panel = synthetic_panel(args.series, args.days)
    rows = panel.shape[0] * panel.shape[1]
    results = []

    t0 = time.perf_counter()
    det = EgressDetector(DetectorParams(mode=DEFAULT_MODE, seed=0))
    sig = compute_signals(panel)
    det.fit(panel, sig)
    results.append(("ours: signals + forest fit", time.perf_counter() - t0))
    t0 = time.perf_counter()
    det.score_panel(panel, compute_signals(panel))
    results.append((f"ours: signals + score every row ({DEFAULT_MODE} mode)", time.perf_counter() - t0))

    raw = np.stack([panel.values[k].reshape(-1) for k in ("bytes", "cost_usd", "distinct_peers", "new_peers")], 1)
    ref = IsolationForest(n_estimators=200, max_samples=512, random_state=0)
    t0 = time.perf_counter()
    ref.fit(raw)
    results.append(("sklearn IsolationForest fit (raw columns)", time.perf_counter() - t0))
    t0 = time.perf_counter()
    ref.score_samples(raw)
    results.append(("sklearn IsolationForest score_samples (raw columns)", time.perf_counter() - t0))

    table = Table(title=f"Detection throughput: {panel.shape[0]:,} series x {panel.shape[1]:,} hours = {rows:,} rows")
    for col in ("measure", "seconds", "rows/s"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    for name, sec in results:
        table.add_row(name, f"{sec:.2f}", f"{rows / sec:,.0f}")
    table.add_row("train: ours / sklearn (time)", f"{results[0][1] / results[2][1]:.2f}x", "")
    table.add_row("score: ours / sklearn (time)", f"{results[1][1] / results[3][1]:.2f}x", "")
    table.add_row("score throughput: ours / sklearn (series-hours/s)", f"{results[3][1] / results[1][1]:.2f}x", "")
    Console().print(table)
    Console().print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
