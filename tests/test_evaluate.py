"""Evaluation that cannot flatter: an event is credited only when it overlaps a labelled incident, starts no
earlier, and names one of its resources; every other event is a false alert, reported by what it was."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from egress_optimizer.contracts.incident import Window
from egress_optimizer.detection.evaluate import GRACE_HOURS, classify, evaluate_events, pooled_with_interval
from tests.test_incident_contract import T0, _incident

NAT = "arn:aws:ec2:us-east-1:111122223333:natgateway/nat-00000000000000000"  # the fixture's first entity
INCIDENT = {
    "id": "inc-001", "kind": "nat_s3", "shape": "step", "planned": False,
    "start": (T0).isoformat(), "end": (T0 + timedelta(hours=4)).isoformat(),
    "accounts": ["111122223333"], "regions": ["us-east-1"], "resources": ["nat-00000000000000000"],
    "dollar_impact_usd": 10.0,
}  # fmt: skip


def _event(start_offset_h: int, resource: str | None = NAT, event_id: str = "evt-1", hours: int = 3):
    e = _incident(1)
    start = T0 + timedelta(hours=start_offset_h)
    window = Window(start=start, end=start + timedelta(hours=hours), detected_at=start + timedelta(hours=1))
    entities = [x.model_copy(update={"id": resource}) for x in e.entities] if resource else e.entities[:0]
    if not entities:  # an event always names something: here a resource of no incident
        entities = [e.entities[0].model_copy(update={"id": "arn:aws:ec2:us-east-1:111122223333:instance/i-other"})]
    return e.model_copy(update={"id": event_id, "window": window, "entities": entities})


def _labels(**extra) -> dict:
    return {"incidents": [INCIDENT], "estate": {"accounts": {"111122223333": {}}}, **extra}


WINDOW = (T0 - timedelta(days=1), T0 + timedelta(days=1))


def test_an_event_naming_the_resource_within_the_window_is_credited_with_its_time_to_detect():
    result = evaluate_events([_event(1)], _labels(), *map(pd.Timestamp, WINDOW))
    assert result["recall"] == 1.0 and result["precision"] == 1.0 and result["false_alerts"] == 0
    assert result["incidents"][0]["ttd_hours"] == 2.0  # detected at the end of the incident's second hour


def test_an_event_that_starts_before_its_incident_is_not_a_detection():
    result = evaluate_events([_event(-2)], _labels(), *map(pd.Timestamp, WINDOW))
    assert result["recall"] == 0.0 and result["precision"] == 0.0
    assert result["started_before"] == 1 and result["false_alerts"] == 1


def test_a_place_only_match_is_reported_apart_and_not_credited():
    result = evaluate_events([_event(1, resource=None)], _labels(), *map(pd.Timestamp, WINDOW))
    assert result["recall"] == 0.0 and result["matched_by_place"] == 1
    assert result["false_alert_events"][0]["verdict"] == "matched_by_place"


def test_an_instance_whose_bytes_crossed_the_incidents_gateway_names_it_and_another_gateway_does_not():
    """An instance's cross-AZ bytes into a NAT gateway are that gateway's load: the entity's ``via`` names it."""
    instance = "arn:aws:ec2:us-east-1:111122223333:instance/i-0123456789abcdef0"

    def through(gateway: str):
        e = _event(1, resource=instance)
        return e.model_copy(update={"entities": [x.model_copy(update={"via": gateway}) for x in e.entities]})

    assert classify(through(NAT), [INCIDENT], _labels())[0] == "credited"
    assert classify(through(NAT.replace("nat-0", "nat-1")), [INCIDENT], _labels())[0] == "matched_by_place"


def test_grace_after_the_end_and_no_further():
    inside = _event(4 + GRACE_HOURS - 1, event_id="evt-in")
    outside = _event(4 + GRACE_HOURS, event_id="evt-out")
    assert classify(inside, [INCIDENT], _labels())[0] == "credited"
    assert classify(outside, [INCIDENT], _labels())[0] != "credited"


def test_benign_and_planned_alerts_are_counted_apart():
    far = 48  # hours after the incident: nothing labelled overlaps but what each test adds
    benign = {"kind": "backfill", "start": (T0 + timedelta(hours=far)).isoformat(),
              "end": (T0 + timedelta(hours=far + 3)).isoformat()}  # fmt: skip
    planned = {"id": "plan-1", "accounts": ["111122223333"], "start": (T0 + timedelta(hours=far + 10)).isoformat(),
               "end": (T0 + timedelta(hours=far + 14)).isoformat()}  # fmt: skip
    events = [_event(far + 1, event_id="evt-benign"), _event(far + 11, event_id="evt-planned")]
    labels = _labels(benign_events=[benign], planned_activities=[planned])
    result = evaluate_events(events, labels, pd.Timestamp(T0 - timedelta(days=1)), pd.Timestamp(T0 + timedelta(days=4)))
    assert result["benign_alerts"] == 1 and result["planned_alerts"] == 1 and result["unlabelled_alerts"] == 0
    assert result["false_alerts"] == 2 and result["recall"] == 0.0


def test_a_benign_event_covers_only_the_resources_it_lifts():
    far = 48
    burst = {"kind": "batch_job", "start": (T0 + timedelta(hours=far)).isoformat(),
             "end": (T0 + timedelta(hours=far + 3)).isoformat(), "resources": ["i-0batch"]}  # fmt: skip
    labels = _labels(benign_events=[burst])
    on_it = _event(far + 1, resource="arn:aws:ec2:us-east-1:111122223333:instance/i-0batch", event_id="evt-on")
    elsewhere = _event(far + 1, event_id="evt-elsewhere")  # the same hours, another resource
    assert classify(on_it, [INCIDENT], labels)[0] == "benign"
    assert classify(elsewhere, [INCIDENT], labels)[0] == "unlabelled"


def test_a_run_rate_change_is_reported_once_and_its_repeats_are_false_alerts():
    far = 48
    shift = {"kind": "customer_onboarded", "start": (T0 + timedelta(hours=far)).isoformat(),
             "end": (T0 + timedelta(hours=far + 96)).isoformat(), "resources": ["nat-00000000000000000"]}  # fmt: skip
    events = [_event(far + 2, event_id="evt-first"), _event(far + 30, event_id="evt-again"),
              _event(far + 60, event_id="evt-third")]  # fmt: skip
    window = (pd.Timestamp(T0 - timedelta(days=1)), pd.Timestamp(T0 + timedelta(days=8)))
    result = evaluate_events(events, _labels(run_rate_changes=[shift]), *window)
    assert result["run_rate_reports"] == 1 and result["run_rate_repeats"] == 2
    assert result["false_alerts"] == 2 and result["precision"] == 0.0  # the first report is neither credit nor false
    assert {e["id"] for e in result["false_alert_events"]} == {"evt-again", "evt-third"}


def _run(credited: int, false: int, detected: int, incidents: int) -> dict:
    return {
        "credited_events": credited,
        "false_alerts": false,
        "incidents": [{"detected": i < detected} for i in range(incidents)],
    }


def test_pooled_figures_sum_the_estates_and_say_how_far_another_draw_could_read():
    runs = [_run(9, 1, 6, 6), _run(5, 5, 3, 6)]
    out = pooled_with_interval(runs, level=0.9, resamples=500, seed=3)
    # By hand: precision 14 / 20, recall 9 / 12, F1 2 * 0.7 * 0.75 / 1.45.
    assert out["precision"] == pytest.approx(0.7)
    assert out["recall"] == pytest.approx(0.75)
    assert out["f1"] == pytest.approx(2 * 0.7 * 0.75 / 1.45)
    lo, hi = out["f1_interval"]
    # Every redraw lies between all runs the worse one (F1 0.5) and all runs the better one (P 0.9, R 1).
    assert 0.5 <= lo < out["f1"] < hi <= 2 * 0.9 / 1.9 + 1e-9
    assert pooled_with_interval(runs, resamples=500, seed=3) == out  # deterministic with its seed
    same = pooled_with_interval([_run(9, 1, 6, 6)] * 4)
    assert same["f1_interval"] == pytest.approx([same["f1"], same["f1"]])
