"""Top talkers: which resources, destinations, accounts or teams paid the most for data transfer."""

from __future__ import annotations

import re

import pandas as pd

from egress_optimizer.errors import InputError

GROUPINGS = {
    "resource": ["resource_id", "account", "team"],
    "peer": ["destination", "peer_region"],
    "account": ["account"],
    "team": ["team"],
}


def parse_window(value: str) -> pd.Timedelta:
    """``36h``, ``7d``, ``2w`` -> a duration; anything else is an input error."""
    m = re.fullmatch(r"(\d+)([hdw])", value.strip())
    if not m:
        raise InputError(f"--since {value!r}: use a number and h, d or w (for example 7d)")
    return pd.Timedelta(int(m.group(1)), {"h": "h", "d": "D", "w": "W"}[m.group(2)])


def top_talkers(attributed: pd.DataFrame, by: str, since: str | None = None, limit: int = 10) -> pd.DataFrame:
    """The ``limit`` costliest groups of ``attributed`` rows by ``by`` (a key of ``GROUPINGS``), over the
    lake's last ``since`` (``7d``) or all of it, with their gigabytes and dollars."""
    if by not in GROUPINGS:
        raise InputError(f"--by must be one of {', '.join(GROUPINGS)}")
    df = attributed
    if since:
        window = parse_window(since)
        end = pd.to_datetime(df.hour).max()
        df = df[pd.to_datetime(df.hour) > end - window]
    key = GROUPINGS[by]
    out = df.fillna({k: "-" for k in key}).groupby(key, dropna=False)[["gb", "usd"]].sum()
    return out.sort_values("usd", ascending=False).head(limit).reset_index()
