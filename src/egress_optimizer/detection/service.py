"""Train and detect against a lake: what ``egress train`` / ``egress detect`` and the hourly Lambda call.

``detect`` scores every hour of the window it reads (baselines need the week before), but only reports as
*new* the events it has not emitted before (``detection/state.json``), so running it every hour, or twice
for the same hour, pages once per incident. ``anomalies`` and ``anomaly_events`` are rewritten per day, so
re-running never duplicates rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet

from egress_optimizer.detection import model_store
from egress_optimizer.detection.detector import DetectorParams, EgressDetector
from egress_optimizer.detection.events import MIN_IMPACT_SHARE, Event, PlannedWindow, build_events, planned_mask
from egress_optimizer.detection.feedback import load_feedback, load_planned, threshold_multipliers
from egress_optimizer.detection.panel import SERIES_KEY, Panel, build_panel
from egress_optimizer.detection.signals import SIGNALS, compute_signals
from egress_optimizer.detection.training import fit_detector
from egress_optimizer.errors import InputError
from egress_optimizer.lake import Lake

STATE = "detection/state.json"
# Days of features an hourly run reads before the first new hour: a residual needs the week before it (its
# same-hour baseline), a sigma the week of residuals before its day, and a 24-hour mean a day more. With fewer
# the newest hours' statistics rest on a young lake's weak early days, and the hourly run would not say what
# scoring the whole history says (8 days moved 6-hour z by up to 4).
HISTORY_DAYS = 15


def read_hourly(lake: Lake, since: pd.Timestamp | None = None) -> pd.DataFrame:
    if not lake.exists("egress_hourly"):
        raise InputError(f"lake {lake.root!r} has no egress_hourly table: run `egress features --lake {lake.root}`")
    flt = None
    if since is not None:
        flt = ds.field("dt") >= (since - pd.Timedelta(days=HISTORY_DAYS)).strftime("%Y-%m-%d")
    return lake.read("egress_hourly", filter=flt).to_pandas()


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
    events: list[Event]
    new_events: list[Event] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "model_version": self.model_version,
            "scored_from": self.scored_from.isoformat() if self.scored_from is not None else None,
            "scored_to": self.scored_to.isoformat() if self.scored_to is not None else None,
            "anomalies": self.anomalies,
            "events": [e.to_dict() for e in self.events],
            "new_event_ids": [e.id for e in self.new_events],
        }


def score(
    detector: EgressDetector,
    panel: Panel,
    planned: list[PlannedWindow],
    feedback: list | None = None,
    min_impact_usd: float = 0.0,
    min_impact_pct: float = 0.0,
    min_impact_share: float = MIN_IMPACT_SHARE,
) -> tuple[dict[str, np.ndarray], list[Event]]:
    """Score a panel and form events (planned hours never alert)."""
    exclude = planned_mask(panel, planned)
    sig = compute_signals(panel, exclude, demand_breadth=detector.params.thresholds.breadth)
    return score_signals(detector, panel, sig, exclude, feedback, min_impact_usd, min_impact_pct, min_impact_share)


def score_signals(
    detector: EgressDetector,
    panel: Panel,
    sig: dict[str, np.ndarray],
    exclude: np.ndarray,
    feedback: list | None = None,
    min_impact_usd: float = 0.0,
    min_impact_pct: float = 0.0,
    min_impact_share: float = MIN_IMPACT_SHARE,
) -> tuple[dict[str, np.ndarray], list[Event]]:
    """The decision half of ``score`` on signals computed once (evaluation reuses them across seeds)."""
    out = detector.score_panel(panel, sig, threshold_multipliers(panel, feedback or []))
    out["anomalous"] &= ~exclude
    events = build_events(
        panel,
        out["anomalous"],
        out["score"],
        sig["expected_usd"],
        3,
        min_impact_usd,
        min_impact_pct,
        min_impact_share,
        unpriced=detector.unpriced(sig, out["anomalous"]),
        evidence_hours=out["evidence_hours"],
        exclude=exclude,
    )
    return out, events


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
    """Score new hours (after the last run, or from ``since``) and write anomalies and events.

    ``new_events`` are the events never reported before. With ``record_emitted=False`` the caller marks them
    with ``mark_emitted`` once it has delivered them (the Lambda does, after EventBridge accepted them), so a
    failed delivery is retried by the next run instead of being lost.
    """
    detector, meta = model_store.load(lake, model_version)
    state = lake.read_json(STATE) if lake.exists(STATE) else {}
    if since is None and state.get("last_scored_hour"):
        since = pd.Timestamp(state["last_scored_hour"]) + pd.Timedelta(hours=1)
    panel = build_panel(read_hourly(lake, since))
    if panel.shape[1] == 0:
        return DetectResult(meta["version"], None, None, 0, [])
    windows = [*load_planned(lake), *(planned or [])]
    out, events = score(detector, panel, windows, load_feedback(lake), min_impact_usd, min_impact_pct, min_impact_share)
    cols = np.ones(panel.shape[1], dtype=bool) if since is None else np.asarray(panel.hours >= since)
    scored_hours = panel.hours[cols]
    n_anom, recent = 0, []
    if len(scored_hours):
        n_anom = _write_anomalies(lake, panel, out, cols, events, meta["version"])
        recent = [e for e in events if pd.Timestamp(e.end) > scored_hours[0]]
        _write_events(lake, recent)
        state.update(last_scored_hour=scored_hours[-1].isoformat(), model_version=meta["version"])
        lake.write_json(STATE, state)
    emitted = set(state.get("emitted", {}))
    # Events not yet emitted, including ones an earlier run failed to deliver (up to a week back), even
    # when there is no new hour to score.
    horizon = (scored_hours[0] if len(scored_hours) else panel.hours[-1]) - pd.Timedelta(days=7)
    new = [e for e in events if e.id not in emitted and pd.Timestamp(e.end) > horizon]
    if record_emitted:
        mark_emitted(lake, new)
    first, last = (scored_hours[0], scored_hours[-1]) if len(scored_hours) else (None, None)
    return DetectResult(meta["version"], first, last, n_anom, recent, new)


def mark_emitted(lake: Lake, events: list[Event]) -> None:
    state = lake.read_json(STATE) if lake.exists(STATE) else {}
    emitted = dict(state.get("emitted", {}))
    emitted.update({e.id: e.start for e in events})
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
    for s in SIGNALS:
        df[s] = sig[s][rows, hrs]
    df["event_id"] = [
        _event_of(events, a, r, h) for a, r, h in zip(df["account"], df["region"], df["hour"], strict=True)
    ]
    df["model_version"] = version
    _merge_days(lake, "anomalies", df, "hour", ["hour", *SERIES_KEY])
    return len(df)


def _event_of(events: list[Event], account: str, region: str, hour: pd.Timestamp) -> str | None:
    for e in events:
        if e.account == account and e.region == region and pd.Timestamp(e.start) <= hour < pd.Timestamp(e.end):
            return e.id
    return None


def _write_events(lake: Lake, events: list[Event]) -> None:
    if not events:
        return
    df = pd.DataFrame([e.to_dict() for e in events])
    for c in ("destinations", "teams", "entities"):
        df[c] = [json.dumps(v) for v in df[c]]
    df["start_ts"] = pd.to_datetime(df["start"], utc=True)
    _merge_days(lake, "anomaly_events", df, "start_ts", ["id"])


def _merge_days(lake: Lake, table: str, df: pd.DataFrame, when: str, unique: list[str]) -> None:
    """One file per (account, region, day) with a fixed name: new rows replace rows with the same ``unique``
    key and everything else already in that day's file is kept, so hourly runs accumulate and re-runs of the
    same hours never duplicate."""
    dt = pd.to_datetime(df[when], utc=True).dt.strftime("%Y-%m-%d")
    for (account, region, day), idx in df.groupby([df["account"], df["region"], dt]).groups.items():
        new = df.loc[idx].rename(columns={"account": "account_id"})
        partition = {"account": account, "aws_region": region, "dt": day}
        path = lake.path(table, *(f"{k}={v}" for k, v in partition.items()), "detect.parquet")
        if lake.fs.get_file_info(path).type.name == "File":
            with lake.fs.open_input_file(path) as f:
                old = pa.parquet.read_table(f).to_pandas()
            key = [("account_id" if k == "account" else k) for k in unique]
            merged = pd.concat([old, new], ignore_index=True).drop_duplicates(key, keep="last")
            new = merged.sort_values(key).reset_index(drop=True)
        lake.write_part(table, pa.Table.from_pandas(new, preserve_index=False), partition, "detect")
