"""File-based training and request scoring: what the SageMaker scripts call (no lake, just directories)."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pandas as pd
import pyarrow.dataset as ds

from egress_optimizer.detection.detector import DetectorParams, EgressDetector
from egress_optimizer.detection.events import PlannedWindow, planned_mask
from egress_optimizer.detection.incidents import to_incident
from egress_optimizer.detection.model_store import MODEL_FILE, load_model_dir
from egress_optimizer.detection.panel import Panel, build_panel
from egress_optimizer.detection.scoring import score
from egress_optimizer.detection.signals import SIGNALS, WARMUP_HOURS, compute_signals
from egress_optimizer.tables import EGRESS_HOURLY

__all__ = ["load_model_dir", "score_request", "train_from_files"]


def read_feature_files(root: Path) -> pd.DataFrame:
    files = sorted(str(p) for p in root.rglob("*.parquet") if not p.name.startswith("."))
    if not files:
        raise ValueError(f"no Parquet files of egress_hourly under {root}")
    return EGRESS_HOURLY.from_storage(ds.dataset(files, format="parquet").to_table()).to_pandas()


def fit_detector(
    panel: Panel, params: DetectorParams | None = None, planned: list[PlannedWindow] | None = None
) -> tuple[EgressDetector, dict]:
    """Fit on a panel (planned hours kept out) and describe the result: the one training path for the lake
    (``service.train``) and for SageMaker (``train_from_files``)."""
    if panel.shape[1] <= WARMUP_HOURS + 24:
        raise ValueError(f"need more than {WARMUP_HOURS // 24 + 1} days of hourly features to train")
    exclude = planned_mask(panel, planned or [])
    detector = EgressDetector(params)
    sig = compute_signals(panel, exclude, demand_breadth=detector.params.thresholds.breadth)
    detector.fit(panel, sig)
    flagged = detector.score_panel(panel, sig)["anomalous"][:, WARMUP_HOURS:]
    meta = {
        "training_window": {"start": panel.hours[0].isoformat(), "end": panel.hours[-1].isoformat()},
        "signals": SIGNALS,
        "series": int(panel.shape[0]),
        "hours": int(panel.shape[1]),
        "params": detector.params.to_dict(),
        "metrics": {
            "training_rows": int(flagged.size),
            "flagged_share": float(flagged.mean()) if flagged.size else 0.0,
            "forest_offset": float(detector.forest.offset_) if detector.forest else None,
        },
    }
    return detector, meta


def train_from_files(train_dir: Path, model_dir: Path, mode: str, seed: int, n_estimators: int) -> dict:
    panel = build_panel(read_feature_files(train_dir))
    detector, meta = fit_detector(panel, DetectorParams(mode=mode, seed=seed, n_estimators=n_estimators))
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(detector, model_dir / MODEL_FILE)
    (model_dir / "metadata.json").write_text(json.dumps(meta, indent=2))
    return meta


def score_request(detector: EgressDetector, request: dict) -> dict:
    """Score the rows of one request; report incidents and the anomalous rows of the newest ``score_hours``."""
    rows = pd.DataFrame(request["rows"])
    if rows.empty:
        return {"incidents": [], "anomalies": []}
    panel = build_panel(rows)
    planned = [PlannedWindow.from_dict(w) for w in request.get("planned", [])]
    out, events = score(detector, panel, planned, None, float(request.get("min_impact_usd", 0.0)))
    n_last = int(request.get("score_hours", panel.shape[1]))
    cols = slice(max(0, panel.shape[1] - n_last), panel.shape[1])
    anomalies = []
    for i, j in zip(*out["anomalous"][:, cols].nonzero(), strict=True):
        k = panel.keys.iloc[i]
        anomalies.append(
            {
                "hour": panel.hours[cols][j].isoformat(),
                "account": k["account"],
                "region": k["region"],
                "entity": k["entity"],
                "destination": k["destination"],
                "peer_region": k["peer_region"],
                "score": float(out["score"][i, cols][j]),
            }
        )
    return {"incidents": [to_incident(e).to_json() for e in events], "anomalies": anomalies}
