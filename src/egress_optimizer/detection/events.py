"""Anomalous series-hours -> incident events (one page per incident, not one per series-hour).

Cells of the same account and region merge into one event when they are at most ``gap_hours`` apart, so a
missing S3 gateway endpoint that lights up three NAT gateways for a day is one event, unless they are another
cause's (``cause_groups``: a rise that begins hours into a running event, on other resources and another kind
of path, gets its own event). Each event states:
- ``expected_usd`` / ``actual_usd``: what the involved series cost over the event's hours, and what their
  baselines predicted;
- ``impact_usd``: actual minus expected over the whole event (the total), and ``impact_usd_per_day``:
  the same excess as a daily rate (impact / event hours x 24), so a 3-hour spike and a 3-day leak compare;
- ``impact_pct``: impact over expected; ``severity`` from the daily rate; the entities, with their own excess.
Planned windows declared ahead of time suppress the cells they cover before events are formed.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from egress_optimizer.detection.materiality import FREE_PATH_HOURS, MIN_IMPACT_SHARE
from egress_optimizer.detection.panel import Panel, cloudfront_viewer_rows, public_endpoint_rows

SEVERITY = [(1000.0, "critical"), (100.0, "high"), (10.0, "medium"), (0.0, "low")]


@dataclass
class PlannedWindow:
    start: pd.Timestamp
    end: pd.Timestamp
    accounts: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    id: str = ""
    declared_at: pd.Timestamp | None = None

    @classmethod
    def from_dict(cls, d: dict) -> PlannedWindow:
        return cls(
            start=pd.Timestamp(d["start"]),
            end=pd.Timestamp(d["end"]),
            accounts=[str(a) for a in d.get("accounts", [])],
            regions=list(d.get("regions", [])),
            resources=list(d.get("resources", [])),
            id=str(d.get("id", "")),
            declared_at=pd.Timestamp(d["declared_at"]) if d.get("declared_at") else None,
        )


def entity_matches(entity: str, resources: list[str]) -> bool:
    """True when ``entity`` (an id or an ARN) names one of ``resources`` (ids or ARNs)."""
    for r in resources:
        if entity == r or entity.endswith("/" + r) or entity.endswith(":" + r) or r.endswith("/" + entity):
            return True
    return False


def planned_mask(panel: Panel, windows: list[PlannedWindow], now: pd.Timestamp | None = None) -> np.ndarray:
    """Cells covered by a planned window that was declared before it started (or before ``now``).

    A window that names no resources covers its accounts' (and regions') own traffic, between their resources,
    out through their gateways and to other regions, but not what their public endpoints serve the internet's
    clients (``public_endpoint_rows``): a declared migration is no reason to stop watching who downloads a
    public bucket. Work that changes what an endpoint serves names that endpoint."""
    n, t = panel.shape
    mask = np.zeros((n, t), dtype=bool)
    public = public_endpoint_rows(panel.keys)
    for w in windows:
        if w.declared_at is not None and w.declared_at > w.start:
            continue  # declared after the fact: that is feedback, not a plan
        cols = (panel.hours >= w.start) & (panel.hours < w.end)
        if not cols.any():
            continue
        rows = np.ones(n, dtype=bool)
        if w.accounts:
            rows &= panel.keys["account"].isin(w.accounts).to_numpy()
        if w.resources:
            rows &= np.array([entity_matches(e, w.resources) for e in panel.keys["entity"]])
        else:
            rows &= ~public
            if w.regions:
                rows &= panel.keys["region"].isin(w.regions).to_numpy()
        mask[np.ix_(rows, cols)] = True
    return mask


@dataclass
class Event:
    id: str
    account: str
    region: str
    start: str
    end: str
    hours: int
    detected_at: str
    expected_usd: float
    actual_usd: float
    impact_usd: float
    impact_usd_per_day: float
    impact_pct: float | None
    severity: str
    max_score: float
    destinations: list[str]
    teams: list[str]
    entities: list[dict]
    max_hourly_impact_usd: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def severity_for(per_day: float) -> str:
    """The severity of an excess of ``per_day`` dollars a day (``SEVERITY``)."""
    return next((name for lo, name in SEVERITY if per_day >= lo), SEVERITY[-1][1])


def _trailing_daily_spend(panel: Panel, hours: int = 168) -> dict[str, np.ndarray]:
    """Per account and hour: the mean daily egress spend over the previous ``hours`` hours (the hours so far
    when there are fewer; the hour itself when there are none), so materiality never looks ahead."""
    accounts = panel.keys["account"].to_numpy()
    out = {}
    for account in np.unique(accounts):
        per_hour = panel.values["cost_usd"][accounts == account].sum(axis=0)
        c = np.concatenate([[0.0], np.cumsum(per_hour)])
        t = np.arange(len(per_hour))
        lo = np.maximum(t - hours, 0)
        n = t - lo
        mean = np.where(n > 0, (c[t] - c[lo]) / np.maximum(n, 1), per_hour)
        out[account] = 24.0 * mean
    return out


def _cache_hit_ratios(panel: Panel, row: int, lo: int, hi: int) -> dict:
    """A CloudFront viewer series' edge cache hit ratio during the event and over the day before it (the
    evidence a person checks first); call it only for those series, which carry request counts."""
    req, miss = panel.values["records"][row], panel.values["cache_misses"][row]
    out = {}
    for name, span in (("cache_hit_ratio", slice(lo, hi + 1)), ("cache_hit_ratio_before", slice(max(lo - 24, 0), lo))):
        n = float(req[span].sum())
        if n > 0:
            out[name] = round(1.0 - float(miss[span].sum()) / n, 3)
    return out


def _running_hours(cols: np.ndarray, lo: int, hours: int) -> np.ndarray:
    """Per hour of an event starting at column ``lo``: how many of its hours so far hold one of ``cols``."""
    flagged = np.zeros(hours, dtype=bool)
    flagged[cols - lo] = True
    return np.cumsum(flagged)


def _resource_ends(keys: pd.DataFrame) -> list[set[str]]:
    """Per series: what it shares with the series of the same cause: its entity, the gateway its bytes crossed
    (if any) and its kind of path (destination)."""
    via = keys["via"].fillna("").to_numpy() if "via" in keys else np.full(len(keys), "")
    dest = keys["destination"].fillna("").to_numpy()
    return [
        {str(e), str(v), "dest:" + str(d)} - {"", "dest:"}
        for e, v, d in zip(keys["entity"].to_numpy(), via, dest, strict=True)
    ]


def cause_groups(onsets: pd.Series, ends: list[set[str]], gap_hours: int) -> list[list[int]]:
    """The flagged series of one account, region and stretch of time (``onsets``: each one's first flagged
    column), grouped by cause. In order of onset each series joins the earliest group that began at most
    ``gap_hours`` before it or shares one of its ``ends`` (a resource or a kind of path), else it begins a group.

    One cause lights its series together (a missing endpoint, three NAT gateways within the hour), on the same
    resources (a gateway, then the instances' hops into it) or on the same kind of path (a chatty deployment's
    cross-AZ hops, instance by instance as it rolls out); a rise that begins hours into a running event, on
    other resources and another kind of path (a public bucket's downloads during a NAT gateway's day-long
    ramp), is another change with its own cause, evidence and page. Online: a series' group depends only on
    series flagged no later than it, so hourly runs form the groups whole-history scoring does.
    """
    groups: list[tuple[int, set[str], list[int]]] = []  # (start column, resources, series)
    for row, onset in sorted(onsets.items(), key=lambda rc: (rc[1], rc[0])):
        home = next((g for g in groups if onset - g[0] <= gap_hours or g[1] & ends[row]), None)
        if home is None:
            groups.append((int(onset), set(ends[row]), [row]))
        else:
            home[1].update(ends[row])
            home[2].append(row)
    return [series for _, _, series in groups]


def build_events(
    panel: Panel,
    anomalous: np.ndarray,
    score: np.ndarray,
    expected_usd: np.ndarray,
    gap_hours: int = 3,
    min_impact_usd: float = 0.0,
    min_impact_pct: float = 0.0,
    min_impact_share: float = MIN_IMPACT_SHARE,
    unpriced: np.ndarray | None = None,
) -> list[Event]:
    """Merge anomalous cells into events and keep those past every threshold: ``min_impact_usd`` and
    ``min_impact_pct`` (the user's), and ``min_impact_share`` of the account's daily egress spend over the
    previous week (materiality: a few cents on a $1,000-a-day account is noise, not an incident).

    An event is detected (``detected_at``) at the end of the first hour by which its excess so far meets
    every threshold, which is when the hourly run would first report it. Cells in ``unpriced`` were flagged
    on evidence egress dollars do not measure (the edge cache stopped serving): their events are reported
    from their first such hour whatever their priced excess. Events on $0 paths (watched origin
    fetches) have no dollar excess and are judged by the statistics alone; events that open a path to a
    region never used before are exempt from the materiality share (the user's thresholds still apply).

    An event starts at its first flagged hour. A multi-hour rule's evidence covers hours before it, but where
    a rise began among the noise cannot be told from the noise: an event stretched back over it claimed hours
    before the change, and their excess made marginal events material (bench/RESULTS.md).
    """
    rows, cols = np.nonzero(anomalous)
    if len(rows) == 0:
        return []
    judge = _Judge(
        panel, score, expected_usd, unpriced, min_impact_usd, min_impact_pct, min_impact_share,
        _trailing_daily_spend(panel),
    )  # fmt: skip
    events = (
        judge.event(account, region, part) for account, region, part in _cause_parts(panel, rows, cols, gap_hours)
    )
    return sorted((e for e in events if e is not None), key=lambda e: (e.start, e.account, e.region))


def _cause_parts(panel: Panel, rows: np.ndarray, cols: np.ndarray, gap_hours: int):
    """Flagged cells (``rows``, ``cols``) as (account, region, cells) per event: cells of an account and region
    at most ``gap_hours`` apart form a stretch, and a stretch's series are grouped by ``cause_groups``."""
    keys = panel.keys
    cells = pd.DataFrame(
        {
            "row": rows,
            "col": cols,
            "account": keys["account"].to_numpy()[rows],
            "region": keys["region"].to_numpy()[rows],
        }
    ).sort_values(["account", "region", "col"])
    ends = _resource_ends(keys)
    for (account, region), g in cells.groupby(["account", "region"], sort=True):
        hours_sorted = np.unique(g["col"].to_numpy())
        breaks = np.flatnonzero(np.diff(hours_sorted) > gap_hours)
        for seg in np.split(hours_sorted, breaks + 1):
            stretch = g[(g["col"] >= seg[0]) & (g["col"] <= seg[-1])]
            for group in cause_groups(stretch.groupby("row")["col"].min(), ends, gap_hours):
                yield account, region, stretch[stretch["row"].isin(group)]


@dataclass
class _Judge:
    """What deciding whether a group of flagged cells is an event, and when it was reported, needs."""

    panel: Panel
    score: np.ndarray
    expected_usd: np.ndarray
    unpriced: np.ndarray | None
    min_impact_usd: float
    min_impact_pct: float
    min_impact_share: float
    daily_spend: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        keys, carried = self.panel.keys, self.panel.values["bytes"] > 0
        self.first_seen = np.where(carried.any(axis=1), np.argmax(carried, axis=1), self.panel.shape[1])
        self.cross_region = (keys["peer_region"].fillna("") != "").to_numpy()
        self.viewers = cloudfront_viewer_rows(keys) & ("cache_misses" in self.panel.values)

    def event(self, account: str, region: str, part: pd.DataFrame) -> Event | None:
        """The event of these cells, or None when it never clears the thresholds or cost nothing extra."""
        cost, expected_usd = self.panel.values["cost_usd"], self.expected_usd
        lo, hi = int(part["col"].min()), int(part["col"].max())
        series = np.unique(part["row"].to_numpy())
        span, hours = slice(lo, hi + 1), hi - lo + 1
        # A series counts from the hour it is first flagged, as the hourly run would count it: one flagged later
        # must neither make the event material earlier nor bring in the deficit of hours before it rose.
        flagged_from = part.groupby("row")["col"].min().reindex(series).to_numpy() - lo
        known = np.arange(hours)[None, :] >= flagged_from[:, None]
        cost_span, expected_span = cost[series, span], expected_usd[series, span]
        cost_in, expected_in = cost_span * known, expected_span * known
        actual, expected = cost_in.sum(axis=1), expected_in.sum(axis=1)
        impact = float((actual - expected).sum())
        free = (actual == 0) & (expected == 0)
        ok, statistical, cached = self._reported(account, part, series, lo, known, cost_span, expected_span, free)
        # A group whose excess is not positive cost nothing extra (the anomaly was a dip or noise).
        if not ok.any() or (impact <= 0 and not statistical) or (impact < 0 and not cached):
            return None
        exp_total = float(expected.sum())
        pct = 100.0 * impact / exp_total if exp_total > 0 else None
        per_day = impact / hours * 24.0
        start = self.panel.hours[lo]
        ents = self._entities(part, series, actual, expected, lo, hi)
        ident = hashlib.sha256(f"{account}|{region}|{start.isoformat()}".encode()).hexdigest()[:16]
        return Event(
            id=f"evt-{ident}",
            account=str(account),
            region=str(region),
            start=start.isoformat(),
            end=(self.panel.hours[hi] + pd.Timedelta(hours=1)).isoformat(),
            hours=hours,
            detected_at=(self.panel.hours[lo + int(np.argmax(ok))] + pd.Timedelta(hours=1)).isoformat(),
            expected_usd=round(exp_total, 4),
            actual_usd=round(float(actual.sum()), 4),
            impact_usd=round(impact, 4),
            impact_usd_per_day=round(per_day, 4),
            impact_pct=round(pct, 1) if pct is not None else None,
            severity=severity_for(per_day),
            max_score=round(float(self.score[part["row"], part["col"]].max()), 4),
            destinations=sorted({e["destination"] for e in ents}),
            teams=sorted({str(e["team"]) for e in ents if e["team"]}),
            entities=ents,
            max_hourly_impact_usd=round(float((cost_in - expected_in).sum(axis=0).max()), 4),
        )

    def _reported(
        self, account: str, part: pd.DataFrame, series: np.ndarray, lo: int, known: np.ndarray,
        cost_span: np.ndarray, expected_span: np.ndarray, free: np.ndarray,
    ) -> tuple[np.ndarray, bool, bool]:  # fmt: skip
        """Per hour of the event (from column ``lo``): whether what it showed so far clears every threshold; and
        whether evidence not in dollars (a surge on a ``free`` series' $0 path, unpriced cells) counted, and
        unpriced cells among it."""
        hours = known.shape[1]
        # Cumulative excess hour by hour: the first hour that clears every threshold is when it is reported.
        # A series flagged later brings its excess since the event began, never a deficit.
        run_excess = (np.maximum(np.cumsum(cost_span - expected_span, axis=1), 0.0) * known).sum(axis=0)
        run_expected = (np.cumsum(expected_span, axis=1) * known).sum(axis=0)
        # Traffic to a region it never went to before (replication to a new region, a new cross-region
        # dependency) is a configuration change that bills from now on: reported in its first hour, however small.
        opens = (self.first_seen[series] >= lo) & self.cross_region[series]
        floor = np.where(
            (known & opens[:, None]).any(axis=0), 0.0, self.min_impact_share * float(self.daily_spend[account][lo])
        )
        run_pct = 100.0 * run_excess / np.where(run_expected > 0, run_expected, 1)
        ok = (run_excess >= np.maximum(self.min_impact_usd, floor)) & (
            (run_expected <= 0) | (run_pct >= self.min_impact_pct)
        )
        # Evidence that is not in dollars counts only while the user asked for no dollar minimum.
        # $0 paths (origin fetches) are judged by the statistics alone, whatever paid path shares the event:
        # one odd hour costs nothing, a surge that persists (a cache that stopped caching) is an incident,
        # reported at its second anomalous hour. Unpriced cells (cache misses) count from their first hour.
        rows_in, cols_in = part["row"].to_numpy(), part["col"].to_numpy()
        surge = np.zeros(hours, dtype=bool)
        cached = np.zeros(hours, dtype=bool)
        if self.min_impact_usd <= 0:
            if free.any():
                surge = _running_hours(cols_in[np.isin(rows_in, series[free])], lo, hours) >= FREE_PATH_HOURS
            if self.unpriced is not None:
                cached = _running_hours(cols_in[self.unpriced[rows_in, cols_in]], lo, hours) >= 1
        return ok | surge | cached, bool(surge.any() or cached.any()), bool(cached.any())

    def _entities(
        self, part: pd.DataFrame, series: np.ndarray, actual: np.ndarray, expected: np.ndarray, lo: int, hi: int
    ) -> list[dict]:
        """The event's series, largest excess first, with what each carried and cost over the event."""
        keys, span = self.panel.keys, slice(lo, hi + 1)
        flagged_hours = part.groupby("row")["col"].nunique()
        return [
            {
                "entity": keys["entity"].iloc[s],
                "destination": keys["destination"].iloc[s],
                "peer_region": keys["peer_region"].iloc[s],
                "team": keys["team"].iloc[s],
                "product": keys["product"].iloc[s] if "product" in keys else None,
                "usage_type": keys["usage_type"].iloc[s] if "usage_type" in keys else None,
                "via": keys["via"].iloc[s] if "via" in keys else None,
                "bytes": int(self.panel.values["bytes"][s, span].sum()),
                "anomalous_hours": int(flagged_hours.get(s, 0)),
                "expected_usd": round(float(e), 4),
                "actual_usd": round(float(a), 4),
                "impact_usd": round(float(a - e), 4),
                **(_cache_hit_ratios(self.panel, s, lo, hi) if self.viewers[s] else {}),
            }
            for s, a, e in sorted(zip(series, actual, expected, strict=True), key=lambda v: -(v[1] - v[2]))
        ]
