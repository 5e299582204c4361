"""What the report shows, gathered before anything is drawn (``stages.report_data`` fills it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd


@dataclass
class IncidentPage:
    id: str
    severity: str
    status: str
    start: datetime
    end: datetime
    total_usd: float
    per_day_usd: float
    resources: list[str]
    series: pd.DataFrame  # hour, actual_usd, typical_usd (same hour, past 7 days), expected_usd (flagged hours)
    root_cause: dict | None = None  # category, confidence, summary, explained_by
    evidence: list[dict] = field(default_factory=list)  # id, kind, source, summary
    actions: list[dict] = field(default_factory=list)  # action_id, resource, plan, changes (list), last event


@dataclass
class ReportData:
    lake: str
    generated_at: datetime
    egress_daily: pd.DataFrame  # v_egress_daily
    coverage_daily: pd.DataFrame  # v_coverage_daily
    top_talkers: pd.DataFrame  # v_top_talkers_7d
    timeline: pd.DataFrame  # v_anomaly_timeline
    remediation_log: pd.DataFrame  # v_remediation_log
    savings: pd.DataFrame  # the planners' recommendations: title, kind, account, region, monthly figures
    coverage_advice: list[str] = field(default_factory=list)
    incidents: list[IncidentPage] = field(default_factory=list)
