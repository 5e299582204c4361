"""The hourly feature table as a dense panel: one row per series, one column per hour.

A series is one (account, region, entity, destination, peer_region) of ``egress_hourly``. Hours with no
traffic are real zeros (nothing was sent, nothing was billed), so the panel is filled with 0 rather than left
missing; a series that starts mid-window therefore has a history of zeros, which is how a brand-new path
(a NAT gateway suddenly carrying S3 traffic) stands out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from egress_optimizer.attribution.destinations import CLOUDFRONT

SERIES_KEY = ["account", "region", "entity", "destination", "peer_region"]
# What a series is besides its key: who owns it and how the CUR bills it (the first value seen).
SERIES_ATTRIBUTES = ["team", "product", "usage_type"]
# Panel measures read from egress_hourly (missing optional columns are treated as zeros).
MEASURES = ["cost_usd", "bytes", "distinct_peers", "new_peers", "recent_peer_bytes", "records", "cache_misses"]
# Transfer AWS lists at $0 that still moves other bills: origin fetches drive CloudFront origin requests and
# load-balancer capacity units, so a cache-hit collapse shows here first.
WATCHED_FREE_DESTINATIONS = {"cloudfront origin"}


@dataclass
class Panel:
    keys: pd.DataFrame  # one row per series: SERIES_KEY + SERIES_ATTRIBUTES
    hours: pd.DatetimeIndex  # UTC, hourly, contiguous
    values: dict[str, np.ndarray]  # measure -> (n_series, n_hours) float64

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.keys), len(self.hours)

    def long(self, columns: dict[str, np.ndarray]) -> pd.DataFrame:
        """Flatten per-cell matrices to rows (series key, hour, columns...)."""
        n, t = self.shape
        idx = np.repeat(np.arange(n), t)
        out = self.keys.iloc[idx].reset_index(drop=True)
        out.insert(0, "hour", np.tile(self.hours.values, n))
        out["series"] = idx
        for name, mat in columns.items():
            out[name] = np.asarray(mat).reshape(-1)
        return out


def normalise_hourly(df: pd.DataFrame) -> pd.DataFrame:
    """Column names and types as the detector expects, whichever engine wrote the table."""
    df = df.copy()
    if "account" not in df.columns or df["account"].isna().all():
        df["account"] = df["account_id"]
    elif "account_id" in df.columns:
        df["account"] = df["account_id"].fillna(df["account"])
    df["hour"] = pd.to_datetime(df["hour"], utc=True)
    df["peer_region"] = df["peer_region"].fillna("")
    for c in MEASURES:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float).fillna(0.0) if c in df.columns else 0.0
    for c in SERIES_ATTRIBUTES:
        if c not in df.columns:
            df[c] = None
    return df


def build_panel(hourly: pd.DataFrame, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None) -> Panel:
    """Pivot ``egress_hourly`` rows into series x hour matrices (series that cost money, and watched $0 ones)."""
    df = normalise_hourly(hourly)
    if df.empty:
        return Panel(pd.DataFrame(columns=[*SERIES_KEY, *SERIES_ATTRIBUTES]), pd.DatetimeIndex([], tz="UTC"), {})
    billable = df.groupby(SERIES_KEY, dropna=False)["cost_usd"].transform("sum") > 0
    df = df[billable | df["destination"].isin(WATCHED_FREE_DESTINATIONS)]
    lo = start if start is not None else df["hour"].min()
    hi = end if end is not None else df["hour"].max()
    hours = pd.date_range(lo, hi, freq="h", tz="UTC") if lo is not None and not pd.isna(lo) else pd.DatetimeIndex([])
    df = df[(df["hour"] >= hours.min()) & (df["hour"] <= hours.max())] if len(hours) else df.iloc[0:0]
    keys = (
        df.groupby(SERIES_KEY, dropna=False)[SERIES_ATTRIBUTES]
        .agg(lambda s: s.dropna().iloc[0] if s.notna().any() else None)
        .reset_index()
        .sort_values(SERIES_KEY)
        .reset_index(drop=True)
    )
    sid = df.merge(keys[SERIES_KEY].reset_index(), on=SERIES_KEY, how="left")["index"].to_numpy()
    col = ((df["hour"] - hours[0]) // pd.Timedelta(hours=1)).to_numpy().astype(int)
    values = {}
    for m in MEASURES:
        mat = np.zeros((len(keys), len(hours)))
        np.add.at(mat, (sid, col), df[m].to_numpy())
        values[m] = mat
    return Panel(keys, hours, values)


# The time zone of where a series' traffic lives (its users' working day, with daylight saving): AWS regions by
# their location, CloudFront price classes by the middle of their geography.
REGION_ZONE = {
    "us-east-1": "America/New_York", "us-east-2": "America/New_York", "us-west-1": "America/Los_Angeles",
    "us-west-2": "America/Los_Angeles", "ca-central-1": "America/Toronto", "ca-west-1": "America/Edmonton",
    "sa-east-1": "America/Sao_Paulo", "mx-central-1": "America/Mexico_City", "eu-west-1": "Europe/Dublin",
    "eu-west-2": "Europe/London", "eu-west-3": "Europe/Paris", "eu-central-1": "Europe/Berlin",
    "eu-central-2": "Europe/Zurich", "eu-north-1": "Europe/Stockholm", "eu-south-1": "Europe/Rome",
    "eu-south-2": "Europe/Madrid", "me-south-1": "Asia/Bahrain", "me-central-1": "Asia/Dubai",
    "il-central-1": "Asia/Jerusalem", "af-south-1": "Africa/Johannesburg", "ap-south-1": "Asia/Kolkata",
    "ap-south-2": "Asia/Kolkata", "ap-east-1": "Asia/Hong_Kong", "ap-northeast-1": "Asia/Tokyo",
    "ap-northeast-2": "Asia/Seoul", "ap-northeast-3": "Asia/Tokyo", "ap-southeast-1": "Asia/Singapore",
    "ap-southeast-2": "Australia/Sydney", "ap-southeast-3": "Asia/Jakarta", "ap-southeast-4": "Australia/Melbourne",
    "ap-southeast-5": "Asia/Kuala_Lumpur",
}  # fmt: skip
CLOUDFRONT_GEO_ZONE = {
    "US": "America/Chicago", "CA": "America/Toronto", "EU": "Europe/Berlin", "JP": "Asia/Tokyo",
    "AP": "Asia/Singapore", "AU": "Australia/Sydney", "IN": "Asia/Kolkata", "SA": "America/Sao_Paulo",
    "ME": "Asia/Dubai", "ZA": "Africa/Johannesburg",
}  # fmt: skip


def cloudfront_viewer_rows(keys: pd.DataFrame) -> np.ndarray:
    """Per series: whether it is a CloudFront distribution's viewer traffic (``cloudfront:<geo>``)."""
    return keys["destination"].astype(str).str.startswith(CLOUDFRONT + ":").to_numpy()


def series_zones(keys: pd.DataFrame) -> np.ndarray:
    """Per series: the IANA time zone of its traffic (UTC when unknown)."""
    out = []
    for region, dest in zip(keys["region"], keys["destination"], strict=True):
        if str(dest).startswith(CLOUDFRONT + ":"):
            out.append(CLOUDFRONT_GEO_ZONE.get(str(dest).split(":", 1)[1], "UTC"))
        else:
            out.append(REGION_ZONE.get(str(region), "UTC"))
    return np.asarray(out, dtype=object)


def _wall_clock(hours: pd.DatetimeIndex, zone: str) -> np.ndarray:
    """Hours since 1970-01-01 00:00 on ``zone``'s wall clock, for each UTC hour (repeats and skips an hour
    where daylight saving ends and starts)."""
    local = hours.tz_convert(zone).tz_localize(None)
    return local.to_numpy().astype("datetime64[h]").astype(np.int64)


def local_clock(panel: Panel) -> np.ndarray:
    """(n_series, n_hours) wall-clock hours of each series' time zone (see ``_wall_clock``)."""
    zones = series_zones(panel.keys)
    out = np.empty(panel.shape, dtype=np.int64)
    for zone in np.unique(zones):
        out[zones == zone] = _wall_clock(panel.hours, zone)[None, :]
    return out


def same_local_hour(panel: Panel, days: int = 7) -> np.ndarray:
    """(days, n_series, n_hours): the column holding the same wall-clock hour 1 ... ``days`` days before in each
    series' zone, -1 where the panel does not reach back that far. A day is 24 hours except across a daylight
    saving change, where it is 23 or 25: comparing 24 UTC hours back would set each series' daily shape an hour
    off for a week. An hour skipped by the clock change takes the next one."""
    zones = series_zones(panel.keys)
    out = np.full((days, *panel.shape), -1, dtype=np.int32)
    cols = np.arange(panel.shape[1])
    for zone in np.unique(zones):
        clock = _wall_clock(panel.hours, zone)
        rows = zones == zone
        for k in range(1, days + 1):
            target = clock - 24 * k
            pos = np.searchsorted(clock, target, side="left")
            ok = (pos < cols) & (target >= clock[0]) & (np.take(clock, np.minimum(pos, len(clock) - 1)) - target <= 1)
            out[k - 1, rows] = np.where(ok, pos, -1)[None, :]
    return out


def weekend_matrix(panel: Panel) -> np.ndarray:
    """(n_series, n_hours) True where the hour falls on a local Saturday or Sunday for that series."""
    dow = ((local_clock(panel) // 24) + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    return dow >= 5
