"""Benign changes a real estate is full of, none of them incidents.

- *Bursts* on a single resource, unscheduled and of varied size and length: a batch job pulling a dataset
  through NAT, a crawler walking a public bucket or a storefront, a client retry storm against an API's
  upstream.
- *Run-rate changes*: a legitimate, lasting level shift (a customer onboarded, a new consumer of an API).
  A user wants to hear of one once, as a change in run-rate, and never again as an incident.

Each is a multiplier on one stream's volume over a window, in the same form as the releases and backfills of
``incidents.legitimate_spikes`` (``enis`` holds the stream source, ``kinds`` its stream kind).
"""

from __future__ import annotations

import numpy as np

from egress_optimizer.estate.topology import Bucket, Eni, Estate
from egress_optimizer.estate.traffic import Stream, stream_source

# kind: (stream kinds it can lift, source roles, factor range, duration range in hours)
BURSTS = {
    "batch_job": ({"internet_nat"}, {"worker", "svc"}, (2.0, 5.0), (2, 9)),
    "crawler": ({"alb_internet", "s3_internet_get"}, {"alb", "public-datasets"}, (1.5, 3.0), (1, 6)),
    "retry_storm": ({"internet_nat"}, {"api"}, (3.0, 6.0), (1, 3)),
}
RUN_RATE_CHANGES = (
    ("customer_onboarded", {"alb_internet"}, {"alb"}),
    ("new_api_consumer", {"internet_nat"}, {"api"}),
)


def _role(estate: Estate, s: Stream) -> str:
    """An ENI's role, a bucket's purpose, or ``distribution``."""
    src = stream_source(estate, s)
    return src.role if isinstance(src, Eni) else src.purpose if isinstance(src, Bucket) else "distribution"


def _candidates(estate: Estate, streams: list[Stream], kinds: set[str], roles: set[str]) -> list[Stream]:
    return [s for s in streams if s.kind in kinds and not s.incident_only and _role(estate, s) in roles]


def resources_of(estate: Estate, s: Stream) -> list[str]:
    """What a change on stream ``s`` lifts, as detection names it: the source resource (and its ENI), plus the
    NAT gateway that carries NAT traffic."""
    e = stream_source(estate, s)
    if not isinstance(e, Eni):
        return [s.src]
    out = [e.resource_id, e.id]
    if s.kind == "internet_nat":
        out.insert(0, estate.nat_for(e.vpc_id, e.az_index).id)
    return out


def bursts(estate: Estate, streams: list[Stream], hours: int, rng: np.random.Generator, per_week: float) -> list[dict]:
    """Unscheduled benign bursts, about ``per_week`` a week, each on one stream."""
    out = []
    for _ in range(int(rng.poisson(per_week * hours / 168))):
        kind = str(rng.choice(sorted(BURSTS)))
        kinds, roles, (f_lo, f_hi), (d_lo, d_hi) = BURSTS[kind]
        pool = _candidates(estate, streams, kinds, roles)
        if not pool:
            continue
        s = pool[int(rng.integers(0, len(pool)))]
        dur = int(rng.integers(d_lo, d_hi))
        start = int(rng.integers(0, max(hours - dur, 1)))
        out.append(_change(estate, s, kind, start, min(start + dur, hours), float(rng.uniform(f_lo, f_hi))))
    return out


def run_rate_changes(estate: Estate, streams: list[Stream], hours: int, rng: np.random.Generator, n: int) -> list[dict]:
    """Lasting level shifts from a time in the middle of the period to its end."""
    out = []
    for kind, kinds, roles in RUN_RATE_CHANGES[:n]:
        pool = _candidates(estate, streams, kinds, roles)
        if not pool or hours < 48:
            continue
        s = pool[int(rng.integers(0, len(pool)))]
        start = int(rng.integers(int(hours * 0.4), int(hours * 0.75)))
        out.append(_change(estate, s, kind, start, hours, float(rng.uniform(1.4, 1.9))))
    return out


def _change(estate: Estate, s: Stream, kind: str, start: int, end: int, factor: float) -> dict:
    return {
        "kind": kind,
        "start_hour": start,
        "end_hour": end,
        "factor": factor,
        "enis": {s.src},
        "kinds": {s.kind},
        "accounts": [stream_source(estate, s).account],
        "regions": [s.region],
        "resources": resources_of(estate, s),
    }
