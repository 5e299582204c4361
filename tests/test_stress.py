"""Issue 17's stress test: 30 incident-free hourly series of one account over 3 weeks under hard noise give at
most one false incident per noise model, and a +50 % step lasting 6 hours on one of them is found. The series
come from ``bench/stress.py`` (which also reports every mode and the rare-burst model); the detector runs its
own path (``fit_detector`` + ``scoring.score``), default mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from egress_optimizer.detection.detector import DEFAULT_MODE
from tests.scripts import load_script

ROOT = Path(__file__).resolve().parents[1]


def _stress():
    return load_script(ROOT / "bench" / "stress.py", "stress")


@pytest.mark.parametrize("noise", ["ar1", "student_t3", "bursts"])
def test_hard_noise_gives_at_most_one_false_incident_and_the_step_is_found(noise):
    false_incidents, found = _stress().run(noise, DEFAULT_MODE, seed=0)
    assert found
    assert false_incidents <= 1
