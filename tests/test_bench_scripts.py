"""The benchmark scripts that run the library's hot paths still run against it (tiny sizes: a smoke check,
never a timing). bench/features.py once broke when FEATURES_SQL read a column its synthetic table lacked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
