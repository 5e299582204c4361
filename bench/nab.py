"""NAB scoring (Lavin & Ahmad 2015, "Evaluating Real-time Anomaly Detection Algorithms"), written from the paper's
description, for comparing detectors on NAB's corpus beside NAB's published ones.

Per file: the first rows (15 %, at most 750) are a probationary period and are not scored. A detection is a row
whose anomaly score reaches the threshold. In each labelled window only the earliest detection counts, weighted by
the scaled sigmoid of its position (``2 / (1 + e^(5y)) - 1``, y = -1 at the window's start, 0 at its end); a
detection outside every window is a false positive weighted by the same sigmoid of its distance after the
preceding window (in window lengths; -1 with no window before it or beyond 3 lengths); a window without a detection
costs the profile's false-negative weight. A corpus score is normalised so the null detector (never detects) is 0
and the perfect one (detects at each window's start) 100.

Usage: python bench/nab.py [--corpus ../shared/data/anomaly_corpora/nab] [--check] [--ours]
  --check  reproduce the null detector's rows of NAB's published per-file tables (counts and score, every file
           and profile), then print each published detector's normalised score per category on these files.
  --ours   score every file with ``egress score-series``'s scorer, choose its one threshold over the corpus as NAB
           does (the best standard-profile score), and print its normalised scores beside the published ones.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

PROBATION_SHARE, PROBATION_MAX = 0.15, 750
DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "anomaly_corpora" / "nab"


@dataclass(frozen=True)
class Profile:
    tp: float
    fp: float
    fn: float


@dataclass(frozen=True)
class FileScore:
    score: float
    tp: int
    tn: int
    fp: int
    fn: int
    total: int


def scaled_sigmoid(y: float) -> float:
    return -1.0 if y > 3.0 else 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probation(n: int) -> int:
    return min(math.floor(PROBATION_SHARE * n), PROBATION_MAX)


def window_rows(timestamps: pd.Series, windows: list[list[str]]) -> list[tuple[int, int]]:
    """Each window as (first row, last row), inclusive."""
    out = []
    for start, end in windows:
        inside = np.flatnonzero((timestamps >= pd.Timestamp(start)) & (timestamps <= pd.Timestamp(end)))
        if len(inside):
            out.append((int(inside[0]), int(inside[-1])))
    return out


def score_file(detected: np.ndarray, windows: list[tuple[int, int]], profile: Profile) -> FileScore:
    """``detected``: one boolean per row (the anomaly score reached the threshold)."""
    n = len(detected)
    first = probation(n)
    in_window = np.zeros(n, dtype=bool)
    for lo, hi in windows:
        in_window[lo : hi + 1] = True
    scored = np.arange(n) >= first
    hit, score = set(), 0.0
    for row in np.flatnonzero(detected & scored):
        w = next((i for i, (lo, hi) in enumerate(windows) if lo <= row <= hi), None)
        if w is not None:
            if w not in hit:
                lo, hi = windows[w]
                hit.add(w)
                score += profile.tp * scaled_sigmoid((row - hi) / (hi - lo + 1))
            continue
        before = [(lo, hi) for lo, hi in windows if hi < row]
        y = (row - before[-1][1]) / (before[-1][1] - before[-1][0] + 1) if before else math.inf
        score += profile.fp * scaled_sigmoid(y)
    score -= profile.fn * (len(windows) - len(hit))
    d, w = detected & scored, in_window & scored
    return FileScore(
        score, int((d & w).sum()), int((~d & ~w & scored).sum()), int((d & ~w).sum()), int((~d & w).sum()), n
    )


def perfect_score(windows: list[tuple[int, int]], profile: Profile) -> float:
    return sum(profile.tp * scaled_sigmoid((lo - hi) / (hi - lo + 1)) for lo, hi in windows)


def normalised(raw: float, null: float, perfect: float) -> float:
    return 100.0 * (raw - null) / (perfect - null)


def load(corpus: Path) -> tuple[dict[str, pd.Series], dict[str, list[tuple[int, int]]], dict[str, Profile]]:
    labels = json.loads((corpus / "labels" / "combined_windows.json").read_text())
    series, windows = {}, {}
    for name, wins in sorted(labels.items()):
        ts = pd.to_datetime(pd.read_csv(corpus / "data" / name, usecols=["timestamp"]).timestamp)
        series[name] = ts
        windows[name] = window_rows(ts, wins)
    costs = json.loads((corpus / "config" / "profiles.json").read_text())
    profiles = {
        p: Profile(c["CostMatrix"]["tpWeight"], c["CostMatrix"]["fpWeight"], c["CostMatrix"]["fnWeight"])
        for p, c in costs.items()
    }
    return series, windows, profiles


def published(corpus: Path, detector: str, profile: str) -> list[dict]:
    path = corpus / "results" / detector / f"{detector}_{profile}_scores.csv"
    with path.open() as f:
        return list(csv.DictReader(f))


def check(corpus: Path) -> None:
    series, windows, profiles = load(corpus)
    matched = total = 0
    for name, profile in profiles.items():
        for row in published(corpus, "null", name):
            ours = score_file(np.zeros(len(series[row["File"]]), dtype=bool), windows[row["File"]], profile)
            theirs = FileScore(float(row["Score"]), *(int(row[k]) for k in ("TP", "TN", "FP", "FN", "Total_Count")))
            total += 1
            matched += ours == theirs
    print(f"null detector: reproduced {matched} of {total} published rows (counts and score)")
    _published_by_category(corpus, series, windows, profiles["standard"])


def _published_by_category(corpus: Path, series: dict, windows: dict, profile: Profile) -> None:
    """Each published detector's normalised standard-profile score per category, from its per-file rows."""
    categories = sorted({name.split("/")[0] for name in series})
    print("standard profile, normalised per category (null 0, perfect 100):")
    print("detector".ljust(20) + "".join(c[:16].rjust(18) for c in categories))
    for detector in sorted(p.name for p in (corpus / "results").iterdir()):
        rows = {r["File"]: float(r["Score"]) for r in published(corpus, detector, "standard")}
        cells = []
        for c in categories:
            files = [n for n in series if n.startswith(c + "/")]
            score = normalised_over(files, rows, windows, profile) if all(n in rows for n in files) else None
            cells.append("n/a".rjust(18) if score is None else f"{score:18.1f}")
        print(detector.ljust(20) + "".join(cells))


def corpus_scores(
    scores: dict[str, np.ndarray], threshold: float, windows: dict, profile: Profile, crossings: bool = False
) -> dict:
    """Raw per-file scores of one detector at one threshold: every row at or above it, or with ``crossings``
    only the rows where the score rises to it (an alert's first row)."""
    out = {}
    for n, s in scores.items():
        detected = s >= threshold
        if crossings:
            detected = detected & ~np.concatenate([[False], detected[:-1]])
        out[n] = score_file(detected, windows[n], profile).score
    return out


def normalised_over(files: list[str], raw: dict, windows: dict, profile: Profile) -> float | None:
    null = -profile.fn * sum(len(windows[n]) for n in files)
    perfect = sum(perfect_score(windows[n], profile) for n in files)
    return normalised(sum(raw[n] for n in files), null, perfect) if perfect != null else None


def ours(corpus: Path) -> None:
    """``egress score-series`` on every file, its threshold chosen over the whole corpus (standard profile), read
    two ways: every row at or above the threshold is a detection (NAB's reading of a score), or only the rows
    where the score rises to it (how an alerting system reads one: an alert, not a row, per crossing)."""
    from egress_optimizer.detection.univariate import OnlineSeriesScorer

    series, windows, profiles = load(corpus)
    standard = profiles["standard"]
    readings = {"rules": {}, "ensemble": {}, "forest only": {}}
    for name in series:
        df = pd.read_csv(corpus / "data" / name)
        stamps = pd.to_datetime(df.timestamp).to_numpy()
        values = df.value.to_numpy(dtype=float)
        readings["rules"][name] = OnlineSeriesScorer(forest=False).score(values, stamps)
        both = OnlineSeriesScorer().surprise(values, stamps)
        readings["ensemble"][name], readings["forest only"][name] = both["score"], both["forest_score"]
    files = sorted(series)
    rows = {}
    for label, scores, crossings in (
        ("egress score-series", readings["rules"], False),
        ("... crossings only", readings["rules"], True),
        ("ensemble", readings["ensemble"], False),
        ("ensemble crossings", readings["ensemble"], True),
        ("forest only", readings["forest only"], False),
        ("forest crossings", readings["forest only"], True),
    ):
        sweep = {t: normalised_over(files, corpus_scores(scores, t, windows, standard, crossings), windows, standard)
                 for t in np.round(np.arange(0.05, 1.0, 0.01), 2)}  # fmt: skip
        best = max(sweep, key=lambda t: sweep[t])
        rows[label] = corpus_scores(scores, best, windows, standard, crossings)
        print(f"{label}: threshold {best:.2f}, whole corpus (standard) {sweep[best]:.1f}")
    categories = sorted({n.split("/")[0] for n in files})
    for detector in sorted(p.name for p in (corpus / "results").iterdir()):
        rows[detector] = {r["File"]: float(r["Score"]) for r in published(corpus, detector, "standard")}
    print("detector".ljust(22) + "corpus".rjust(8) + "".join(c[:14].rjust(16) for c in categories[1:]))
    for detector, raw in rows.items():
        if any(n not in raw for n in files):
            continue
        cells = [normalised_over(files, raw, windows, standard)]
        cells += [
            normalised_over([n for n in files if n.startswith(c + "/")], raw, windows, standard) for c in categories[1:]
        ]
        print(detector.ljust(22) + f"{cells[0]:8.1f}" + "".join(f"{c:16.1f}" for c in cells[1:]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--ours", action="store_true")
    args = ap.parse_args()
    if args.check:
        check(args.corpus)
    if args.ours:
        ours(args.corpus)


if __name__ == "__main__":
    main()
