"""The report as one HTML file: plotly's JavaScript inlined once, every chart a div, every table escaped text
(resource names, tags and diffs come from logs and configurations: they are data, never markup)."""

from __future__ import annotations

import html
from collections.abc import Iterable

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from egress_optimizer.report import charts
from egress_optimizer.report.model import IncidentPage, ReportData

CSS = """
body{font-family:system-ui,sans-serif;margin:0;color:#222}header{background:#1f3b57;color:#fff;padding:12px 24px}
nav a{color:#cfe3f7;margin-right:14px}main{padding:8px 24px;max-width:1200px}section{margin:28px 0}
h2{border-bottom:1px solid #ccc;padding-bottom:4px}table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f3f5f7}
pre{background:#f6f8fa;padding:8px;overflow-x:auto;font-size:12px}.muted{color:#777}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:12px}
.sev-critical,.sev-high{color:#a50f15;font-weight:bold}
"""
SECTIONS = (("overview", "Overview"), ("top-talkers", "Top talkers"), ("coverage", "Coverage"),
            ("anomalies", "Anomalies"), ("remediation", "Remediation log"), ("savings", "Savings"),
            ("incidents", "Incidents"))  # fmt: skip


class _Charts:
    """Numbers each figure's div (the browser test finds them by class)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, fig: go.Figure | None, empty: str) -> str:
        if fig is None:
            return f'<p class="muted">{html.escape(empty)}</p>'
        self.count += 1
        div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{self.count}",
                          config={"displaylogo": False, "responsive": True})  # fmt: skip
        return f'<div class="chart">{div}</div>'


def _table(frame: pd.DataFrame, columns: Iterable[str] | None = None, limit: int = 50) -> str:
    if frame.empty:
        return '<p class="muted">Nothing yet.</p>'
    shown = frame[list(columns)] if columns else frame
    return shown.head(limit).to_html(index=False, escape=True, float_format=lambda v: f"{v:,.2f}", border=0)


def _e(value: object) -> str:
    return html.escape(str(value))


def render(data: ReportData) -> str:
    chart = _Charts()
    body = [_overview(data, chart), _talkers(data, chart), _coverage(data, chart), _anomalies(data, chart),
            _remediation(data), _savings(data, chart), _incidents(data, chart)]  # fmt: skip
    nav = "".join(f'<a href="#{sid}">{_e(label)}</a>' for sid, label in SECTIONS)
    head = (f"<meta charset=utf-8><meta name=viewport content='width=device-width'>"
            f"<title>Egress report</title><style>{CSS}</style>"
            f'<script type="text/javascript">{get_plotlyjs()}</script>')  # fmt: skip
    stamp = f"{data.generated_at:%Y-%m-%d %H:%M UTC}"
    header = f"<header><h1>Egress report</h1><p>Lake {_e(data.lake)} · {stamp}</p><nav>{nav}</nav></header>"
    return f"<!doctype html><html lang=en><head>{head}</head><body>{header}<main>{''.join(body)}</main></body></html>"


def _section(sid: str, title: str, inner: str) -> str:
    return f'<section id="{sid}"><h2>{_e(title)}</h2>{inner}</section>'


def _overview(data: ReportData, chart: _Charts) -> str:
    views = [("destination", "Dollars by destination class"), ("service", "Dollars by service"),
             ("account_id", "Dollars by account"), ("team", "Dollars by team")]  # fmt: skip
    empty = "No attributed traffic in the lake yet."
    cells = "".join(chart(charts.dollars_over_time(data.egress_daily, by, title), empty) for by, title in views)
    total = data.egress_daily["cost_usd"].sum() if not data.egress_daily.empty else 0.0
    intro = f"<p>Attributed data transfer: ${total:,.2f}.</p>"
    return _section("overview", "Overview", f"{intro}<div class=grid>{cells}</div>")


def _talkers(data: ReportData, chart: _Charts) -> str:
    cols = ["account_id", "entity", "team", "destination", "cost_usd", "bytes"]
    inner = chart(charts.top_talkers(data.top_talkers), "No traffic in the last 7 days of data.")
    return _section("top-talkers", "Top talkers", inner + _table(data.top_talkers.nlargest(20, "cost_usd"), cols))


def _coverage(data: ReportData, chart: _Charts) -> str:
    advice = "".join(f"<li>{_e(a)}</li>" for a in data.coverage_advice) or "<li>Nothing to enable.</li>"
    inner = chart(charts.coverage(data.coverage_daily), "No bill (CUR) in the lake to compare with.")
    return _section("coverage", "Coverage", f"{inner}<h3>What to enable</h3><ul>{advice}</ul>")


def _anomalies(data: ReportData, chart: _Charts) -> str:
    rows = "".join(
        f'<tr><td><a href="#incident-{_e(r.incident_id)}">{_e(r.incident_id)}</a></td>'
        f'<td class="sev-{_e(r.severity)}">{_e(r.severity)}</td><td>{_e(r.start)}</td>'
        f"<td>${r.impact_usd:,.2f}</td><td>{_e(r.root_cause or 'not explained yet')}</td><td>{_e(r.status)}</td></tr>"
        for r in data.timeline.sort_values("start", ascending=False).itertuples()
    )
    table = ("<table><tr><th>incident</th><th>severity</th><th>start</th><th>impact</th><th>root cause</th>"
             f"<th>status</th></tr>{rows}</table>") if rows else '<p class="muted">No incidents.</p>'  # fmt: skip
    return _section("anomalies", "Anomalies", chart(charts.anomaly_timeline(data.timeline), "No incidents.") + table)


def _remediation(data: ReportData) -> str:
    cols = ["at", "incident_id", "event", "action_id", "resource", "actor", "plan", "detail"]
    log = data.remediation_log.sort_values("at", ascending=False)
    return _section("remediation", "Remediation log", _table(log, cols, limit=200))


def _savings(data: ReportData, chart: _Charts) -> str:
    cols = ["title", "kind", "account", "region", "current_monthly_usd", "proposed_monthly_usd", "monthly_savings_usd",
            "confidence"]  # fmt: skip
    inner = chart(charts.savings(data.savings), "The planners found nothing to save.")
    return _section("savings", "Savings the planners found", inner + _table(data.savings, cols))


def _incidents(data: ReportData, chart: _Charts) -> str:
    pages = "".join(_incident(page, chart) for page in data.incidents)
    return _section("incidents", "Incidents", pages or '<p class="muted">No incidents.</p>')


def _incident(page: IncidentPage, chart: _Charts) -> str:
    figure = chart(charts.incident_series(page.series, pd.Timestamp(page.start), pd.Timestamp(page.end)),
                   "No hourly series for these resources in the lake.")  # fmt: skip
    cause = page.root_cause
    why = (f"<p><b>{_e(cause['category'])}</b> ({cause['confidence']:.0%}, {_e(cause['explained_by'])}): "
           f"{_e(cause['summary'])}</p>") if cause else '<p class="muted">Not explained yet.</p>'  # fmt: skip
    evidence = "".join(f"<li><code>{_e(e['kind'])}</code> {_e(e['summary'])}</li>" for e in page.evidence)
    actions = "".join(
        f"<h4>{_e(a['action_id'])} on {_e(a['resource'])} <span class=muted>plan {_e(a['plan'])} · "
        f"{_e(a['status'])}</span></h4><pre>{_e(chr(10).join(a['changes']) or 'no change')}</pre>"
        for a in page.actions
    )
    head = (f'<h3 id="incident-{_e(page.id)}">{_e(page.id)} <span class="sev-{_e(page.severity)}">'
            f"{_e(page.severity)}</span></h3><p>{_e(page.start)} to {_e(page.end)} · ${page.total_usd:,.2f} in total "
            f"(${page.per_day_usd:,.2f} per day) · status {_e(page.status)} · "
            f"{_e(', '.join(page.resources))}</p>")  # fmt: skip
    return (f'<article class="incident">{head}{figure}<h4>Root cause</h4>{why}'
            f"<h4>Evidence</h4><ul>{evidence or '<li>none recorded</li>'}</ul>"
            f"<h4>Proposed actions</h4>{actions or '<p class=muted>None.</p>'}</article>")  # fmt: skip
