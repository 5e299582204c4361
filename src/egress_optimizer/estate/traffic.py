"""Traffic streams and their hourly volumes.

A *stream* is one steady relationship between a source ENI and a destination (another ENI, an AWS
service, the internet) with a baseline volume in each direction. Hourly volumes are baseline x diurnal
and weekly seasonality x growth trend x noise x legitimate spikes, plus whatever incidents add. All
later views (flow log records, CUR line items) are cut from these integer byte counts, which is what
makes the logs and the bill agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter

from egress_optimizer.estate.calendar import GEO_ZONES, REGION_ZONES, local_calendar
from egress_optimizer.estate.profiles import PROFILES, Profile
from egress_optimizer.estate.topology import Bucket, Distribution, Eni, Estate

GB = 1024**3

# Local-time offset (hours) used for each region's diurnal curve.
UTC_OFFSET = {"us-east-1": -5, "us-west-2": -8, "eu-west-1": 0, "sa-east-1": -3}
GEO_UTC_OFFSET = {"US": -6, "CA": -5, "EU": 1, "JP": 9, "AP": 8, "AU": 10, "IN": 5, "SA": -3, "ME": 3, "ZA": 2}


@dataclass
class Stream:
    id: int
    kind: str
    src: str  # ENI id, or bucket name / distribution id for request-level streams
    region: str
    out_gb_hour: float  # src -> dst at baseline
    in_gb_hour: float  # dst -> src at baseline
    profile: str = "diurnal"  # diurnal | batch | flat
    dst_eni: str | None = None
    service: str | None = None  # S3, DYNAMODB, STS, CLOUDFRONT_ORIGIN_FACING
    remote_block: str | None = None
    port: int = 443
    protocol: int = 6
    bucket: str | None = None  # S3 bucket reached by s3_* streams
    ipv6: bool = False
    growth_per_day: float = 0.004
    noise: float = 0.08
    flows_weight: float = 1.0
    incident_only: bool = False  # zero baseline; exists to carry an incident's traffic
    geo: str | None = None  # CloudFront viewer geography


@dataclass
class Volumes:
    """Integer bytes per (hour, stream), with each incident's contribution kept apart for counterfactuals."""

    hours: int
    out: np.ndarray  # int64 [hours, streams]
    inn: np.ndarray
    by_incident: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def hour_of_week(start_epoch: int, hours: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    t = start_epoch + 3600 * np.arange(hours) + offset * 3600
    hod = (t // 3600) % 24
    dow = ((t // 86400) + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    return hod, dow


def seasonal_shape(profile: str, hod: np.ndarray, dow: np.ndarray, weekend: float = 0.78) -> np.ndarray:
    if profile == "diurnal":
        day = (
            0.55
            + 0.45 * np.clip(np.sin((hod - 7) / 24 * 2 * np.pi * 0.9), -0.2, 1)
            + 0.25 * np.exp(-((hod - 20.5) ** 2) / 6)
        )
        week = np.where(dow >= 5, weekend, 1.0)
        return day * week
    if profile == "batch":
        # Nightly jobs: most volume 01:00-05:00 local, a trickle otherwise.
        return np.where((hod >= 1) & (hod < 5), 3.2, 0.35)
    return np.ones_like(hod, dtype=float)


def add_stream(streams: list[Stream], estate: Estate | None = None, **kw) -> Stream:
    """Append a traffic stream with the next id (its region is its source ENI's unless given)."""
    if "region" not in kw:
        kw["region"] = estate.eni(kw["src"]).region
    s = Stream(id=len(streams), **kw)
    streams.append(s)
    return s


def build_streams(estate: Estate, rng: np.random.Generator) -> list[Stream]:
    """Baseline streams for every workload, scaled by the estate's scale."""
    from egress_optimizer.estate.topology import INTERNET_BLOCKS, INTERNET_V6_BLOCKS, SCALES, SCANNER_BLOCKS

    vol = SCALES[estate.scale]["volume"]
    streams: list[Stream] = []

    def jitter(x: float) -> float:
        return float(x * vol * rng.uniform(0.6, 1.4))

    by_vpc: dict[str, list[Eni]] = {}
    for e in estate.enis:
        by_vpc.setdefault(e.vpc_id, []).append(e)

    for vpc in estate.vpcs:
        enis = by_vpc[vpc.id]
        dbs = [e for e in enis if e.role == "db"]
        vpce = [e for e in enis if e.kind == "vpce"]
        s3_via = "s3_endpoint" if vpc.s3_gateway_endpoint else "s3_nat"
        ddb_via = "ddb_endpoint" if vpc.ddb_gateway_endpoint else "ddb_nat"
        lake = next(b.name for b in estate.buckets if b.purpose == "data-lake")
        for e in enis:
            if e.kind == "alb":
                add_stream(
                    streams,
                    estate,
                    kind="alb_internet",
                    src=e.id,
                    out_gb_hour=jitter(2.2),
                    in_gb_hour=jitter(0.15),
                    remote_block=INTERNET_BLOCKS[int(rng.integers(0, 6))],
                    flows_weight=3.0,
                )
            elif e.role == "bastion":
                add_stream(
                    streams,
                    estate,
                    kind="scanner_reject",
                    src=e.id,
                    out_gb_hour=0.0,
                    in_gb_hour=4e-7 * vol,
                    remote_block=SCANNER_BLOCKS[int(rng.integers(0, 3))],
                    port=22,
                    profile="flat",
                    noise=0.5,
                )
            elif e.role == "web":
                if e.public_ip:
                    add_stream(
                        streams,
                        estate,
                        kind="internet_igw",
                        src=e.id,
                        out_gb_hour=jitter(0.9),
                        in_gb_hour=jitter(0.06),
                        remote_block=INTERNET_BLOCKS[int(rng.integers(0, 6))],
                        flows_weight=2.0,
                    )
                    add_stream(
                        streams,
                        estate,
                        kind="scanner_reject",
                        src=e.id,
                        out_gb_hour=0.0,
                        in_gb_hour=2e-7 * vol,
                        remote_block=SCANNER_BLOCKS[int(rng.integers(0, 3))],
                        port=22,
                        profile="flat",
                        noise=0.5,
                    )
                if e.ipv6:
                    add_stream(
                        streams,
                        estate,
                        kind="internet_v6",
                        src=e.id,
                        out_gb_hour=jitter(0.25),
                        in_gb_hour=jitter(0.02),
                        remote_block=INTERNET_V6_BLOCKS[int(rng.integers(0, 3))],
                        ipv6=True,
                    )
                add_stream(
                    streams,
                    estate,
                    kind="eni",
                    src=e.id,
                    dst_eni=dbs[e.az_index % len(dbs)].id,
                    port=6379,
                    out_gb_hour=jitter(0.05),
                    in_gb_hour=jitter(0.3),
                )
            elif e.role in ("api", "worker", "svc"):
                # Calls to the database tier: mostly same-AZ, one cross-AZ replica read path per ENI.
                same = dbs[e.az_index % len(dbs)]
                other = dbs[(e.az_index + 1) % len(dbs)]
                add_stream(
                    streams,
                    estate,
                    kind="eni",
                    src=e.id,
                    dst_eni=same.id,
                    port=5432,
                    out_gb_hour=jitter(0.08),
                    in_gb_hour=jitter(0.5),
                )
                add_stream(
                    streams,
                    estate,
                    kind="eni",
                    src=e.id,
                    dst_eni=other.id,
                    port=5432,
                    out_gb_hour=jitter(0.01),
                    in_gb_hour=jitter(0.06),
                )
                add_stream(
                    streams,
                    estate,
                    kind="internet_nat",
                    src=e.id,
                    out_gb_hour=jitter(0.12),
                    in_gb_hour=jitter(0.2),
                    remote_block=INTERNET_BLOCKS[6 + int(rng.integers(0, 6))],
                )
                add_stream(
                    streams,
                    estate,
                    kind=s3_via,
                    src=e.id,
                    service="S3",
                    out_gb_hour=jitter(0.01),
                    in_gb_hour=jitter(0.25 if e.role == "worker" else 0.05),
                    bucket=lake if vpc.region == "us-east-1" else None,
                    profile="batch" if e.role == "worker" else "diurnal",
                )
                add_stream(
                    streams,
                    estate,
                    kind=ddb_via,
                    src=e.id,
                    service="DYNAMODB",
                    out_gb_hour=jitter(0.004),
                    in_gb_hour=jitter(0.02),
                )
                if vpce:
                    ep = vpce[e.az_index % len(vpce)]
                    add_stream(
                        streams,
                        estate,
                        kind="vpce",
                        src=e.id,
                        dst_eni=ep.id,
                        service="STS",
                        out_gb_hour=jitter(0.0004),
                        in_gb_hour=jitter(0.001),
                        flows_weight=0.5,
                    )
    # Inter-region: the data platform ships curated tables from us-east-1 to us-west-2 nightly.
    data_use1 = [
        e
        for e in estate.enis
        if e.role == "worker" and e.region == "us-east-1" and estate.account(e.account).name == "prod-data"
    ]
    data_usw2 = [e for e in estate.enis if e.role == "worker" and e.region == "us-west-2"]
    for i, e in enumerate(data_use1):
        add_stream(
            streams,
            estate,
            kind="eni",
            src=e.id,
            dst_eni=data_usw2[i % len(data_usw2)].id,
            port=443,
            out_gb_hour=jitter(0.4),
            in_gb_hour=jitter(0.01),
            profile="batch",
        )
    # The web tier in eu-west-1 calls the platform API in eu-west-1 (another account, same region).
    web_euw1 = [
        e
        for e in estate.enis
        if e.role == "api" and e.region == "eu-west-1" and estate.account(e.account).name == "prod-web"
    ]
    plat_euw1 = [
        e
        for e in estate.enis
        if e.role == "api" and e.region == "eu-west-1" and estate.account(e.account).name == "prod-platform"
    ]
    for i, e in enumerate(web_euw1):
        add_stream(
            streams,
            estate,
            kind="eni",
            src=e.id,
            dst_eni=plat_euw1[i % len(plat_euw1)].id,
            port=8443,
            out_gb_hour=jitter(0.03),
            in_gb_hour=jitter(0.1),
        )
    _request_streams(estate, streams, jitter)
    return streams


def _request_streams(estate: Estate, streams: list[Stream], jitter) -> None:
    """S3 and CloudFront request-level streams: their records are S3 access and CloudFront log lines."""
    for b in estate.buckets:
        if b.purpose in ("public-datasets", "public-downloads"):
            add_stream(
                streams,
                kind="s3_internet_get",
                src=b.name,
                region=b.region,
                out_gb_hour=jitter(0.8 if b.purpose == "public-datasets" else 0.3),
                in_gb_hour=0.0,
                noise=0.2,
            )
        elif b.replicate_to:
            # Uploads to a replicated bucket: nightly exports, or daytime deploys of static assets.
            exports = b.purpose == "exports"
            add_stream(
                streams,
                kind="s3_put",
                src=b.name,
                region=b.region,
                out_gb_hour=0.0,
                in_gb_hour=jitter(0.6 if exports else 0.08),
                profile="batch" if exports else "diurnal",
                noise=0.15,
            )
    for d in estate.distributions:
        for geo, share in d.geo_mix.items():
            add_stream(
                streams,
                kind="cf_viewer",
                src=d.id,
                region="global",
                geo=geo,
                out_gb_hour=jitter(6.0 * share),
                in_gb_hour=0.0,
                noise=0.06,
            )


def add_alb_origin_streams(estate: Estate, streams: list[Stream]) -> dict[str, list[int]]:
    """Streams that carry CloudFront origin fetches from each ALB ENI (volume set from CloudFront misses)."""
    out: dict[str, list[int]] = {}
    for e in estate.enis:
        if e.kind == "alb":
            s = add_stream(
                streams,
                estate,
                kind="alb_cf_origin",
                src=e.id,
                service="CLOUDFRONT_ORIGIN_FACING",
                out_gb_hour=0.0,
                in_gb_hour=0.0,
                incident_only=True,
                flows_weight=2.0,
            )
            out.setdefault(e.resource_id, []).append(s.id)
    return out


# Weekend (and public holiday) level of daytime traffic by team: shoppers browse more at weekends, batch
# platforms and internal tools idle. Used by profiles with team-specific weeks; otherwise every team gets 0.78.
TEAM_WEEKEND = {"storefront": 1.12, "data-platform": 0.6, "platform": 0.85}


def baseline_volumes(
    estate: Estate,
    streams: list[Stream],
    start_epoch: int,
    hours: int,
    rng: np.random.Generator,
    spikes: list[dict],
    profile: Profile = PROFILES["clean"],
) -> Volumes:
    out = np.zeros((hours, len(streams)), dtype=np.int64)
    inn = np.zeros((hours, len(streams)), dtype=np.int64)
    days = np.arange(hours) / 24.0
    calendars: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for s in streams:
        if s.incident_only:
            continue
        hod, dow = _calendar(s, start_epoch, hours, profile, calendars)
        weekend = TEAM_WEEKEND.get(_team(estate, s), 0.78) if profile.team_weeks else 0.78
        shape = seasonal_shape(s.profile, hod, dow, weekend)
        growth_per_day = s.growth_per_day
        if profile.growth_per_day is not None:
            growth_per_day = float(rng.uniform(*profile.growth_per_day))
        growth = (1 + growth_per_day) ** days
        mult = shape * growth * _noise(s.noise, hours, rng, profile)
        for sp in spikes:
            if s.src in sp["enis"] and s.kind in sp["kinds"]:
                lo, hi = sp["start_hour"], sp["end_hour"]
                mult[lo:hi] *= sp["factor"]
        out[:, s.id] = np.round(s.out_gb_hour * GB * mult).astype(np.int64)
        inn[:, s.id] = np.round(s.in_gb_hour * GB * mult).astype(np.int64)
    return Volumes(hours, out, inn)


def _calendar(s: Stream, start_epoch: int, hours: int, profile: Profile, cache: dict) -> tuple[np.ndarray, np.ndarray]:
    """Local hour of day and day of week (public holidays count as Sundays) for a stream's users."""
    if not profile.local_time:
        offset = GEO_UTC_OFFSET[s.geo] if s.geo else UTC_OFFSET.get(s.region, 0)
        return hour_of_week(start_epoch, hours, offset)
    zone = GEO_ZONES[s.geo] if s.geo else REGION_ZONES.get(s.region, "UTC")
    if zone not in cache:
        hod, dow, holiday = local_calendar(start_epoch, hours, zone)
        cache[zone] = (hod, np.where(holiday, 6, dow))
    return cache[zone]


def stream_source(estate: Estate, s: Stream) -> Eni | Bucket | Distribution:
    """What a stream starts at: a CloudFront distribution, a bucket (request-level streams) or an ENI."""
    for d in estate.distributions:
        if d.id == s.src:
            return d
    for b in estate.buckets:
        if b.name == s.src:
            return b
    return estate.eni(s.src)


def _team(estate: Estate, s: Stream) -> str:
    """The team whose users drive a stream: the tag on its source."""
    return stream_source(estate, s).tags.get("team", "")


def _noise(sigma: float, hours: int, rng: np.random.Generator, profile: Profile) -> np.ndarray:
    """Multiplicative noise with mean 1 and log-scale spread ``sigma``: i.i.d. lognormal, or (profiles with
    ``ar_phi``) an AR(1) process in log space driven by Student-t innovations, so bad hours cluster and a few
    are far out."""
    if not profile.t_df:
        return rng.lognormal(mean=-(sigma**2) / 2, sigma=sigma, size=hours)
    phi = float(rng.uniform(*profile.ar_phi))
    df = int(rng.choice(profile.t_df))
    shocks = rng.standard_t(df, size=hours) / np.sqrt(df / (df - 2)) * sigma * np.sqrt(1 - phi**2)
    shocks[0] /= np.sqrt(1 - phi**2)  # start in the stationary distribution
    x = lfilter([1.0], [1.0, -phi], shocks)  # x[t] = phi * x[t-1] + shocks[t]
    # A heavy tail, not an incident: noise alone stays within about 6x either way.
    return np.exp(np.clip(x, -1.8, 1.8) - sigma**2 / 2)
