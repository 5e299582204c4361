"""The lake's view of an incident's traffic: who received the bytes, which of them are new, and where they are.

From ``attributed`` (every billable byte with its peer address): per destination of the incident's resources,
the top peers during the window; a peer is new when the resource sent it nothing in the week before; its
owner comes from AWS's published ranges and the known cloud and on-premises networks. Reads the window and
the week before it only (two date ranges of the lake, not its history). With a GeoIP database configured
(``geography``), the top peers' countries too.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.ipranges import IpRanges
from egress_optimizer.lake import Lake
from egress_optimizer.networks import Networks
from egress_optimizer.respond.collectors import geography
from egress_optimizer.respond.evidence import Evidence, make
from egress_optimizer.tables import ATTRIBUTED

TOP_PEERS = 5
BEFORE = timedelta(days=7)
COLUMNS = ["hour", "account", "resource_id", "destination", "peer", "bytes", "usd", "records", "cache_misses"]
HIT_RATIO_BEFORE = timedelta(days=1)
MIN_REQUESTS = 20  # fewer logged requests than this say nothing about a hit ratio


def traffic_evidence(
    lake: Lake, incident: Incident, ranges: IpRanges | None = None, networks: Networks | None = None
) -> list[Evidence]:
    """Top peers per resource and destination in the window, with how new and whose they are."""
    resources = sorted({e.id for e in incident.entities})
    if not resources or not lake.has(ATTRIBUTED):
        return []
    start, end = pd.Timestamp(incident.window.start), pd.Timestamp(incident.window.end)
    during = _rows(lake, start, end, resources, incident.accounts)
    if during.empty:
        return []
    before = _rows(lake, start - BEFORE, start, resources, incident.accounts)
    known = set(zip(before["resource_id"], before["peer"], strict=True))
    day_before = before[before["hour"] >= start - HIT_RATIO_BEFORE]
    out = _hit_ratios(incident, during, day_before)
    ranges = ranges or IpRanges.load()
    networks = networks or Networks.load()
    for (resource, destination), rows in during.groupby(["resource_id", "destination"], sort=True):
        by_peer = rows.groupby("peer")[["bytes", "usd"]].sum().sort_values("bytes", ascending=False)
        total = float(by_peer["bytes"].sum())
        if total <= 0:
            continue
        new = [p for p in by_peer.index if (resource, p) not in known]
        new_share = float(by_peer.loc[new, "bytes"].sum()) / total if new else 0.0
        top = by_peer.head(TOP_PEERS)
        owners = [_owner(p, ranges, networks) for p in top.index]
        located = geography.countries([str(p) for p in top.index])
        out.append(
            make(
                incident.id,
                "top_peers",
                f"{resource}|{destination}",
                f"lake:{ATTRIBUTED.name}",
                f"{_short(resource)} to {destination}: {len(by_peer)} peer(s); {new_share:.0%} of the bytes went to "
                f"peers it had not sent to in the week before; top peer {top['bytes'].iloc[0] / total:.0%}",
                resource=resource,
                destination=destination,
                peers=len(by_peer),
                new_peers=len(new),
                new_peer_byte_share=round(new_share, 4),
                top_peers=[str(p) for p in top.index],
                top_peer_owners=owners,
                top_peer_countries=[c or "unknown" for c in located] if located is not None else None,
                top_peer_byte_shares=[f"{b / total:.4f}" for b in top["bytes"]],
                gigabytes=round(total / 1e9, 3),
                usd=round(float(by_peer["usd"].sum()), 4),
            )
        )
    return out


def _hit_ratios(incident: Incident, during: pd.DataFrame, before: pd.DataFrame) -> list[Evidence]:
    """Per CloudFront distribution: the share of logged viewer requests the edge served from cache, during the
    window and over the day before (viewer rows carry their request count and how many missed the cache)."""
    out = []
    viewers = during[during["destination"].str.startswith("cloudfront:")]
    for resource, rows in viewers.groupby("resource_id", sort=True):
        now = _ratio(rows)
        then = _ratio(before[(before["resource_id"] == resource) & before["destination"].str.startswith("cloudfront:")])
        if now is None:
            continue
        out.append(
            make(
                incident.id,
                "cache_hit_ratio",
                str(resource),
                f"lake:{ATTRIBUTED.name}",
                f"{_short(str(resource))}: edge hit ratio {now:.0%} during the incident"
                + ("" if then is None else f", {then:.0%} the day before"),
                resource=str(resource),
                hit_ratio=round(now, 4),
                hit_ratio_before=None if then is None else round(then, 4),
                requests=int(rows["records"].sum()),
            )
        )
    return out


def _ratio(rows: pd.DataFrame) -> float | None:
    requests = float(rows["records"].sum())
    return 1.0 - float(rows["cache_misses"].fillna(0).sum()) / requests if requests >= MIN_REQUESTS else None


def _rows(
    lake: Lake, start: pd.Timestamp, end: pd.Timestamp, resources: list[str], accounts: list[str]
) -> pd.DataFrame:
    rows = lake.read_hours(ATTRIBUTED, start.to_pydatetime(), end.to_pydatetime(), columns=COLUMNS).to_pandas()
    rows = rows[rows["resource_id"].isin(resources) & rows["account"].isin(accounts)]
    rows["peer"] = rows["peer"].fillna("-")
    return rows


def _owner(address: str, ranges: IpRanges, networks: Networks) -> str:
    """AWS service and region, a named cloud or site, or ``internet``."""
    owner = ranges.owner(address) if address and address != "-" else None
    if owner is not None:
        return f"aws:{owner.service}:{owner.region}"
    net = networks.lookup_one(address) if address and address != "-" else None
    return f"{net.kind.lower()}:{net.name}" if net is not None else "internet"


def _short(resource: str) -> str:
    return resource.rsplit(":", 1)[-1]
