"""What AWS bills for the estate's traffic: usage records per hour, priced with the library's catalog.

Usage is derived from the very byte counts the logs were cut from (stream volumes for flows, request
records for S3 and CloudFront), so the CUR agrees with the logs by construction; each usage row keeps
the incident that caused it, which gives every incident an exact counterfactual dollar impact.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from egress_optimizer import usage_types as ut
from egress_optimizer.estate.flow_records import FLOW_KINDS
from egress_optimizer.estate.incidents import Incident
from egress_optimizer.estate.topology import Eni, Estate
from egress_optimizer.estate.traffic import GB, Stream, Volumes
from egress_optimizer.pricing import PriceCatalog, TierMeter

COLUMNS = [
    "hour",
    "account",
    "region",
    "product",
    "usage_type",
    "operation",
    "resource_id",
    "amount",
    "unit",
    "rate",
    "meter",
    "to_region",
    "incident_id",
]

INSTANCE_TYPES = {
    "web": "m6i.large",
    "api": "m6i.xlarge",
    "worker": "r6i.2xlarge",
    "db": "r6g.xlarge",
    "bastion": "t3.micro",
}


def resource_arn(estate: Estate, e: Eni) -> str:
    if e.kind == "nat":
        return f"arn:aws:ec2:{e.region}:{e.account}:natgateway/{e.resource_id}"
    if e.kind == "alb":
        return f"arn:aws:elasticloadbalancing:{e.region}:{e.account}:loadbalancer/{e.resource_id}"
    if e.kind == "vpce":
        return f"arn:aws:ec2:{e.region}:{e.account}:vpc-endpoint/{e.resource_id}"
    return e.resource_id


class UsageBuilder:
    def __init__(self, estate: Estate, catalog: PriceCatalog):
        self.estate = estate
        self.catalog = catalog
        self.parts: list[pd.DataFrame] = []

    def add(
        self,
        hours: np.ndarray,
        amount: np.ndarray,
        *,
        account: str,
        region: str,
        product: str,
        usage_type: str,
        operation: str,
        resource_id: str,
        unit: str = "GB",
        rate: float = 0.0,
        meter: str = "",
        to_region: str = "",
        incident_id: str = "",
    ) -> None:
        keep = amount > 0
        if not keep.any():
            return
        n = int(keep.sum())
        self.parts.append(
            pd.DataFrame(
                {
                    "hour": hours[keep].astype(np.int64),
                    "account": account,
                    "region": region,
                    "product": product,
                    "usage_type": usage_type,
                    "operation": operation,
                    "resource_id": resource_id,
                    "amount": amount[keep].astype(float),
                    "unit": unit,
                    "rate": rate,
                    "meter": meter,
                    "to_region": to_region,
                    "incident_id": incident_id,
                },
                index=range(n),
            )
        )

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(columns=COLUMNS)
        return pd.concat(self.parts, ignore_index=True)[COLUMNS]


def _split_by_incident(vol: Volumes, sid: int, direction: int) -> list[tuple[str, np.ndarray]]:
    """(incident id or '', bytes per hour) pieces of one stream's volume in one direction."""
    total = (vol.out if direction == 0 else vol.inn)[:, sid].astype(np.int64)
    pieces, rest = [], total.copy()
    for iid, parts in vol.by_incident.items():
        part = parts[direction][:, sid]
        if part.any():
            pieces.append((iid, part.astype(np.int64)))
            rest = rest - part
    pieces.append(("", rest))
    return pieces


def flow_usage(b: UsageBuilder, streams: list[Stream], vol: Volumes) -> None:
    est, cat = b.estate, b.catalog
    hours = np.arange(vol.hours)
    for s in streams:
        if s.kind not in FLOW_KINDS or s.kind == "scanner_reject":
            continue
        e = est.eni(s.src)
        res = resource_arn(est, e)
        for direction in (0, 1):
            for iid, bytes_h in _split_by_incident(vol, s.id, direction):
                gb = bytes_h / GB
                if not gb.any():
                    continue
                out = direction == 0
                common = dict(incident_id=iid)
                if s.kind in ("alb_internet", "internet_igw", "internet_v6"):
                    product = "AWSELB" if s.kind == "alb_internet" else "AmazonEC2"
                    op = "LoadBalancing:Application" if product == "AWSELB" else "RunInstances"
                    if out:
                        b.add(
                            hours,
                            gb,
                            account=e.account,
                            region=e.region,
                            product=product,
                            usage_type=ut.internet_out(e.region, product),
                            operation=op,
                            resource_id=res,
                            meter="internet",
                            **common,
                        )
                    else:
                        b.add(
                            hours,
                            gb,
                            account=e.account,
                            region=e.region,
                            product=product,
                            usage_type=ut.internet_in(e.region, product),
                            operation=op,
                            resource_id=res,
                            **common,
                        )
                elif s.kind == "alb_cf_origin":
                    if out:
                        b.add(
                            hours,
                            gb,
                            account=e.account,
                            region=e.region,
                            product="AWSELB",
                            usage_type=ut.to_cloudfront(e.region, "AWSELB"),
                            operation="LoadBalancing:Application",
                            resource_id=res,
                            **common,
                        )
                elif s.kind in ("internet_nat", "s3_nat", "ddb_nat"):
                    nat = est.nat_for(e.vpc_id, e.az_index)
                    nat_res = f"arn:aws:ec2:{nat.region}:{nat.account}:natgateway/{nat.id}"
                    if nat.az_index != e.az_index:
                        # Reaching a NAT gateway in another AZ adds inter-AZ transfer, billed once per byte to
                        # the instance (the gateway is a managed service and pays no inbound side).
                        b.add(
                            hours,
                            gb,
                            account=e.account,
                            region=e.region,
                            product="AmazonEC2",
                            usage_type=ut.regional(e.region),
                            operation="InterZone-Out" if out else "InterZone-In",
                            resource_id=res,
                            rate=cat.inter_az_each_direction,
                            **common,
                        )
                    b.add(
                        hours,
                        gb,
                        account=nat.account,
                        region=nat.region,
                        product="AmazonEC2",
                        usage_type=ut.nat_bytes(nat.region),
                        operation="NatGateway",
                        resource_id=nat_res,
                        rate=cat.nat_per_gb(nat.region),
                        **common,
                    )
                    if s.kind == "internet_nat":
                        usage = ut.internet_out if out else ut.internet_in
                        b.add(
                            hours,
                            gb,
                            account=nat.account,
                            region=nat.region,
                            product="AmazonEC2",
                            usage_type=usage(nat.region, "AmazonEC2"),
                            operation="NatGateway",
                            resource_id=nat_res,
                            meter="internet" if out else "",
                            **common,
                        )
                elif s.kind == "vpce":
                    ep = est.eni(s.dst_eni)
                    b.add(
                        hours,
                        gb,
                        account=ep.account,
                        region=ep.region,
                        product="AmazonVPC",
                        usage_type=ut.vpc_endpoint_bytes(ep.region),
                        operation="VpcEndpoint",
                        resource_id=resource_arn(est, ep),
                        rate=cat.interface_endpoint_per_gb,
                        **common,
                    )
                elif s.kind == "eni":
                    f = est.eni(s.dst_eni)
                    sender, receiver = (e, f) if out else (f, e)
                    if e.region != f.region:
                        b.add(
                            hours,
                            gb,
                            account=sender.account,
                            region=sender.region,
                            product="AmazonEC2",
                            usage_type=ut.inter_region_out(sender.region, receiver.region),
                            operation="InterRegion-Outbound",
                            resource_id=resource_arn(est, sender),
                            rate=cat.inter_region(sender.region, receiver.region),
                            to_region=receiver.region,
                            **common,
                        )
                        b.add(
                            hours,
                            gb,
                            account=receiver.account,
                            region=receiver.region,
                            product="AmazonEC2",
                            usage_type=ut.inter_region_in(receiver.region, sender.region),
                            operation="InterRegion-Inbound",
                            resource_id=resource_arn(est, receiver),
                            **common,
                        )
                    elif e.az_index != f.az_index:
                        for party in (sender, receiver):
                            b.add(
                                hours,
                                gb,
                                account=party.account,
                                region=party.region,
                                product="AmazonEC2",
                                usage_type=ut.regional(party.region),
                                operation="InterZone-Out" if party is sender else "InterZone-In",
                                resource_id=resource_arn(est, party),
                                rate=cat.inter_az_each_direction,
                                **common,
                            )
                # same-AZ and gateway-endpoint traffic is free and not in the CUR.


def s3_usage(b: UsageBuilder, s3: pd.DataFrame) -> None:
    est, cat = b.estate, b.catalog
    if s3.empty:
        return
    s3 = s3.assign(hour=(s3.t - b.start_epoch) // 3600)
    for (bucket, src, iid), g in s3.groupby(["bucket", "source", "incident_id"]):
        bk = est.bucket(bucket)
        h = g.hour.to_numpy()
        if src == "internet":
            gb = np.bincount(h, weights=g.bytes_sent.fillna(0), minlength=b.hours) / GB
            b.add(
                np.arange(b.hours),
                gb,
                account=bk.account,
                region=bk.region,
                product="AmazonS3",
                usage_type=ut.internet_out(bk.region, "AmazonS3"),
                operation="GetObject",
                resource_id=bucket,
                meter="internet",
                incident_id=iid,
            )
        elif src == "replication_read":
            for dst_name, gg in g.groupby("replica_to"):
                dst = est.bucket(dst_name)
                gb = np.bincount(gg.hour, weights=gg.object_size, minlength=b.hours) / GB
                b.add(
                    np.arange(b.hours),
                    gb,
                    account=bk.account,
                    region=bk.region,
                    product="AmazonS3",
                    usage_type=ut.inter_region_out(bk.region, dst.region),
                    operation="S3-Replication",
                    resource_id=bucket,
                    rate=cat.inter_region(bk.region, dst.region),
                    to_region=dst.region,
                    incident_id=iid,
                )
        elif src == "cloudfront_origin":
            gb = np.bincount(h, weights=g.bytes_sent, minlength=b.hours) / GB
            b.add(
                np.arange(b.hours),
                gb,
                account=bk.account,
                region=bk.region,
                product="AmazonS3",
                usage_type=ut.to_cloudfront(bk.region, "AmazonS3"),
                operation="GetObject",
                resource_id=bucket,
                incident_id=iid,
            )
        gets = g.method.isin(["GET", "HEAD"]).to_numpy()
        for mask, usage, rate in (
            (gets, ut.s3_get_requests(bk.region), cat.s3_get_per_1000 / 1000),
            (~gets, ut.s3_put_requests(bk.region), cat.s3_put_per_1000 / 1000),
        ):
            if mask.any() and src != "replication_read":
                cnt = np.bincount(h[mask], minlength=b.hours).astype(float)
                b.add(
                    np.arange(b.hours),
                    cnt,
                    account=bk.account,
                    region=bk.region,
                    product="AmazonS3",
                    usage_type=usage,
                    operation="GetObject" if usage.endswith("Tier2") else "PutObject",
                    resource_id=bucket,
                    unit="Requests",
                    rate=rate,
                    incident_id=iid,
                )


def cloudfront_usage(b: UsageBuilder, cf: pd.DataFrame) -> None:
    est, cat = b.estate, b.catalog
    if cf.empty:
        return
    dists = {d.id: d for d in est.distributions}
    for (dist_id, geo), g in cf.groupby(["distribution", "geo"]):
        d = dists[dist_id]
        arn = f"arn:aws:cloudfront::{d.account}:distribution/{d.id}"
        h = g.hour.to_numpy()
        gb = np.bincount(h, weights=g.sc_bytes, minlength=b.hours) / GB
        b.add(
            np.arange(b.hours),
            gb,
            account=d.account,
            region="global",
            product="AmazonCloudFront",
            usage_type=ut.cloudfront_out(geo),
            operation="GET",
            resource_id=arn,
            meter=f"cloudfront:{geo}",
        )
        cnt = np.bincount(h, minlength=b.hours).astype(float)
        b.add(
            np.arange(b.hours),
            cnt,
            account=d.account,
            region="global",
            product="AmazonCloudFront",
            usage_type=ut.cloudfront_https_requests(geo),
            operation="GET",
            resource_id=arn,
            unit="Requests",
            rate=cat.cloudfront_https_per_10000(geo) / 10000,
        )


def fixed_usage(b: UsageBuilder, streams: list[Stream], vol: Volumes) -> None:
    """Hourly charges that exist whatever the traffic: NAT gateways, endpoints, load balancers, instances."""
    est, cat = b.estate, b.catalog
    ones = np.ones(b.hours)
    hours = np.arange(b.hours)
    for nat in est.nats:
        b.add(
            hours,
            ones,
            account=nat.account,
            region=nat.region,
            product="AmazonEC2",
            usage_type=ut.nat_hours(nat.region),
            operation="NatGateway",
            resource_id=f"arn:aws:ec2:{nat.region}:{nat.account}:natgateway/{nat.id}",
            unit="Hrs",
            rate=cat.nat_per_hour(nat.region),
        )
    for e in est.enis:
        if e.kind == "vpce":
            b.add(
                hours,
                ones,
                account=e.account,
                region=e.region,
                product="AmazonVPC",
                usage_type=ut.vpc_endpoint_hours(e.region),
                operation="VpcEndpoint",
                resource_id=resource_arn(est, e),
                unit="Hrs",
                rate=cat.interface_endpoint_per_hour_per_az,
            )
        elif e.kind == "ec2":
            itype = INSTANCE_TYPES.get(e.role, "m6i.large")
            b.add(
                hours,
                ones,
                account=e.account,
                region=e.region,
                product="AmazonEC2",
                usage_type=ut.box_usage(e.region, itype),
                operation="RunInstances",
                resource_id=e.resource_id,
                unit="Hrs",
                rate={
                    "m6i.large": 0.096,
                    "m6i.xlarge": 0.192,
                    "r6i.2xlarge": 0.504,
                    "r6g.xlarge": 0.2016,
                    "t3.micro": 0.0104,
                }[itype],
            )
    albs: dict[str, list[int]] = {}
    for s in streams:
        if s.kind in ("alb_internet", "alb_cf_origin"):
            albs.setdefault(est.eni(s.src).resource_id, []).append(s.id)
    for alb, sids in sorted(albs.items()):
        e = next(x for x in est.enis if x.resource_id == alb)
        arn = resource_arn(est, e)
        b.add(
            hours,
            ones,
            account=e.account,
            region=e.region,
            product="AWSELB",
            usage_type=ut.alb_hours(e.region),
            operation="LoadBalancing:Application",
            resource_id=arn,
            unit="Hrs",
            rate=cat.alb_hour,
        )
        # LCUs follow processed bytes; each incident's share of those bytes is kept apart.
        processed: dict[str, np.ndarray] = {}
        for sid in sids:
            for direction in (0, 1):
                for iid, part in _split_by_incident(vol, sid, direction):
                    processed[iid] = processed.get(iid, np.zeros(b.hours)) + part / GB
        for iid, gb in sorted(processed.items()):
            b.add(
                hours,
                np.maximum(gb, 0.0),
                account=e.account,
                region=e.region,
                product="AWSELB",
                usage_type=ut.alb_lcu(e.region),
                operation="LoadBalancing:Application",
                resource_id=arn,
                unit="LCU-Hrs",
                rate=cat.lcu_hour,
                incident_id=iid,
            )


class UnloggedService(NamedTuple):
    """A service whose data transfer AWS bills but that writes no log this tool reads (no flow log sees a managed
    database's replication, API Gateway's responses or a Lambda function's calls out of AWS)."""

    product: str
    account_name: str
    region: str
    to_region: str | None  # None: the internet
    gb_per_hour: float  # at volume 1
    resource: str  # ARN template ({region}, {account})


UNLOGGED_SERVICES = (
    UnloggedService(
        "AmazonRDS", "prod-data", "us-east-1", "us-west-2", 0.4, "arn:aws:rds:{region}:{account}:db:orders-replica-src"
    ),
    UnloggedService(
        "AmazonApiGateway", "prod-platform", "us-east-1", None, 0.25, "arn:aws:apigateway:{region}::/restapis/k3x9f2"
    ),
    UnloggedService(
        "AWSLambda", "prod-web", "eu-west-1", None, 0.08, "arn:aws:lambda:{region}:{account}:function:image-resizer"
    ),
)


def service_resource(estate: Estate, svc: UnloggedService) -> str:
    return svc.resource.format(region=svc.region, account=estate.account_named(svc.account_name).id)


def unlogged_usage(b: UsageBuilder, start_epoch: int, hours: int, rng: np.random.Generator) -> None:
    """Data transfer of the services in ``UNLOGGED_SERVICES``: daytime-shaped, noisy, at the estate's volume."""
    from egress_optimizer.estate.topology import SCALES
    from egress_optimizer.estate.traffic import hour_of_week, seasonal_shape

    scale = SCALES[b.estate.scale]["volume"]
    hod, dow = hour_of_week(start_epoch, hours, -5)
    shape = seasonal_shape("diurnal", hod, dow)
    for svc in UNLOGGED_SERVICES:
        gb = svc.gb_per_hour * scale * shape * rng.lognormal(-0.02, 0.2, hours)
        where = dict(
            account=b.estate.account_named(svc.account_name).id,
            region=svc.region,
            product=svc.product,
            resource_id=service_resource(b.estate, svc),
            operation="",
        )
        if svc.to_region:
            usage_type, rate = (
                ut.inter_region_out(svc.region, svc.to_region),
                b.catalog.inter_region(svc.region, svc.to_region),
            )
            b.add(np.arange(hours), gb, usage_type=usage_type, rate=rate, to_region=svc.to_region, **where)
        else:
            b.add(np.arange(hours), gb, usage_type=ut.internet_out(svc.region, svc.product), meter="internet", **where)


def build_usage(
    estate: Estate,
    catalog: PriceCatalog,
    streams: list[Stream],
    vol: Volumes,
    s3: pd.DataFrame,
    cf: pd.DataFrame,
    start_epoch: int,
    unlogged_rng: np.random.Generator | None = None,
) -> pd.DataFrame:
    """Every billed usage row; with ``unlogged_rng``, also the services no log shows."""
    b = UsageBuilder(estate, catalog)
    b.start_epoch, b.hours = start_epoch, vol.hours
    flow_usage(b, streams, vol)
    s3_usage(b, s3)
    cloudfront_usage(b, cf)
    fixed_usage(b, streams, vol)
    if unlogged_rng is not None:
        unlogged_usage(b, start_epoch, vol.hours, unlogged_rng)
    usage = b.frame()
    return usage.sort_values(
        ["hour", "account", "region", "usage_type", "resource_id", "incident_id"], kind="stable"
    ).reset_index(drop=True)


def price(usage: pd.DataFrame, catalog: PriceCatalog, payer: str, start_epoch: int) -> pd.DataFrame:
    """Line items: usage merged across incidents, tiered meters split where a tier boundary is crossed."""
    keys = [
        "hour",
        "account",
        "region",
        "product",
        "usage_type",
        "operation",
        "resource_id",
        "unit",
        "rate",
        "meter",
        "to_region",
    ]
    merged = usage.groupby(keys, sort=False, as_index=False)["amount"].sum()
    merged = merged.sort_values(["hour", "account", "region", "usage_type", "resource_id"], kind="stable")
    flat = merged[merged.meter == ""].assign(tier=np.nan)
    tiered = merged[merged.meter != ""]
    rows = []
    meter = TierMeter()
    month = pd.to_datetime(start_epoch + tiered.hour.to_numpy() * 3600, unit="s").strftime("%Y-%m")
    for r, m in zip(tiered.itertuples(index=False), month, strict=True):
        if r.meter == "internet":
            tiers, free_key, free = (
                catalog.internet_egress_tiers(r.region),
                (payer, m, "internet"),
                catalog.internet_free_gb,
            )
            key = (payer, m, r.region)
        else:
            geo = r.meter.split(":", 1)[1]
            tiers, free_key, free = catalog.cloudfront_tiers(geo), (payer, m, "cloudfront"), catalog.cloudfront_free_gb
            key = (payer, m, r.meter)
        for sl in meter.consume(key, r.amount, tiers, free_key, free):
            d = r._asdict()
            d.update(amount=sl.gb, rate=sl.rate, tier=sl.tier_index)
            rows.append(d)
    out = pd.concat([flat, pd.DataFrame(rows, columns=[*keys, "amount", "tier"])], ignore_index=True)
    out["cost"] = out.amount * out.rate
    return out.sort_values(
        ["hour", "account", "region", "usage_type", "resource_id", "tier"], kind="stable"
    ).reset_index(drop=True)


def total_cost(usage: pd.DataFrame, catalog: PriceCatalog, payer: str, start_epoch: int) -> float:
    return float(price(usage, catalog, payer, start_epoch).cost.sum())


def incident_impacts(
    usage: pd.DataFrame,
    incidents: list[Incident],
    catalog: PriceCatalog,
    payer: str,
    start_epoch: int,
    line_items: pd.DataFrame,
) -> None:
    """Dollar impact = bill with the incident minus bill without it; magnitude = extra over baseline bytes."""
    actual = float(line_items.cost.sum())
    for inc in incidents:
        mine = usage.incident_id == inc.id
        inc.dollar_impact_usd = round(actual - total_cost(usage[~mine], catalog, payer, start_epoch), 4)
        extra = usage[mine & (usage.unit == "GB")]
        keys = set(zip(extra.operation, extra.resource_id, strict=True))
        window = (usage.hour >= inc.start_hour) & (usage.hour < inc.end_hour) & ~mine & (usage.unit == "GB")
        same = usage[window]
        if inc.kind == "cloudfront_cache_hit_collapse":
            # The affected series is the origin fetch volume.
            same = same[same.usage_type.str.endswith("CloudFront-Out-Bytes")]
            extra = extra[extra.usage_type.str.endswith("CloudFront-Out-Bytes")]
        else:
            same = same[[k in keys for k in zip(same.operation, same.resource_id, strict=True)]]
        base = float(same.amount.sum())
        inc.magnitude_pct = round(100.0 * float(extra.amount.sum()) / base, 1) if base > 0 else None
        hours_in = max(inc.end_hour - inc.start_hour, 1)
        inc.dollar_impact_per_day_usd = round(inc.dollar_impact_usd * 24.0 / hours_in, 4)
