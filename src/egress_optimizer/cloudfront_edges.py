"""CloudFront edge location codes and the pricing geography they bill in.

An edge code is an IATA airport code plus a number and a suffix (``IAD89-C1``). AWS publishes no table
from edge code to pricing geography; this one follows the airport's country, which is how CloudFront's
pricing page defines its geographies.
"""

from __future__ import annotations

import re

AIRPORT_GEO = {
    # United States
    "IAD": "US",
    "JFK": "US",
    "EWR": "US",
    "LAX": "US",
    "SFO": "US",
    "SEA": "US",
    "DFW": "US",
    "ORD": "US",
    "ATL": "US",
    "MIA": "US",
    "BOS": "US",
    "DEN": "US",
    "PHX": "US",
    "HIO": "US",
    "MSP": "US",
    "IAH": "US",
    # Canada
    "YTO": "CA",
    "YUL": "CA",
    "YVR": "CA",
    # Europe and Israel
    "FRA": "EU",
    "LHR": "EU",
    "AMS": "EU",
    "CDG": "EU",
    "DUB": "EU",
    "MAD": "EU",
    "MXP": "EU",
    "ARN": "EU",
    "WAW": "EU",
    "VIE": "EU",
    "ZRH": "EU",
    "HEL": "EU",
    "MUC": "EU",
    "TLV": "EU",
    "MAN": "EU",
    "PRG": "EU",
    # Japan
    "NRT": "JP",
    "KIX": "JP",
    "HND": "JP",
    # Asia Pacific (Hong Kong, Philippines, South Korea, Taiwan, Singapore, ...)
    "SIN": "AP",
    "HKG": "AP",
    "ICN": "AP",
    "TPE": "AP",
    "MNL": "AP",
    "BKK": "AP",
    "KUL": "AP",
    "CGK": "AP",
    # Australia and New Zealand
    "SYD": "AU",
    "MEL": "AU",
    "PER": "AU",
    "AKL": "AU",
    "BNE": "AU",
    # India
    "BOM": "IN",
    "DEL": "IN",
    "MAA": "IN",
    "BLR": "IN",
    "HYD": "IN",
    # South America
    "GRU": "SA",
    "GIG": "SA",
    "EZE": "SA",
    "SCL": "SA",
    "BOG": "SA",
    "LIM": "SA",
    # Middle East
    "DXB": "ME",
    "FJR": "ME",
    "BAH": "ME",
    # South Africa
    "JNB": "ZA",
    "CPT": "ZA",
}

_EDGE = re.compile(r"^([A-Z]{3})\d+(?:-[A-Z0-9]+)?$")


def geography(edge_location: str) -> str | None:
    """Pricing geography of an edge code such as ``IAD89-C1``; None if the code is not recognised."""
    m = _EDGE.match(edge_location or "")
    return AIRPORT_GEO.get(m.group(1)) if m else None


def edges_in(geo: str) -> list[str]:
    return [code for code, g in AIRPORT_GEO.items() if g == geo]
