"""Local time for the generator's daily and weekly shapes: each region's IANA time zone (daylight saving
included, from the pinned tz database of the ``tzdata`` package) and its public holidays.

People and their traffic follow local clocks: when Dublin leaves summer time on the last Sunday of October,
its morning peak moves an hour later in UTC, a week before New York's does; offices close on public holidays.
"""

from __future__ import annotations

import time
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

REGION_ZONES = {
    "us-east-1": "America/New_York",
    "us-west-2": "America/Los_Angeles",
    "eu-west-1": "Europe/Dublin",
    "sa-east-1": "America/Sao_Paulo",  # Brazil has had no daylight saving since 2019
}
# CloudFront viewer geographies, each by one representative zone.
GEO_ZONES = {
    "US": "America/Chicago",
    "CA": "America/Toronto",
    "EU": "Europe/Berlin",
    "JP": "Asia/Tokyo",
    "AP": "Asia/Singapore",
    "AU": "Australia/Sydney",
    "IN": "Asia/Kolkata",
    "SA": "America/Sao_Paulo",
    "ME": "Asia/Dubai",
    "ZA": "Africa/Johannesburg",
}
_US = ["2026-09-07", "2026-11-26", "2026-12-25", "2027-01-01", "2027-01-18", "2027-02-15", "2027-05-31"]
# Public holidays (national, 2026-27) by time zone: the days offices close and weekday traffic takes a weekend shape.
HOLIDAYS = {
    "America/New_York": _US,
    "America/Los_Angeles": _US,
    "America/Chicago": _US,
    "Europe/Dublin": ["2026-10-26", "2026-12-25", "2026-12-26", "2027-01-01", "2027-02-01", "2027-03-17"],
    "America/Sao_Paulo": ["2026-10-12", "2026-11-02", "2026-11-20", "2026-12-25", "2027-01-01", "2027-02-09"],
    "America/Toronto": ["2026-10-12", "2026-12-25", "2027-01-01"],
    "Europe/Berlin": ["2026-10-03", "2026-12-25", "2026-12-26", "2027-01-01"],
    "Asia/Tokyo": ["2026-10-12", "2026-11-03", "2026-11-23", "2027-01-01"],
}


@cache
def _zone(name: str) -> ZoneInfo:
    """The zone from the pinned ``tzdata`` package, not the system's database: the same seed gives the same
    estate on every machine."""
    with resources.files("tzdata.zoneinfo").joinpath(name).open("rb") as f:
        return ZoneInfo.from_file(f, key=name)


def iso(epoch: int) -> str:
    """A UTC time as the labels and inventory spell it (``2026-10-19T00:00:00Z``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def local_calendar(start_epoch: int, hours: int, zone: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hour of day, day of week (0 = Monday) and a public-holiday flag, in ``zone``'s local time, for each
    UTC hour of the period."""
    utc = pd.date_range(pd.Timestamp(start_epoch, unit="s", tz="UTC"), periods=hours, freq="h")
    local = utc.tz_convert(_zone(zone))
    holiday = np.isin(local.strftime("%Y-%m-%d"), HOLIDAYS.get(zone, []))
    return local.hour.to_numpy(), local.day_of_week.to_numpy(), holiday
