"""Train and detect against a lake: what ``egress train`` / ``egress detect`` and the hourly Lambda run.

``detect`` scores every hour of the window it reads (baselines need the week before), but only reports as
*new* the incidents it has not emitted before (``detection/state.json``), so running it every hour, or twice
for the same hour, pages once per incident. ``anomalies`` and ``incidents`` rows are merged into their day's
file by key, so re-running never duplicates rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from egress_optimizer import changes
from egress_optimizer.attribution.features import CUR_HOURLY_SQL
from egress_optimizer.contracts.incident import Incident
from egress_optimizer.detection import model_store
from egress_optimizer.detection.core import HABIT_PERIODS
from egress_optimizer.detection.detector import DetectorParams
from egress_optimizer.detection.events import MIN_IMPACT_SHARE, Event, PlannedWindow
from egress_optimizer.detection.feedback import load_feedback, load_planned
from egress_optimizer.detection.incidents import to_incident
from egress_optimizer.detection.panel import SERIES_KEY, Panel, build_panel
from egress_optimizer.detection.scoring import score
from egress_optimizer.detection.signals import SIGNALS
from egress_optimizer.detection.training import fit_detector
from egress_optimizer.errors import InputError
from egress_optimizer.lake import Lake, days_between, utc_scalar
from egress_optimizer.tables import ANOMALIES, CUR, EGRESS_HOURLY, INCIDENTS

STATE = "detection/state.json"
# Days of features an hourly run reads before the first new hour: a residual needs the week before it (its
# same-hour baseline), a sigma the week of residuals before its day, and a 24-hour mean a day more; the habit
# (core.beyond_habit) the rules' daily maxima of HABIT_PERIODS days before that. With fewer the newest hours'
# statistics rest on a young lake's weak early days, and the hourly run would not say what scoring the whole
# history says (8 days moved 6-hour z by up to 4).
HISTORY_DAYS = 15 + HABIT_PERIODS
WRITER_ID = "detect"  # the file each day's detection rows are merged into
CONSUMER = "detect"  # this stage's name in the change journal
HOUR = pd.Timedelta(hours=1)
UNDELIVERED_FOR = pd.Timedelta(days=7)  # how far back an incident not yet delivered is offered again
INCIDENT_REACH = pd.Timedelta(days=HISTORY_DAYS + 1)  # the longest an incident can start before hours scored


def read_hourly(lake: Lake, since: pd.Timestamp | None = None, until: pd.Timestamp | None = None) -> pd.DataFrame:
    """``egress_hourly`` rows: all, or from ``HISTORY_DAYS`` before ``since`` (up to ``until`` when known,
    so only those days' partitions are listed)."""
    if not lake.has(EGRESS_HOURLY):
        if lake.has(CUR):
            return read_billed_hourly(lake, since)
        raise InputError(f"lake {lake.root!r} has no egress_hourly table: run `egress features --lake {lake.root}`")
    if since is None:
        return lake.read_table(EGRESS_HOURLY).to_pandas()
    start = (since - pd.Timedelta(days=HISTORY_DAYS)).floor("D")
    if until is None:
        days = sorted(lake.days(EGRESS_HOURLY))
        if not days:
            return EGRESS_HOURLY.schema.empty_table().to_pandas()
        until = pd.Timestamp(days[-1], tz="UTC") + pd.Timedelta(days=1)
    return lake.read_hours(EGRESS_HOURLY, start, max(until, start + HOUR)).to_pandas()


def read_billed_hourly(lake: Lake, since: pd.Timestamp | None = None) -> pd.DataFrame:
    """For a lake that holds only the CUR: billed data transfer per account, region, resource (or usage type)
    and hour, in the columns of ``egress_hourly`` (bytes from the usage amount; no peers, no cache counts).
    The same detector scores it: what AWS Cost Anomaly Detection does a day late, within the hour of the
    CUR's refresh, and naming the resources that moved when the CUR has resource ids."""
    days = sorted(lake.days(CUR))
    window = None
    if since is not None and days:
        window = (
            (since - pd.Timedelta(days=HISTORY_DAYS)).floor("D"),
            pd.Timestamp(days[-1], tz="UTC") + pd.Timedelta(days=1),
        )
    con = lake.connect([CUR], window=window)
    if CUR.name not in {r[0] for r in con.execute("SHOW TABLES").fetchall()}:
        return EGRESS_HOURLY.schema.empty_table().to_pandas()
    df = con.sql(f"SELECT * FROM ({CUR_HOURLY_SQL}) ORDER BY ALL").to_df()
    df["hour"] = pd.to_datetime(df["hour"], utc=True)
    return df


def train(lake: Lake, params: DetectorParams | None = None) -> dict:
    """Fit the detector on the lake's whole hourly history and store a new model version."""
    panel = build_panel(read_hourly(lake))
    try:
        detector, meta = fit_detector(panel, params, load_planned(lake))
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return model_store.save(lake, detector, meta)


@dataclass
class DetectResult:
    model_version: str
    scored_from: pd.Timestamp | None
    scored_to: pd.Timestamp | None
    anomalies: int
    incidents: list[Incident]  # every incident that reaches into the hours this run scored
    new_incidents: list[Incident] = field(default_factory=list)  # never reported before
    withdrawn: list[str] = field(default_factory=list)  # incidents late data no longer supports (ids)

    def to_json(self) -> dict:
        return {
            "model_version": self.model_version,
            "scored_from": self.scored_from.isoformat() if self.scored_from is not None else None,
            "scored_to": self.scored_to.isoformat() if self.scored_to is not None else None,
            "anomalies": self.anomalies,
            "incidents": [i.to_json() for i in self.incidents],
            "new_incident_ids": [i.id for i in self.new_incidents],
            "withdrawn_incident_ids": self.withdrawn,
        }


def detect(
    lake: Lake,
    since: pd.Timestamp | None = None,
    planned: list[PlannedWindow] | None = None,
    min_impact_usd: float = 0.0,
    min_impact_pct: float = 0.0,
    model_version: str | None = None,
    record_emitted: bool = True,
    min_impact_share: float = MIN_IMPACT_SHARE,
) -> DetectResult:
    """Score the hours of ``egress_hourly`` that changed since the last run (new hours, and earlier hours late
    data rewrote), or every hour from ``since``; replace their anomalies and the incidents reaching into them.

    ``new_incidents`` are the incidents never reported before. With ``record_emitted=False`` the caller marks
    them with ``mark_emitted`` once it has delivered them (the Lambda does, after EventBridge accepted them),
    so a failed delivery is retried by the next run instead of being lost. A run with nothing changed reads
    no features: it only offers again the incidents not yet delivered.
    """
    detector, meta = model_store.load(lake, model_version)
    state = lake.read_json(STATE) if lake.exists(STATE) else {}
    source = EGRESS_HOURLY if lake.has(EGRESS_HOURLY) or not lake.has(CUR) else CUR  # a lake of only the CUR
    pending = changes.pending(lake, CONSUMER, source)
    if since is None and state.get("last_scored_hour"):
        if not pending:
            return DetectResult(meta["version"], None, None, 0, [], _undelivered(lake, state))
        since = min([pd.Timestamp(state["last_scored_hour"]) + HOUR, *pending.all_hours])
    until = max(pending.all_hours) + HOUR if pending.all_hours and since is not None else None
    panel = build_panel(read_hourly(lake, since, until))
    if panel.shape[1] == 0:
        return DetectResult(meta["version"], None, None, 0, [])
    windows = [*load_planned(lake), *(planned or [])]
    out, events = score(detector, panel, windows, load_feedback(lake), min_impact_usd, min_impact_pct, min_impact_share)
    cols = np.ones(panel.shape[1], dtype=bool) if since is None else np.asarray(panel.hours >= since)
    scored_hours = panel.hours[cols]
    n_anom, recent, withdrawn = 0, [], []
    if len(scored_hours):
        reaching = [e for e in events if pd.Timestamp(e.end) > scored_hours[0]]
        recent = [to_incident(e) for e in reaching]
        withdrawn = _clear_scored(lake, scored_hours[0], scored_hours[-1], {i.id for i in recent})
        n_anom = _write_anomalies(lake, panel, out, cols, events, meta["version"])
        _link_earlier_anomalies(lake, reaching, withdrawn, scored_hours[0])
        _write_incidents(lake, recent)
        state.update(last_scored_hour=scored_hours[-1].isoformat(), model_version=meta["version"])
        lake.write_json(STATE, state)
    changes.acknowledge(lake, CONSUMER, source, pending)
    emitted = set(state.get("emitted", {}))
    # Incidents not yet emitted, including ones an earlier run failed to deliver (up to a week back).
    horizon = (scored_hours[0] if len(scored_hours) else panel.hours[-1]) - UNDELIVERED_FOR
    new = [to_incident(e) for e in events if e.id not in emitted and pd.Timestamp(e.end) > horizon]
    if record_emitted:
        mark_emitted(lake, new)
    first, last = (scored_hours[0], scored_hours[-1]) if len(scored_hours) else (None, None)
    return DetectResult(meta["version"], first, last, n_anom, recent, new, withdrawn)


def _clear_scored(lake: Lake, first: pd.Timestamp, last: pd.Timestamp, kept: set[str]) -> list[str]:
    """Before hours [first, last] are written again: their anomalies go, and so do the incidents reaching
    into them (an incident starts at most ``INCIDENT_REACH`` before them). Returns the ids of the incidents
    removed that scoring no longer finds."""
    import pyarrow.compute as pc

    at = utc_scalar(first)
    lake.drop_rows(ANOMALIES, days_between(first, last + HOUR), lambda t: pc.greater_equal(t["hour"], at), WRITER_ID)
    gone = lake.drop_rows(
        INCIDENTS, days_between(first - INCIDENT_REACH, last + HOUR), lambda t: pc.greater(t["end"], at), WRITER_ID
    )
    return sorted(set(gone.column("id").to_pylist()) - kept)


def _undelivered(lake: Lake, state: dict) -> list[Incident]:
    """Incidents written but not emitted, ending within ``UNDELIVERED_FOR`` of the last scored hour."""
    import pyarrow.compute as pc

    if not lake.has(INCIDENTS):
        return []
    last = pd.Timestamp(state["last_scored_hour"])
    horizon = last - UNDELIVERED_FOR
    at = utc_scalar(horizon)
    rows = lake.read_hours(INCIDENTS, horizon - INCIDENT_REACH, last + HOUR, columns=["id", "end", "incident"])
    rows = rows.filter(pc.greater(rows["end"], at))
    emitted = set(state.get("emitted", {}))
    ids, texts = rows["id"].to_pylist(), rows["incident"].to_pylist()
    found = [Incident.from_json(text) for i, text in zip(ids, texts, strict=True) if i not in emitted]
    return sorted(found, key=lambda i: (i.window.start, i.id))


def mark_emitted(lake: Lake, incidents: list[Incident]) -> None:
    """Remember incidents as reported (for 30 days after the newest one), so no later run reports them again."""
    state = lake.read_json(STATE) if lake.exists(STATE) else {}
    emitted = dict(state.get("emitted", {}))
    emitted.update({i.id: pd.Timestamp(i.window.start).isoformat() for i in incidents})
    if emitted:
        newest = max(pd.Timestamp(v) for v in emitted.values())
        keep_after = newest - pd.Timedelta(days=30)
        emitted = {k: v for k, v in emitted.items() if pd.Timestamp(v) >= keep_after}
    state["emitted"] = emitted
    lake.write_json(STATE, state)


def _write_anomalies(lake: Lake, panel: Panel, out: dict, cols: np.ndarray, events: list[Event], version: str) -> int:
    sig = out["signals"]
    rows, hrs = np.nonzero(out["anomalous"] & cols[None, :])
    if len(rows) == 0:
        return 0
    keys = panel.keys.iloc[rows].reset_index(drop=True)
    df = pd.DataFrame({"hour": panel.hours[hrs]})
    for k in [*SERIES_KEY, "team"]:
        df[k] = keys[k].to_numpy()
    df["bytes"] = panel.values["bytes"][rows, hrs]
    df["cost_usd"] = panel.values["cost_usd"][rows, hrs]
    df["expected_usd"] = sig["expected_usd"][rows, hrs]
    df["score"] = out["score"][rows, hrs]
    df["evidence"] = out["evidence"][rows, hrs]
    df["forest_score"] = out["forest_score"][rows, hrs]
    df["signals"] = [
        [(s, float(v)) for s, v in zip(SIGNALS, vals, strict=True)]
        for vals in np.stack([sig[s][rows, hrs] for s in SIGNALS], axis=1)
    ]
    df["incident_id"] = [
        _event_of(events, a, r, h) for a, r, h in zip(df["account"], df["region"], df["hour"], strict=True)
    ]
    df["model_version"] = version
    rows = pa.Table.from_pandas(df[ANOMALIES.columns], schema=ANOMALIES.schema, preserve_index=False)
    lake.upsert(ANOMALIES, rows, ["hour", *SERIES_KEY], WRITER_ID)
    return len(df)


def _link_earlier_anomalies(lake: Lake, events: list[Event], withdrawn: list[str], first: pd.Timestamp) -> None:
    """Anomalies scored by an earlier run take the id of the event that now covers their hour (an event can
    begin in hours scored before and become material only with the new ones); ids of withdrawn events go."""
    starts = [pd.Timestamp(e.start) for e in events if pd.Timestamp(e.start) < first]
    if not starts and not withdrawn:
        return
    gone = set(withdrawn)

    def relink(rows: pa.Table) -> pa.Table | None:
        old = rows.column("incident_id").to_pylist()
        keys = zip(*(rows.column(c).to_pylist() for c in ("account", "region", "hour")), strict=True)
        new = [
            i if hour >= first else (_event_of(events, a, r, pd.Timestamp(hour)) or (None if i in gone else i))
            for (a, r, hour), i in zip(keys, old, strict=True)
        ]
        if new == old:
            return None
        return rows.set_column(rows.schema.get_field_index("incident_id"), "incident_id", pa.array(new, pa.string()))

    lake.edit_rows(
        ANOMALIES, days_between(min([*starts, first - INCIDENT_REACH if gone else first]), first), relink, WRITER_ID
    )


def _event_of(events: list[Event], account: str, region: str, hour: pd.Timestamp) -> str | None:
    for e in events:
        if e.account == account and e.region == region and pd.Timestamp(e.start) <= hour < pd.Timestamp(e.end):
            return e.id
    return None


def _write_incidents(lake: Lake, incidents: list[Incident]) -> None:
    if not incidents:
        return
    rows = pa.Table.from_pylist(
        [
            {
                "id": i.id,
                "account": i.account,
                "region": i.region,
                "start": i.window.start,
                "end": i.window.end,
                "detected_at": i.window.detected_at,
                "severity": i.severity.value,
                "status": i.status.value,
                "impact_usd": i.impact.total_usd,
                "schema_version": i.schema_version,
                "incident": i.model_dump_json(by_alias=True),
            }
            for i in incidents
        ],
        schema=INCIDENTS.schema,
    )
    lake.upsert(INCIDENTS, rows, ["id"], WRITER_ID)


def read_incident(lake: Lake, incident_id: str) -> Incident:
    """An incident the detector wrote, by id."""
    import pyarrow.dataset as ds

    if not lake.has(INCIDENTS):
        raise InputError("the lake has no incidents yet: run `egress detect` first")
    rows = lake.read_table(INCIDENTS, columns=["incident"], filter=ds.field("id") == incident_id).to_pylist()
    if not rows:
        raise InputError(f"no incident {incident_id!r} in the lake")
    return Incident.from_json(rows[-1]["incident"])
