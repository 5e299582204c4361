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

from egress_optimizer.attribution.destinations import CLOUDFRONT, INTERNET

SERIES_KEY = ["account", "region", "entity", "destination", "peer_region"]
# What a series is besides its key: who owns it, how the CUR bills it and the gateway it crosses (the first value seen).
SERIES_ATTRIBUTES = ["team", "product", "usage_type", "via"]
# Panel measures read from egress_hourly (missing optional columns are treated as zeros).
MEASURES = [
    "cost_usd",
    "bytes",
    "packets",
    "distinct_peers",
    "new_peers",
    "recent_peer_bytes",
    "records",
    "cache_misses",
]
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
    attrs = keys[SERIES_ATTRIBUTES].astype(object)
    keys[SERIES_ATTRIBUTES] = attrs.where(attrs.notna(), None)  # missing is None, never a float NaN
    sid = df.merge(keys[SERIES_KEY].reset_index(), on=SERIES_KEY, how="left")["index"].to_numpy()
    col = ((df["hour"] - hours[0]) // pd.Timedelta(hours=1)).to_numpy().astype(int)
    values = {}
    for m in MEASURES:
        mat = np.zeros((len(keys), len(hours)))
        np.add.at(mat, (sid, col), df[m].to_numpy())
        values[m] = mat
    return Panel(keys, hours, values)


# Standard-time UTC offsets of where a series' traffic lives (its users' working week): AWS regions by their
# location, CloudFront price classes by the middle of their geography.
REGION_UTC_OFFSET = {
    "us-east-1": -5, "us-east-2": -5, "us-west-1": -8, "us-west-2": -8, "ca-central-1": -5, "ca-west-1": -7,
    "sa-east-1": -3, "mx-central-1": -6, "eu-west-1": 0, "eu-west-2": 0, "eu-west-3": 1, "eu-central-1": 1,
    "eu-central-2": 1, "eu-north-1": 1, "eu-south-1": 1, "eu-south-2": 1, "me-south-1": 3, "me-central-1": 4,
    "il-central-1": 2, "af-south-1": 2, "ap-south-1": 5, "ap-south-2": 5, "ap-east-1": 8, "ap-northeast-1": 9,
    "ap-northeast-2": 9, "ap-northeast-3": 9, "ap-southeast-1": 8, "ap-southeast-2": 10, "ap-southeast-3": 7,
    "ap-southeast-4": 10, "ap-southeast-5": 8,
}  # fmt: skip
CLOUDFRONT_GEO_UTC_OFFSET = {
    "US": -6, "CA": -5, "EU": 1, "JP": 9, "AP": 8, "AU": 10, "IN": 5, "SA": -3, "ME": 3, "ZA": 2,
}  # fmt: skip


def cloudfront_viewer_rows(keys: pd.DataFrame) -> np.ndarray:
    """Per series: whether it is a CloudFront distribution's viewer traffic (``cloudfront:<geo>``)."""
    return keys["destination"].astype(str).str.startswith(CLOUDFRONT + ":").to_numpy()


def entity_kind(entity: str) -> str:
    """The kind of resource a series belongs to: the resource type of an ARN (natgateway, loadbalancer, task,
    distribution ...), ``instance`` or ``eni`` for bare EC2 ids, ``bucket`` otherwise."""
    if entity.startswith("arn:"):
        parts = entity.split(":", 5)
        return parts[5].split("/")[0] if len(parts) == 6 else "arn"
    for prefix, kind in (("i-", "instance"), ("eni-", "eni")):
        if entity.startswith(prefix):
            return kind
    return "bucket"


SERVER_KINDS = ("loadbalancer", "instance", "task")  # resources that answer their clients themselves


def public_endpoint_rows(keys: pd.DataFrame) -> np.ndarray:
    """Per series: whether it is what a resource serves to the internet's clients directly (a bucket's downloads,
    a load balancer's or an instance's responses), not what goes out through a gateway or to a CDN."""
    kinds = np.array([entity_kind(str(e)) for e in keys["entity"]], dtype=object)
    bucket = kinds == "bucket"
    if "product" in keys:
        bucket &= (keys["product"].astype(str) == "AmazonS3").to_numpy()
    return (bucket | np.isin(kinds, SERVER_KINDS)) & (keys["destination"].astype(str) == INTERNET).to_numpy()


def utc_offsets(keys: pd.DataFrame) -> np.ndarray:
    """Per series: hours to add to UTC to get the local time of its traffic (0 when unknown)."""
    out = []
    for region, dest in zip(keys["region"], keys["destination"], strict=True):
        if str(dest).startswith(CLOUDFRONT + ":"):
            out.append(CLOUDFRONT_GEO_UTC_OFFSET.get(str(dest).split(":", 1)[1], 0))
        else:
            out.append(REGION_UTC_OFFSET.get(str(region), 0))
    return np.asarray(out, dtype=int)


def weekend_matrix(panel: Panel) -> np.ndarray:
    """(n_series, n_hours) True where the hour falls on a local Saturday or Sunday for that series."""
    base = panel.hours.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[h]").astype(np.int64)
    local = base[None, :] + utc_offsets(panel.keys)[:, None]
    dow = ((local // 24) + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    return dow >= 5
