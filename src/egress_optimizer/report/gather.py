"""Gathering the report: the dashboard's views over the lake (the same SQL as QuickSight's datasets), the
planners' savings, and for each incident its hours, explanation, evidence and remediation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.detection.lake_runs import read_incident
from egress_optimizer.lake import Lake
from egress_optimizer.planners.from_lake import recommend
from egress_optimizer.report import views
from egress_optimizer.report.model import IncidentPage, ReportData
from egress_optimizer.tables import ANOMALIES, ATTRIBUTED, COVERAGE_GAPS, EGRESS_HOURLY, EXPLANATIONS, SAVINGS


def report_data(lake: Lake, coverage: dict | None = None) -> ReportData:
    """What the report shows, from the dashboard's views over ``lake`` (the same SQL as QuickSight's datasets),
    the planners, and each incident's hours, explanation and remediation."""
    con = views.connect(lake)
    timeline = views.frame(con, "SELECT * FROM v_anomaly_timeline")
    log = views.frame(con, "SELECT * FROM v_remediation_log")
    found = {i: read_incident(lake, i) for i in timeline["incident_id"]}
    hours = _hours_around(lake, list(found.values()))
    return ReportData(
        lake=lake.root,
        generated_at=datetime.now(UTC),
        egress_daily=views.frame(con, "SELECT * FROM v_egress_daily"),
        coverage_daily=views.frame(con, "SELECT * FROM v_coverage_daily"),
        top_talkers=views.frame(con, "SELECT * FROM v_top_talkers_7d"),
        timeline=timeline,
        remediation_log=log,
        savings=_savings_frame(lake, con),
        coverage_advice=_coverage_advice(lake, con, coverage),
        incidents=[_incident_page(con, found[r.incident_id], r, log, hours) for r in timeline.itertuples()],
    )


SAVINGS_COLUMNS = ["title", "kind", "account", "region", "current_monthly_usd", "proposed_monthly_usd",
                   "monthly_savings_usd", "confidence"]  # fmt: skip


def _savings_frame(lake: Lake, con: Any) -> pd.DataFrame:
    """The planners' latest recorded run (``v_planner_savings``, as the dashboard shows it); without one, the
    planners run now."""
    if lake.has(SAVINGS):
        frame = views.frame(con, "SELECT * FROM v_planner_savings")
        return frame.rename(columns={"account_id": "account"})[SAVINGS_COLUMNS]
    if not lake.has(ATTRIBUTED):
        return pd.DataFrame(columns=SAVINGS_COLUMNS)
    rows = [{c: getattr(r, c) for c in SAVINGS_COLUMNS} for r in recommend(lake, top=10)]
    return pd.DataFrame(rows, columns=SAVINGS_COLUMNS)


def _coverage_advice(lake: Lake, con: Any, coverage: dict | None) -> list[str]:
    """What to enable: from ``coverage`` when given, else the latest recorded run (``v_coverage_gaps``)."""
    if coverage is not None:
        gaps = coverage.get("enable_logging", [])
    elif lake.has(COVERAGE_GAPS):
        gaps = views.frame(con, "SELECT * FROM v_coverage_gaps").rename(columns={"account_id": "account"})
        gaps = gaps.to_dict("records")
    else:
        return []
    return [
        f"Enable {g['enable']} on {g['kind']} {g['resource']} ({g['account']}, {g['region']}): it would explain "
        f"${g['explains_usd']:,.2f} of this period's bill, about ${g['explains_usd_per_month']:,.2f} a month"
        for g in gaps
        if g["explains_usd"]
    ]


def _incident_page(con: Any, found: Incident, row: Any, log: pd.DataFrame, hours: tuple) -> IncidentPage:
    evidence = []
    cause = None
    if isinstance(row.root_cause, str):
        cause = {"category": row.root_cause, "confidence": row.confidence, "summary": row.summary,
                 "explained_by": row.explained_by}  # fmt: skip
        sql = f'SELECT evidence FROM {EXPLANATIONS.name} WHERE incident_id = ? ORDER BY "at" DESC LIMIT 1'
        evidence = json.loads(con.execute(sql, [row.incident_id]).fetchone()[0] or "[]")
    return IncidentPage(
        id=found.id, severity=found.severity.value, status=row.status, start=found.window.start,
        end=found.window.end, total_usd=found.impact.total_usd, per_day_usd=found.impact.per_day_usd,
        resources=sorted({e.id.rsplit("/", 1)[-1] for e in found.entities}),
        series=_incident_series(hours, found), root_cause=cause, evidence=evidence,
        actions=_incident_actions(log, found.id),
    )  # fmt: skip


BEFORE, AFTER = pd.Timedelta(days=3), pd.Timedelta(days=1)
SERIES_COLUMNS = ["hour", "actual_usd", "typical_usd", "expected_usd"]


def _hours_around(lake: Lake, incidents: list[Incident]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The incidents' series hours (``egress_hourly``) and flagged hours (``anomalies``), read once for all of
    them: only the days from three days before the first to a day after the last."""
    if not incidents:
        return pd.DataFrame(), pd.DataFrame()
    start = min(pd.Timestamp(i.window.start) for i in incidents) - BEFORE
    end = max(pd.Timestamp(i.window.end) for i in incidents) + AFTER
    ids = {e.id for i in incidents for e in i.entities}
    cols = ["hour", "entity", "destination", "bytes", "cost_usd", "median_same_hour_7d"]
    hourly = lake.read_hours(EGRESS_HOURLY, start.to_pydatetime(), end.to_pydatetime(), columns=cols).to_pandas()
    flagged = lake.read_hours(ANOMALIES, start.to_pydatetime(), end.to_pydatetime(),
                              columns=["hour", "entity", "destination", "expected_usd"]).to_pandas()  # fmt: skip
    return hourly[hourly["entity"].isin(ids)], flagged[flagged["entity"].isin(ids)]


def _incident_series(hours: tuple[pd.DataFrame, pd.DataFrame], found: Incident) -> pd.DataFrame:
    """Cost per hour on the incident's paths from three days before it to a day after, the typical cost of the
    hour (the bytes' median over the same hour of the past 7 days, at this hour's price) and the detector's
    expectation where it flagged the hour."""
    hourly, flagged = hours
    paths = {(e.id, e.destination_class) for e in found.entities}
    if hourly.empty or not paths:
        return pd.DataFrame(columns=SERIES_COLUMNS)
    start, end = pd.Timestamp(found.window.start) - BEFORE, pd.Timestamp(found.window.end) + AFTER

    def on_paths(frame: pd.DataFrame) -> pd.DataFrame:
        keys = pd.Series(list(zip(frame["entity"], frame["destination"], strict=True)), index=frame.index)
        return frame[keys.isin(paths) & (frame["hour"] >= start) & (frame["hour"] < end)]

    rows = on_paths(hourly)
    typical = (rows["cost_usd"] * rows["median_same_hour_7d"].fillna(rows["bytes"]) / rows["bytes"]).where(
        rows["bytes"] > 0
    )
    series = (
        rows.assign(actual_usd=rows["cost_usd"], typical_usd=typical)
        .groupby("hour", as_index=False)[["actual_usd", "typical_usd"]]
        .sum(min_count=1)
    )
    expected = on_paths(flagged).groupby("hour", as_index=False)["expected_usd"].sum() if not flagged.empty else None
    if expected is None or expected.empty:
        return series.assign(expected_usd=float("nan"))[SERIES_COLUMNS]
    return series.merge(expected, on="hour", how="left")[SERIES_COLUMNS].sort_values("hour")


def _incident_actions(log: pd.DataFrame, incident_id: str) -> list[dict]:
    """Each planned action of the incident with its diff and where it got to (its latest audit event)."""
    if log.empty:
        return []
    rows = log[log["incident_id"] == incident_id].sort_values("at")
    out = []
    for (action_id, resource, plan), steps in rows.groupby(["action_id", "resource", "plan"], sort=False):
        planned = steps[steps["event"] == "planned"]
        detail = planned["detail"].iloc[-1] if not planned.empty else ""
        changes = [c for c in str(detail).split("; ") if c]
        out.append({"action_id": action_id, "resource": resource, "plan": plan, "changes": changes,
                    "status": steps["event"].iloc[-1]})  # fmt: skip
    return out
