"""Many metric series in one table (``egress score-series --key-cols``): each series scored on its own, online.

A series is the rows sharing the key columns' values. Its interval is the most common step between its
timestamps (any regular interval: minutes, hours, days); the missing steps are filled as missing values before
scoring, so the scorer sees the series' true spacing and a gap never reads as an anomaly, and only the rows the
table holds get a score back. Each series' incidents (``series_incidents``) can be collected too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.detection.series_incidents import series_incidents
from egress_optimizer.detection.univariate import OnlineSeriesScorer
from egress_optimizer.errors import InputError

SCORE_COLUMN = "anomaly_score"


def score_table(
    df: pd.DataFrame,
    timestamp_col: str = "timestamp",
    value_col: str = "value",
    key_cols: list[str] | None = None,
    incidents: list[Incident] | None = None,
    forest: bool = True,
) -> pd.DataFrame:
    """``df`` with each row's anomaly score in [0, 1] (``SCORE_COLUMN``), in the input's row order; each
    series' incidents are appended to ``incidents`` when given. ``forest=False``: the rules alone."""
    key_cols = list(key_cols or [])
    missing = [c for c in (timestamp_col, value_col, *key_cols) if c not in df.columns]
    if missing:
        raise InputError(f"no column {missing[0]!r} (columns: {', '.join(map(str, df.columns))})")
    stamps = pd.to_datetime(df[timestamp_col], errors="coerce", utc=True)
    if stamps.isna().any():
        row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
        raise InputError(f"row {row + 1}: {df[timestamp_col].iloc[row]!r} is not a timestamp")
    values = pd.to_numeric(df[value_col], errors="coerce")
    scores = np.zeros(len(df))
    groups = df.groupby(key_cols, sort=False, dropna=False).indices if key_cols else {(): np.arange(len(df))}
    scorer = OnlineSeriesScorer(forest=forest)
    for key, rows in groups.items():
        names = dict(zip(key_cols, key if isinstance(key, tuple) else (key,), strict=True))
        scores[rows] = _score_one(
            scorer, stamps.iloc[rows], values.iloc[rows], {k: str(v) for k, v in names.items()}, incidents
        )
    return df.assign(**{SCORE_COLUMN: np.round(scores, 6)})


def _score_one(
    scorer: OnlineSeriesScorer,
    stamps: pd.Series,
    values: pd.Series,
    keys: dict[str, str],
    incidents: list[Incident] | None,
) -> np.ndarray:
    """One series' scores, row for row (duplicate timestamps: the last value of the step is scored)."""
    frame = pd.DataFrame({"t": stamps.to_numpy(), "v": values.to_numpy()}).reset_index(drop=True)
    order = frame.sort_values("t", kind="stable")
    steps = order.t.diff().dropna()
    steps = steps[steps > pd.Timedelta(0)]
    if steps.empty:
        return np.zeros(len(frame))
    step = steps.mode().iloc[0]
    grid = pd.date_range(order.t.iloc[0], order.t.iloc[-1], freq=step)
    filled = order.drop_duplicates("t", keep="last").set_index("t").v.reindex(grid.union(order.t))
    x = filled.to_numpy(dtype=float)
    out = scorer.surprise(x, filled.index.tz_localize(None).to_numpy())
    if incidents is not None:
        incidents.extend(series_incidents(keys, filled.index, x, out["expected"], out["evidence"]))
    return pd.Series(out["score"], index=filled.index).reindex(frame.t).to_numpy()
