"""Incident-level evaluation against the generator's ``labels.json``, strict enough that it cannot flatter.

Here an *event* is an incident the detector emitted (the incident contract) and an *incident* a labelled one.
An event is **credited** to an incident only when (1) their times overlap, the event starting no earlier than
the incident and at most ``GRACE_HOURS`` after it ends (a late delivery, a ramp's tail), and (2) the event names
at least one of the incident's resources: as an entity, or as the gateway an entity's bytes crossed (``via``: an
instance's cross-AZ bytes into a NAT gateway are that gateway's load). Every other event is a false alert, and is
reported by what it was:
- ``planned_alerts``: on a planned incident, or inside a declared planned window of its account;
- ``started_before``: it names an incident's resource but began before the incident (it was about something
  already going on, so it is not a detection);
- ``matched_by_place``: same account, region and time as an incident but none of its resources;
- ``run_rate_repeats``: on a labelled run-rate change (a lasting, legitimate level shift), after the first event
  on it; that first one is ``run_rate_reports``, what a user wants once, and is neither credited nor false;
- ``benign_alerts``: during a labelled benign event (a release, a batch job, a crawler) and naming one of its
  resources (labels without resources: its time alone);
- the rest, on nothing labelled.
Metrics: recall (unplanned incidents credited / unplanned incidents), precision (credited events / events),
time to detect (hours from the incident's start to the earliest ``detected_at`` of its credited events; an
hour is scored once it has closed, so detecting in the first hour counts 1), dollars caught (the labelled
impact of the incidents detected), all per incident kind too.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.detection.events import entity_matches

GRACE_HOURS = 6
FALSE_ALERT_KINDS = ("planned", "started_before", "matched_by_place", "run_rate_repeat", "benign", "unlabelled")


def _overlaps(e: Incident, start: pd.Timestamp, end: pd.Timestamp, grace: int = GRACE_HOURS) -> bool:
    return pd.Timestamp(e.window.start) < end + pd.Timedelta(hours=grace) and pd.Timestamp(e.window.end) > start


def _names_resource(e: Incident, resources: list[str]) -> bool:
    return any(entity_matches(x.id, resources) or (x.via and entity_matches(x.via, resources)) for x in e.entities)


def _same_place(e: Incident, accounts: list[str], regions: list[str] | None) -> bool:
    return any(a in accounts for a in e.accounts) and (regions is None or e.region in regions)


def credited(e: Incident, inc: dict) -> bool:
    """The event detects the incident: it overlaps it, starts no earlier, and names one of its resources."""
    start, end = pd.Timestamp(inc["start"]), pd.Timestamp(inc["end"])
    return _overlaps(e, start, end) and pd.Timestamp(e.window.start) >= start and _names_resource(e, inc["resources"])


def _on_planned_work(e: Incident, near: list[dict], windows: list[dict]) -> bool:
    """On a planned incident it overlaps, or inside a declared window of its account."""
    on_incident = any(
        i["planned"] and (_names_resource(e, i["resources"]) or _same_place(e, i["accounts"], i["regions"]))
        for i in near
    )
    in_window = any(
        _overlaps(e, pd.Timestamp(w["start"]), pd.Timestamp(w["end"]), 0)
        and _same_place(e, w.get("accounts", []), None)
        for w in windows
    )
    return on_incident or in_window


def _hours(e: Incident) -> int:
    return int((e.window.end - e.window.start).total_seconds() // 3600)


def classify(e: Incident, incidents: list[dict], labels: dict) -> tuple[str, list[dict]]:
    """What an event was: ``credited`` (with the unplanned incidents it detects) or the kind of false alert."""
    unplanned = [i for i in incidents if not i["planned"]]
    hits = [i for i in unplanned if credited(e, i)]
    if hits:
        return "credited", hits
    near = [i for i in incidents if _overlaps(e, pd.Timestamp(i["start"]), pd.Timestamp(i["end"]))]
    if _on_planned_work(e, near, labels.get("planned_activities", [])):
        return "planned", []
    if any(_names_resource(e, i["resources"]) for i in near if not i["planned"]):
        return "started_before", []
    if any(_same_place(e, i["accounts"], i["regions"]) for i in near if not i["planned"]):
        return "matched_by_place", []
    shifts = [c for c in labels.get("run_rate_changes", []) if _on_change(e, c)]
    if shifts:
        return "run_rate", shifts
    if any(_on_change(e, b) for b in labels.get("benign_events", [])):
        return "benign", []
    return "unlabelled", []


def _on_change(e: Incident, change: dict) -> bool:
    """During a labelled benign change and on one of its resources (or, for labels that name none, any)."""
    if not _overlaps(e, pd.Timestamp(change["start"]), pd.Timestamp(change["end"]), 0):
        return False
    return _names_resource(e, change["resources"]) if change.get("resources") else True


def _first_reports(events: list[Incident], verdicts: dict) -> None:
    """The earliest event on each run-rate change reports it; later ones repeat it."""
    seen: set[str] = set()
    for e in sorted(events, key=lambda e: e.window.start):
        kind, changes = verdicts[e.id]
        if kind != "run_rate":
            continue
        keys = {f"{c['kind']}@{c['start']}" for c in changes}
        verdicts[e.id] = ("run_rate_repeat" if keys <= seen else "run_rate_report", [])
        seen |= keys


def evaluate_events(events: list[Incident], labels: dict, scored_from: pd.Timestamp, scored_to: pd.Timestamp) -> dict:
    """Metrics for one run. Only incidents that start inside the scored window count."""
    incidents = [i for i in labels["incidents"] if scored_from <= pd.Timestamp(i["start"]) < scored_to]
    unplanned = [i for i in incidents if not i["planned"]]
    planned = [i for i in incidents if i["planned"]]
    verdicts = {e.id: classify(e, incidents, labels) for e in events}
    _first_reports(events, verdicts)
    matched_events = {eid for eid, (kind, _) in verdicts.items() if kind in ("credited", "run_rate_report")}
    counts = {k: sum(v[0] == k for v in verdicts.values()) for k in FALSE_ALERT_KINDS}
    per_incident = []
    for inc in unplanned:
        hits = sorted(
            (e for e in events if any(i["id"] == inc["id"] for i in verdicts[e.id][1])), key=lambda e: e.window.start
        )
        ttd = None
        if hits:
            first = min(pd.Timestamp(e.window.detected_at) for e in hits)
            ttd = (first - pd.Timestamp(inc["start"])) / pd.Timedelta(hours=1)
            ttd = max(float(ttd), 1.0)
        per_incident.append(
            {
                "id": inc["id"],
                "kind": inc["kind"],
                "shape": inc["shape"],
                "small": inc.get("small", False),
                "magnitude_pct": inc.get("magnitude_pct"),
                "dollar_impact_usd": inc["dollar_impact_usd"],
                "detected": bool(hits),
                "ttd_hours": ttd,
                "events": [e.id for e in hits],
                "estimated_impact_usd": round(sum(e.impact.total_usd for e in hits), 4),
            }
        )
    false_events = [e for e in events if e.id not in matched_events]
    tp = sum(p["detected"] for p in per_incident)
    credited_events = sum(v[0] == "credited" for v in verdicts.values())
    precision, recall, f1 = precision_recall_f1(credited_events, len(false_events), tp, len(unplanned))
    accounts = max(1, len(labels.get("estate", {}).get("accounts", {})))
    weeks = max((scored_to - scored_from) / pd.Timedelta(days=7), 1 / 7)
    by_kind: dict[str, dict] = defaultdict(lambda: {"incidents": 0, "detected": 0, "ttd_hours": []})
    for p in per_incident:
        k = by_kind[p["kind"]]
        k["incidents"] += 1
        k["detected"] += p["detected"]
        if p["ttd_hours"] is not None:
            k["ttd_hours"].append(p["ttd_hours"])
    caught = sum(p["dollar_impact_usd"] for p in per_incident if p["detected"])
    total = sum(p["dollar_impact_usd"] for p in per_incident)

    def med(shape: str) -> float | None:
        v = [p["ttd_hours"] for p in per_incident if p["shape"] == shape and p["ttd_hours"] is not None]
        return float(np.median(v)) if v else None

    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "events": len(events),
        "credited_events": credited_events,
        "false_alerts": len(false_events),
        "false_alerts_per_account_week": len(false_events) / (accounts * weeks),
        "planned_alerts": counts["planned"],
        "started_before": counts["started_before"],
        "matched_by_place": counts["matched_by_place"],
        "benign_alerts": counts["benign"],
        "run_rate_reports": sum(v[0] == "run_rate_report" for v in verdicts.values()),
        "run_rate_repeats": counts["run_rate_repeat"],
        "unlabelled_alerts": counts["unlabelled"],
        "grace_hours": GRACE_HOURS,
        "planned_incidents": len(planned),
        "median_ttd_hours_step": med("step"),
        "median_ttd_hours_ramp": med("ramp"),
        "dollars_caught_usd": round(caught, 4),
        "dollars_total_usd": round(total, 4),
        "by_kind": {
            k: {
                "incidents": v["incidents"],
                "detected": v["detected"],
                "recall": v["detected"] / v["incidents"],
                "median_ttd_hours": float(np.median(v["ttd_hours"])) if v["ttd_hours"] else None,
            }
            for k, v in sorted(by_kind.items())
        },
        "incidents": per_incident,
        "false_alert_events": [
            {
                "id": e.id,
                "verdict": verdicts[e.id][0],
                "account": e.account,
                "region": e.region,
                "start": e.window.start.isoformat(),
                "hours": _hours(e),
                "impact_usd": e.impact.total_usd,
                "destinations": e.destinations,
                "entities": [x.id for x in e.entities[:3]],
            }
            for e in false_events
        ],
    }


def mean_over_runs(runs: list[dict]) -> dict:
    """Mean of the numeric top-level metrics and of per-kind recall over runs (seeds)."""
    keys = [
        "precision",
        "recall",
        "f1",
        "false_alerts_per_account_week",
        "median_ttd_hours_step",
        "median_ttd_hours_ramp",
        "dollars_caught_usd",
        "dollars_total_usd",
        "planned_alerts",
        "false_alerts",
        "started_before",
        "matched_by_place",
        "benign_alerts",
        "run_rate_reports",
        "run_rate_repeats",
        "unlabelled_alerts",
    ]
    out: dict = {}
    for k in keys:
        vals = [r[k] for r in runs if r.get(k) is not None]
        out[k] = float(np.mean(vals)) if vals else None
    kinds = sorted({k for r in runs for k in r["by_kind"]})
    out["by_kind"] = {}
    for k in kinds:
        rs = [r["by_kind"][k] for r in runs if k in r["by_kind"]]
        ttd = [x["median_ttd_hours"] for x in rs if x["median_ttd_hours"] is not None]
        out["by_kind"][k] = {
            "incidents": int(sum(x["incidents"] for x in rs)),
            "detected": int(sum(x["detected"] for x in rs)),
            "recall": float(np.mean([x["recall"] for x in rs])),
            "median_ttd_hours": float(np.median(ttd)) if ttd else None,
        }
    out["seeds"] = len(runs)
    out["grace_hours"] = GRACE_HOURS
    return out


def precision_recall_f1(credited: float, false: float, detected: float, incidents: float) -> tuple[float, float, float]:
    """Precision over the judged events (credited and false: a run-rate change's first report is neither),
    recall over the unplanned incidents, and their harmonic mean."""
    p = credited / (credited + false) if credited + false else 1.0
    r = detected / incidents if incidents else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def pooled_with_interval(runs: list[dict], level: float = 0.9, resamples: int = 2000, seed: int = 0) -> dict:
    """Precision, recall and F1 pooled over runs (estates: their events and incidents summed), and the F1
    interval holding ``level`` of the pooled F1s of as many runs drawn again with replacement: how differently
    another draw of as many estates could read."""
    counts = np.array(
        [(run["credited_events"], run["false_alerts"], sum(i["detected"] for i in run["incidents"]),
          len(run["incidents"])) for run in runs],
        dtype=float,
    )  # fmt: skip
    p, r, f1 = precision_recall_f1(*counts.sum(axis=0))
    draws = np.random.default_rng(seed).integers(0, len(runs), (resamples, len(runs)))
    f1s = np.array([precision_recall_f1(*counts[d].sum(axis=0))[2] for d in draws])
    lo, hi = np.quantile(f1s, [(1 - level) / 2, (1 + level) / 2])
    return {
        "precision": float(p),
        "recall": float(r),
        "f1": float(f1),
        "f1_interval": [float(lo), float(hi)],
        "interval_level": level,
    }


def evaluate_lake(
    lake,
    labels: dict,
    seeds: int = 5,
    mode: str | None = None,
    min_impact_usd: float = 0.0,
    progress=None,
    keep_incidents: list | None = None,
) -> dict:
    """Train and score the lake's whole window once per seed (unsupervised: labels are never seen by the
    model), with the planned windows the labels say were declared ahead; metrics are means over seeds. The
    first seed's incidents are appended to ``keep_incidents`` when given (to explain them)."""
    from egress_optimizer.detection.detector import DEFAULT_MODE, DetectorParams, EgressDetector
    from egress_optimizer.detection.events import PlannedWindow, planned_mask
    from egress_optimizer.detection.incidents import to_incident
    from egress_optimizer.detection.lake_runs import read_hourly
    from egress_optimizer.detection.panel import build_panel
    from egress_optimizer.detection.scoring import score_signals
    from egress_optimizer.detection.signals import WARMUP_HOURS, compute_signals

    panel = build_panel(read_hourly(lake))
    if panel.shape[1] <= WARMUP_HOURS:
        raise ValueError("the lake holds too few hours to evaluate (more than three days are needed)")
    planned = [PlannedWindow.from_dict(w) for w in labels.get("planned_activities", [])]
    exclude = planned_mask(panel, planned)
    sig = compute_signals(panel, exclude)
    runs = []
    for seed in range(seeds):
        det = EgressDetector(DetectorParams(mode=mode or DEFAULT_MODE, seed=seed)).fit(panel, sig)
        _, events = score_signals(det, panel, sig, exclude, min_impact_usd=min_impact_usd)
        incidents = [to_incident(e) for e in events]
        if keep_incidents is not None and seed == 0:
            keep_incidents.extend(incidents)
        runs.append(
            evaluate_events(incidents, labels, panel.hours[WARMUP_HOURS], panel.hours[-1] + pd.Timedelta(hours=1))
        )
        if progress:
            progress(seed + 1, seeds)
    summary = mean_over_runs(runs)
    summary.update(mode=mode or DEFAULT_MODE, runs=runs)
    return summary


EVALUATION_COLUMNS = ("kind", "incidents", "detected", "recall", "median TTD h")


def evaluation_rows(result: dict) -> list[tuple[str, ...]]:
    """Per-kind rows of an evaluation summary (``mean_over_runs``), as text under ``EVALUATION_COLUMNS``."""
    rows = []
    for kind, k in result["by_kind"].items():
        ttd = "-" if k["median_ttd_hours"] is None else f"{k['median_ttd_hours']:.1f}"
        rows.append((kind, str(k["incidents"]), str(k["detected"]), f"{k['recall']:.2f}", ttd))
    return rows


def evaluation_headline(result: dict) -> str:
    """The headline metrics of an evaluation summary in one line."""
    return (
        f"precision {result['precision']:.3f}  recall {result['recall']:.3f}  F1 {result['f1']:.3f}  "
        f"false alerts/account-week {result['false_alerts_per_account_week']:.2f}  "
        f"planned alerts {result['planned_alerts']:.0f}  on benign events {result['benign_alerts']:.0f}  "
        f"place-only {result['matched_by_place']:.0f}  started before {result['started_before']:.0f}  "
        f"run-rate repeats {result.get('run_rate_repeats') or 0:.0f}  "
        f"median TTD step {result['median_ttd_hours_step']} h, "
        f"ramp {result['median_ttd_hours_ramp']} h  dollars caught ${result['dollars_caught_usd']:,.2f} of "
        f"${result['dollars_total_usd']:,.2f}"
    )
