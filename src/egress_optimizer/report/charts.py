"""The report's charts (plotly figures), one function per view; each returns None when it has nothing to draw,
so the page says so instead of showing an empty frame."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

SEVERITY_COLOURS = {"low": "#9ecae1", "medium": "#fdae6b", "high": "#e6550d", "critical": "#a50f15"}
LAYOUT = {"margin": {"l": 50, "r": 20, "t": 40, "b": 40}, "height": 340, "legend": {"orientation": "h", "y": -0.2}}


def _styled(fig: go.Figure, title: str) -> go.Figure:
    return fig.update_layout(title=title, **LAYOUT)


def dollars_over_time(daily: pd.DataFrame, by: str, title: str, top: int = 8) -> go.Figure | None:
    """Daily dollars stacked by ``by``; beyond the ``top`` largest, the rest is one ``other`` band."""
    if daily.empty:
        return None
    biggest = daily.groupby(by)["cost_usd"].sum().nlargest(top).index
    frame = daily.assign(**{by: daily[by].where(daily[by].isin(biggest), "other")})
    frame = frame.groupby(["day", by], as_index=False)["cost_usd"].sum()
    fig = px.area(frame, x="day", y="cost_usd", color=by, labels={"cost_usd": "USD per day", "day": ""})
    return _styled(fig, title)


def top_talkers(talkers: pd.DataFrame, top: int = 15) -> go.Figure | None:
    if talkers.empty:
        return None
    frame = talkers.nlargest(top, "cost_usd").assign(name=lambda f: f["entity"].str.rsplit("/", n=1).str[-1])
    fig = px.bar(frame.iloc[::-1], x="cost_usd", y="name", color="destination", orientation="h",
                 labels={"cost_usd": "USD, last 7 days of data", "name": ""})  # fmt: skip
    return _styled(fig, "Top talkers (last 7 days of data)").update_layout(height=max(340, 26 * len(frame)))


def coverage(daily: pd.DataFrame) -> go.Figure | None:
    """Billed against attributed data-transfer dollars per day, and the share traced to a resource."""
    if daily.empty or daily["billed_usd"].sum() <= 0:
        return None
    frame = daily.sort_values("day")
    fig = go.Figure()
    fig.add_bar(x=frame["day"], y=frame["billed_usd"], name="billed (CUR)")
    fig.add_bar(x=frame["day"], y=frame["to_resource_usd"], name="attributed to a resource")
    fig.add_scatter(x=frame["day"], y=100 * frame["resource_share"], name="share attributed (%)", yaxis="y2",
                    mode="lines+markers")  # fmt: skip
    fig.update_layout(yaxis={"title": "USD per day"}, yaxis2={"title": "%", "overlaying": "y", "side": "right",
                                                              "range": [0, 105]}, barmode="group")  # fmt: skip
    return _styled(fig, "Coverage: what share of the bill the lake explains")


def anomaly_timeline(timeline: pd.DataFrame) -> go.Figure | None:
    if timeline.empty:
        return None
    frame = timeline.assign(
        root_cause=timeline["root_cause"].fillna("not explained yet"),
        label=timeline["incident_id"].str[-8:],
        finish=timeline["end"].where(timeline["end"] > timeline["start"], timeline["start"] + pd.Timedelta(hours=1)),
    )
    fig = px.timeline(frame, x_start="start", x_end="finish", y="root_cause", color="severity",
                      color_discrete_map=SEVERITY_COLOURS, hover_data=["incident_id", "impact_usd", "status"],
                      labels={"root_cause": ""})  # fmt: skip
    return _styled(fig, "Anomaly timeline, by root cause")


def savings(recommendations: pd.DataFrame) -> go.Figure | None:
    if recommendations.empty:
        return None
    frame = recommendations.nlargest(12, "monthly_savings_usd").iloc[::-1]
    fig = px.bar(frame, x="monthly_savings_usd", y="title", color="kind", orientation="h",
                 labels={"monthly_savings_usd": "USD saved per month", "title": ""})  # fmt: skip
    return _styled(fig, "Planner savings").update_layout(height=max(340, 30 * len(frame)), yaxis={"automargin": True})


def incident_series(series: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> go.Figure | None:
    """Actual cost per hour of the incident's paths, the typical cost of that hour (the median of the same hour
    over the past 7 days) and what the detector expected in the hours it flagged; the incident shaded."""
    if series.empty:
        return None
    fig = go.Figure()
    fig.add_scatter(x=series["hour"], y=series["actual_usd"], name="actual", mode="lines")
    fig.add_scatter(x=series["hour"], y=series["typical_usd"], name="typical (same hour, 7 days)", mode="lines",
                    line={"dash": "dot"})  # fmt: skip
    flagged = series.dropna(subset=["expected_usd"])
    if not flagged.empty:
        fig.add_scatter(x=flagged["hour"], y=flagged["expected_usd"], name="expected (detector)", mode="markers")
    fig.add_vrect(x0=start, x1=end, fillcolor="#e6550d", opacity=0.12, line_width=0)
    fig.update_layout(yaxis={"title": "USD per hour"})
    return _styled(fig, "Cost per hour: actual against expected")
