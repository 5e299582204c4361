"""The detector's core on series made for each hazard of real metrics (issue 17, item 2): a level shift is one
incident and then the new normal; a gap never alerts; sparse count-like series stay quiet; the core's own
pieces (autocorrelation, innovation, windows, habit) do what their statistics say."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from egress_optimizer.detection.core import (
    HABIT_PERIODS,
    SUSTAINED_POINTS,
    SurpriseThresholds,
    ar1_coefficient,
    beyond_habit,
    confirmed,
    innovation_z,
    jumped,
    rise,
    standing_evidence,
    window_factor,
)
from egress_optimizer.detection.detector import DetectorParams, EgressDetector
from egress_optimizer.detection.panel import build_panel
from egress_optimizer.detection.scoring import score
from egress_optimizer.detection.signals import (
    PEER_BASELINE_HOURS,
    PEER_MEMORY_HOURS,
    PEER_WARMUP_HOURS,
    peer_memory_factor,
)
from egress_optimizer.detection.training import fit_detector

START = pd.Timestamp("2026-10-05", tz="UTC")


def _panel(values: np.ndarray) -> pd.DataFrame:
    """One account's series (rows of ``values``) as egress_hourly rows."""
    hours = pd.date_range(START, periods=values.shape[1], freq="h")
    frames = []
    for s, v in enumerate(values):
        frames.append(
            pd.DataFrame(
                {
                    "hour": hours, "account_id": "111122223333", "region": "us-east-1", "entity": f"nat-{s:03d}",
                    "destination": "internet via NAT", "peer_region": "", "team": "team-0", "bytes": v.astype(np.int64),
                    "cost_usd": v / 1024**3 * 0.045, "distinct_peers": 5, "new_peers": 0,
                }
            )
        )  # fmt: skip
    return build_panel(pd.concat(frames, ignore_index=True))


def _diurnal(series: int, days: int, seed: int, sigma: float = 0.08) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hod = np.arange(days * 24) % 24
    shape = 0.6 + 0.4 * np.sin((hod - 7) / 24 * 2 * np.pi).clip(-0.5, 1)
    return np.stack([1e9 * (1 + s) * shape * np.exp(rng.normal(0, sigma, days * 24)) for s in range(series)])


def _trained(panel) -> EgressDetector:
    """The default detector as ``egress train`` makes it (its forest fitted on the same panel)."""
    return fit_detector(panel, DetectorParams())[0]


def _events(values: np.ndarray):
    panel = _panel(values)
    return panel, *score(_trained(panel), panel, [])


def test_a_level_shift_is_one_incident_then_the_new_normal():
    """A lasting +80 % on one series from day 9 of 21 (a new customer): one incident, reported within its first
    four hours (its first ones are a short marginal alert the forest is asked to confirm, and a change of
    volume alone does not look rare to it), and a week later the new level is what the series is expected
    to do."""
    x = _diurnal(8, 21, seed=1)
    shift = 24 * 9 + 10
    x[3, shift:] *= 1.8
    panel, out, events = _events(x)
    mine = [e for e in events if any(x["entity"] == "nat-003" for x in e.entities)]
    assert len(mine) == 1 and len(events) == 1
    assert panel.hours[shift] <= pd.Timestamp(mine[0].start) <= panel.hours[shift + 3]
    assert pd.Timestamp(mine[0].detected_at) <= panel.hours[shift + 4]
    assert not out["anomalous"][:, 24 * 15 :].any()


def test_a_gap_never_alerts():
    """Hours never delivered read as 0 bytes on every series: a dip, and the hour after it is no rise."""
    x = _diurnal(8, 14, seed=2)
    x[:, 24 * 9 + 3 : 24 * 9 + 6] = 0
    _, out, events = _events(x)
    assert not events and not out["anomalous"].any()


def test_sparse_count_like_series_stay_quiet():
    """Series that carry a few hundred kilobytes in a third of their hours (Poisson counts of small objects)."""
    rng = np.random.default_rng(3)
    x = rng.poisson(0.4, (10, 24 * 21)) * 250_000.0
    _, _, events = _events(x)
    assert not events


def test_autocorrelation_is_measured_and_pooled_while_a_series_is_young():
    rng = np.random.default_rng(4)
    n, t = 20, 24 * 10
    e = rng.normal(0, 1, (n, t))
    r = np.zeros((n, t))
    for i in range(1, t):
        r[:, i] = 0.8 * r[:, i - 1] + e[:, i]
    starts = np.arange(24, t, 24)
    phi = ar1_coefficient(r, starts, 168)
    assert np.median(phi[:, -1]) == pytest.approx(0.8, abs=0.1)
    young = r.copy()
    young[0, : t - 30] = np.nan  # one series with a day of residuals borrows the others' memory
    pooled = ar1_coefficient(young, starts, 168, groups=np.zeros(n, dtype=int))
    assert pooled[0, -1] > 0.6
    # the standard error of a 24-hour mean under that memory is ~3x the independent one (sqrt((1+phi)/(1-phi)))
    assert window_factor(24, 0.8) / window_factor(24, 0.0) == pytest.approx(2.6, abs=0.4)


def test_the_innovation_sharpens_a_rise_and_ignores_a_recovery():
    r = np.array([[0.0, -3.0, 0.0, 0.0, 4.0, 4.0]])
    zi = innovation_z(r, np.full(r.shape, 0.8), np.ones(r.shape))
    z = r
    point = rise(z, zi)
    assert point[0, 2] == 0.0  # back from the dip: no rise
    assert point[0, 4] > 4.0 and point[0, 4] <= 8.0  # the step's first hour, sharper than its level
    assert point[0, 5] == 4.0  # a held level is its level


def test_a_level_jumped_when_its_run_began_with_two_surprising_points():
    """Three runs above the six-point rule's level (3.5): one that starts with two points of 12 (a batch job),
    a ramp that creeps from 3.6 to 6 (no point reaches the two-point rule's 5), and one that creeps in and
    jumps to 12 only later (the jump is not the run's onset). Hand-set z; the innovation equals the level."""
    th = SurpriseThresholds()
    z = np.zeros((3, 12))
    z[0, 2:10] = 12.0
    z[1, 2:10] = np.linspace(3.6, 6.0, 8)
    z[2, 2:10] = [4.0, 4.0, 4.0, 12.0, 12.0, 12.0, 12.0, 12.0]
    out = jumped(z, z, th)
    # Known from the run's second point on (online: at its first, the next point is not in yet).
    assert out[0, 3:10].all() and not out[0, 10:].any() and not out[0, :3].any()
    assert not out[1].any()
    assert not out[2].any()


def test_a_jumped_level_asks_the_forest_with_the_six_point_bar():
    """Rules in ``surprise_rules``' order (lone, two-point, six-point, z3, z6, z12, z24): only the six-point
    rule fires (1.5). Where its level crept up it stands alone; where it jumped the forest is asked, and the
    bar is ``forest_confirm_sustained`` (0.99), not the short alerts' 0.999."""
    th = SurpriseThresholds()
    spans = [1, 2, SUSTAINED_POINTS, 3, 6, 12, 24]
    rules = [np.zeros((1, 3)) for _ in spans]
    rules[2] = np.full((1, 3), 1.5)
    crept = standing_evidence(spans, rules)
    assert np.all(crept == 1.5)
    standing = standing_evidence(spans, rules, jumped=np.ones((1, 3), dtype=bool))
    assert np.all(standing == 0.0)
    forest = np.array([[0.98, 0.995, 0.9995]])
    out = confirmed(np.full((1, 3), 1.5), standing, forest, th, rules[2])
    assert out[0, 0] < 1.0 and out[0, 1] == 1.5 and out[0, 2] == 1.5
    short_only = confirmed(np.full((1, 3), 1.5), standing, forest, th)
    assert short_only[0, 1] < 1.0 and short_only[0, 2] == 1.5


def test_a_habit_raises_the_bar_only_for_what_the_series_does_routinely():
    """Daily bursts of 8 on one series: after the first days the same burst no longer fires, one twice as
    large does; a quiet series beside it keeps the plain threshold. A rule still firing at midnight teaches
    nothing until it stops (a ramp is one incident)."""
    t = 24 * 10
    v = np.zeros((3, t))
    v[0, 12::24] = 8.0
    v[0, 24 * 8 + 12] = 16.0
    v[2, 24 * 5 :] = np.linspace(1.0, 9.0, t - 24 * 5)  # a ramp across several midnights
    starts = np.arange(24, t, 24)
    (out,) = beyond_habit([v / 4.0], [v / 4.0], starts, [1.5])
    assert out[0, 12] >= 1 and out[0, 24 * 3 + 12] < 1 and out[0, 24 * 8 + 12] >= 1
    assert out[1].max() == 0
    first = int(np.argmax(out[2] >= 1))
    assert first > 24 * 5 and (out[2, first:] >= 1).all()


def test_a_fleet_that_bursts_alike_lends_its_habit_to_a_member_that_has_not_burst_yet():
    """Four series of one group; three burst to 8 every day. The fourth bursts once, on day 9: a burst of the
    fleet's usual size does not page it (three quarters of its group do that routinely), one twice as large
    does. Without the group the same burst pages."""
    t = 24 * 12
    v = np.zeros((4, t))
    v[:3, 12::24] = 8.0
    v[3, 24 * 9 + 12] = 8.0
    v[3, 24 * 11 + 12] = 16.0
    starts = np.arange(24, t, 24)
    (grouped,) = beyond_habit([v / 4.0], [v / 4.0], starts, [1.5], groups=np.zeros(4, dtype=int))
    assert grouped[3, 24 * 9 + 12] < 1 and grouped[3, 24 * 11 + 12] >= 1
    (alone,) = beyond_habit([v / 4.0], [v / 4.0], starts, [1.5])
    assert alone[3, 24 * 9 + 12] >= 1


def test_a_young_history_needs_more_evidence_until_the_habit_has_seen_two_weeks():
    """The same evidence at the threshold's edge on every day: with a young margin it fires only once the
    history is old enough for the margin to have faded (1.25 times on the first day, none from HABIT_PERIODS
    days on); without one, from the first day."""
    t = 24 * (HABIT_PERIODS + 2)
    v = np.full((1, t), 1.1)
    starts = np.arange(24, t, 24)
    (young,) = beyond_habit([v], [np.zeros((1, t))], starts, [1.5], young_margins=[0.25])
    daily = young[0, ::24]
    assert daily[0] == pytest.approx(1.1 / 1.25)
    assert np.all(np.diff(daily) >= 0) and daily[HABIT_PERIODS] == pytest.approx(1.1)
    first = int(np.argmax(daily >= 1.0))
    assert 0 < first < HABIT_PERIODS
    (plain,) = beyond_habit([v], [np.zeros((1, t))], starts, [1.5])
    assert (plain >= 1).all()


def test_fresh_peers_need_more_evidence_until_the_lake_has_seen_a_week_of_them():
    """Fresh means first seen by the lake: a young lake has not met its returning clients yet."""
    first = PEER_WARMUP_HOURS + PEER_BASELINE_HOURS  # the first hour fresh peers are scored
    f = peer_memory_factor(PEER_MEMORY_HOURS + 24)
    assert f[first] == pytest.approx(3.0) and f[PEER_MEMORY_HOURS] == 1.0 and f[-1] == 1.0
    assert np.all(np.diff(f[first:]) <= 0)


def test_a_local_time_shape_across_a_daylight_saving_change_raises_nothing():
    """Ireland's clocks go back on 2026-10-25: a series busy from 09:00 to 18:00 local time is busy an hour later
    in UTC from then on. Against the same UTC hour on previous days each edge of the day is an hour's surprise
    until the baseline takes the new shape in; one hour is not an incident (the two-hour rule)."""
    hours = pd.date_range(START, periods=24 * 28, freq="h")  # 2026-10-05 to 11-02
    local = hours.tz_convert("Europe/Dublin").hour.to_numpy()
    rng = np.random.default_rng(6)
    busy = np.where((local >= 9) & (local < 18), 4.0, 1.0)
    x = np.stack([1e9 * (1 + s) * busy * np.exp(rng.normal(0, 0.08, len(hours))) for s in range(6)])
    panel = _panel(x)
    panel.keys["region"] = "eu-west-1"
    _, events = score(_trained(panel), panel, [])
    assert not events
