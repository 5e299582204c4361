"""The benchmark scripts that run the library's hot paths still run against it (tiny sizes: a smoke check,
never a timing). bench/features.py once broke when FEATURES_SQL read a column its synthetic table lacked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("script", "args", "expect"),
    [
        ("features.py", ["--rows", "20000", "--repeat", "1"], "FEATURES_SQL"),
        ("detect.py", ["--series", "20", "--days", "5"], "train: ours / sklearn"),
        ("ramps.py", ["--seeds", "0", "--sigmas", "0.08", "--rates", "2"], "(1/1), 0 FI"),
        # the NAB scorer reproduces every published row of the null detector (the rows whose outputs we know)
        ("nab.py", ["--check"], "null detector: reproduced 123 of 123 published rows"),
    ],
)
def test_bench_script_runs(script, args, expect):
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert expect in done.stdout


def test_ideal_ramp_detector_needs_the_hours_the_matched_filter_gives():
    # Hand computation: the bar for 1 false alarm in 30 series x 168 h is the Gaussian 1 - 1/5040 quantile,
    # 3.54; a +50 %/day ramp adds ~2.08 % per hour, so after k hours the matched filter reads
    # 0.0208 * sqrt(k (k + 1) (2k + 1) / 6) / sigma: at 4 % noise 2.85 at k = 4, 3.86 at k = 5 (reported at
    # the end of hour 6); at 2 % noise 2.33 at k = 2, 3.89 at k = 3 (hour 4).
    ramps = load_script(ROOT / "bench" / "ramps.py", "ramps")
    assert ramps.ideal_hours(0.04, 0.5) == 6
    assert ramps.ideal_hours(0.02, 0.5) == 4
    assert ramps.ideal_hours(0.08, 0.5) > ramps.ideal_hours(0.04, 0.5) > ramps.ideal_hours(0.04, 1.0)
