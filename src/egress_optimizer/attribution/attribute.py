"""Price every byte and say who paid for it.

Each billable transfer is counted once, where AWS bills it:
- internet egress on the ENI that reaches the internet gateway (NAT gateway, load balancer, instance with
  a public address, or IPv6 from any ENI), never again on the instance behind a NAT gateway;
- NAT gateway processing on the gateway's ENI, attributed to the instance on its private side;
- inter-AZ on both ENIs (AWS bills each direction at each end), and once for an instance reaching a NAT
  gateway in another AZ;
- inter-region on the sending ENI; interface endpoint processing on the endpoint's ENI;
- S3 internet egress and replication from S3 access logs; CloudFront by edge geography.
Every row carries its usage type as the CUR spells it, so the result reconciles line by line with the bill.
Internet and CloudFront volume tiers accumulate per payer, month and region as AWS bills them.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from egress_optimizer import usage_types as ut
from egress_optimizer.attribution.inventory import Inventory
from egress_optimizer.cloudfront_edges import geography
from egress_optimizer.ipranges import IpRanges
from egress_optimizer.pricing import PriceCatalog, TierMeter

GIB = 1024**3
COLUMNS = [
    "hour",
    "account",
    "region",
    "product",
    "usage_type",
    "resource_id",
    "team",
    "app",
    "destination",
    "peer_region",
    "peer",  # the other end (IP address of the peer or client) for distinct-peer features
    "bytes",
    "packets",
    "records",
    "gb",
]


def _peer_table(con: duckdb.DuckDBPyConnection, ranges: IpRanges) -> None:
    """Classify every distinct peer address once: AWS service and region, internet, or private."""
    peers = (
        con.sql("SELECT DISTINCT peer FROM flows WHERE peer IS NOT NULL").to_arrow_table().to_pandas()["peer"].tolist()
    )
    owners = ranges.owners(peers)
    df = pd.DataFrame(
        {
            "peer": peers,
            "aws_service": [o.service if o else None for o in owners],
            "aws_region": [o.region if o else None for o in owners],
            "is_global": [_is_global(a) for a in peers],
        }
    )
    con.register("peers", df)


FLOW_SQL = """
WITH f AS (
  SELECT v.*, e.account AS eni_account, e.region AS eni_region, e.az_id AS eni_az, e.kind AS eni_kind,
         e.resource_arn AS eni_resource, e.team AS eni_team, e.app AS eni_app, e.public_ip AS eni_public,
         e.ip AS eni_ip,
         coalesce(v.flow_direction,
                  CASE WHEN v.srcaddr = e.ip OR list_contains(e.ipv6, v.srcaddr) THEN 'egress' ELSE 'ingress' END)
           AS direction
  FROM vpc_flow v JOIN enis e ON v.interface_id = e.interface_id
  WHERE v.log_status = 'OK' AND v.bytes IS NOT NULL
), g AS (
  SELECT f.*,
         CASE WHEN direction = 'egress' THEN coalesce(pkt_dstaddr, dstaddr) ELSE coalesce(pkt_srcaddr, srcaddr) END
           AS peer,
         -- the address on the other side of this hop (for the NAT gateway's private side)
         CASE WHEN direction = 'egress' THEN dstaddr ELSE srcaddr END AS hop_peer
  FROM f
)
SELECT g.*, date_trunc('hour', g.start) AS hour FROM g
"""


def attribute_flows(con: duckdb.DuckDBPyConnection, inv: Inventory, ranges: IpRanges) -> pd.DataFrame:
    con.register("enis", inv.enis)
    con.execute(f"CREATE OR REPLACE TEMP VIEW flows AS {FLOW_SQL}")
    _peer_table(con, ranges)
    df = (
        con.sql("""
      SELECT f.hour, f.direction, f.eni_kind, f.eni_account, f.eni_region, f.eni_az, f.eni_resource, f.eni_team,
             f.eni_app, f.eni_public, f.type, f.peer, f.hop_peer, f.bytes, f.packets,
             p.aws_service, p.aws_region, p.is_global,
             pe.account AS peer_account, pe.region AS peer_region_eni, pe.az_id AS peer_az, pe.kind AS peer_kind,
             pe.resource_arn AS peer_resource, pe.team AS peer_team, pe.app AS peer_app,
             he.account AS hop_account, he.region AS hop_region, he.az_id AS hop_az, he.kind AS hop_kind,
             he.resource_arn AS hop_resource, he.team AS hop_team, he.app AS hop_app
      FROM flows f
      LEFT JOIN peers p ON f.peer = p.peer
      LEFT JOIN enis pe ON f.peer = pe.ip
      LEFT JOIN enis he ON f.hop_peer = he.ip
    """)
        .to_arrow_table()
        .to_pandas()
    )
    out: list[pd.DataFrame] = []

    def emit(mask: pd.Series, *, account, region, product, usage, resource, team, app, dest, peer_region=None):
        sub = df[mask]
        if sub.empty:
            return
        out.append(
            pd.DataFrame(
                {
                    "hour": sub.hour,
                    "account": _col(sub, account),
                    "region": _col(sub, region),
                    "product": product,
                    "usage_type": _col(sub, usage),
                    "resource_id": _col(sub, resource),
                    "team": _col(sub, team),
                    "app": _col(sub, app),
                    "destination": _col(sub, dest),
                    "peer_region": _col(sub, peer_region) if peer_region else None,
                    "peer": sub.peer.to_numpy(),
                    "bytes": sub.bytes.to_numpy(),
                    "packets": sub.packets.to_numpy(),
                    "records": 1,
                    "gb": sub.bytes / GIB,
                }
            )
        )

    egress = df.direction == "egress"
    internet = df.is_global & df.aws_service.isna() & df.peer_account.isna()
    direct = df.eni_kind.isin(["nat", "alb"]) | df.eni_public.notna() | (df.type == "IPv6") | df.peer.str.contains(":")
    # Internet egress where it leaves AWS (the NAT gateway, a load balancer, a public instance, or IPv6).
    m = egress & internet & direct
    product = np.where(df.eni_kind == "alb", "AWSELB", "AmazonEC2")
    df["_internet_usage"] = [ut.internet_out(r, p) for r, p in zip(df.eni_region, product, strict=True)]
    df["_product"] = product
    emit(
        m & (df.eni_kind == "alb"),
        account="eni_account",
        region="eni_region",
        product="AWSELB",
        usage="_internet_usage",
        resource="eni_resource",
        team="eni_team",
        app="eni_app",
        dest="=internet",
    )
    emit(
        m & (df.eni_kind != "alb"),
        account="eni_account",
        region="eni_region",
        product="AmazonEC2",
        usage="_internet_usage",
        resource="eni_resource",
        team="eni_team",
        app="eni_app",
        dest="=internet",
    )
    # NAT gateway processing: the gateway's private side, attributed to the instance behind it.
    nat_private = (df.eni_kind == "nat") & df.hop_account.notna()
    df["_nat_usage"] = [ut.nat_bytes(r) for r in df.eni_region]
    df["_nat_dest"] = np.where(
        df.aws_service.notna(), "aws-service:" + df.aws_service.fillna("") + " via NAT", "internet via NAT"
    )
    emit(
        nat_private,
        account="eni_account",
        region="eni_region",
        product="AmazonEC2",
        usage="_nat_usage",
        resource="eni_resource",
        team="hop_team",
        app="hop_app",
        dest="_nat_dest",
    )
    # Inter-AZ: both ends pay for each direction, on the ENI that logs it; an instance reaching a NAT gateway in
    # another AZ pays once, seen on the gateway's ENI.
    both_known = df.peer_account.notna() & (df.peer_region_eni == df.eni_region)
    cross = both_known & (df.peer_az != df.eni_az) & (df.eni_kind != "nat") & (df.peer_kind != "nat")
    df["_regional_usage"] = [ut.regional(r) for r in df.eni_region]
    emit(
        cross,
        account="eni_account",
        region="eni_region",
        product="AmazonEC2",
        usage="_regional_usage",
        resource="eni_resource",
        team="eni_team",
        app="eni_app",
        dest="=cross-az",
    )
    nat_cross = nat_private & (df.hop_az != df.eni_az) & (df.hop_region == df.eni_region)
    emit(
        nat_cross,
        account="hop_account",
        region="hop_region",
        product="AmazonEC2",
        usage="_regional_usage",
        resource="hop_resource",
        team="hop_team",
        app="hop_app",
        dest="=cross-az to NAT",
    )
    # Inter-region: on the sending ENI, priced by the pair.
    inter = egress & df.peer_account.notna() & (df.peer_region_eni != df.eni_region)
    df["_ir_usage"] = [
        ut.inter_region_out(a, b) if isinstance(b, str) else None
        for a, b in zip(df.eni_region, df.peer_region_eni, strict=True)
    ]
    emit(
        inter,
        account="eni_account",
        region="eni_region",
        product="AmazonEC2",
        usage="_ir_usage",
        resource="eni_resource",
        team="eni_team",
        app="eni_app",
        dest="=inter-region",
        peer_region="peer_region_eni",
    )
    # Interface endpoints: bytes processed in both directions on the endpoint's ENI.
    vpce = (df.eni_kind == "vpce") & df.hop_account.notna()
    df["_vpce_usage"] = [ut.vpc_endpoint_bytes(r) for r in df.eni_region]
    emit(
        vpce,
        account="eni_account",
        region="eni_region",
        product="AmazonVPC",
        usage="_vpce_usage",
        resource="eni_resource",
        team="hop_team",
        app="hop_app",
        dest="=interface endpoint",
    )
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=COLUMNS)


def _col(sub: pd.DataFrame, spec: str | None):
    if spec is None:
        return None
    if spec.startswith("="):
        return spec[1:]
    return sub[spec].to_numpy()


def _is_global(a: object) -> bool:
    import ipaddress

    try:
        return isinstance(a, str) and ipaddress.ip_address(a).is_global
    except ValueError:
        return False


def attribute_s3(con: duckdb.DuckDBPyConnection, inv: Inventory, ranges: IpRanges) -> pd.DataFrame:
    """S3 internet egress (bytes sent to non-AWS addresses) per bucket and client, and replication (replica
    writes by the replication role, priced from the source bucket's region to the destination's)."""
    df = (
        con.sql("""
      SELECT date_trunc('hour', s.time) AS hour, s.bucket, s.remote_ip, s.requester, s.operation,
             coalesce(s.bytes_sent, 0) AS bytes_sent, coalesce(s.object_size, 0) AS object_size
      FROM s3_access s
    """)
        .to_arrow_table()
        .to_pandas()
    )
    buckets = inv.buckets.set_index("bucket")
    owners = ranges.owners(df.remote_ip.where(df.remote_ip != "-", None).tolist())
    internet = np.array([o is None and _is_global(a) for o, a in zip(owners, df.remote_ip, strict=True)])
    rows = []
    sel = df[internet & df.bucket.isin(buckets.index)]
    for (hour, bucket, ip), g in sel.groupby(["hour", "bucket", "remote_ip"]):
        b = buckets.loc[bucket]
        rows.append(
            {
                "hour": hour,
                "account": b.account,
                "region": b.region,
                "product": "AmazonS3",
                "usage_type": ut.internet_out(b.region, "AmazonS3"),
                "resource_id": bucket,
                "team": b.team,
                "app": b.app,
                "destination": "internet",
                "peer_region": None,
                "peer": ip,
                "bytes": int(g.bytes_sent.sum()),
                "packets": None,
                "records": len(g),
                "gb": g.bytes_sent.sum() / GIB,
            }
        )
    role_of = df.requester.str.extract(r"assumed-role/([^/]+)/")[0]
    # Replica writes name the replication role; the role says which bucket they came from (a rule removed
    # since, such as a misconfiguration that was fixed, is no longer in the configuration, but its role is).
    source_of_role = dict(zip(inv.replication.role, inv.replication.source_bucket, strict=True))
    writes = df[(df.operation == "REST.PUT.OBJECT") & role_of.isin(source_of_role)]
    for (hour, bucket, role), g in writes.groupby([writes.hour, writes.bucket, role_of[writes.index]]):
        src = source_of_role[role]
        if src not in buckets.index or bucket not in buckets.index:
            continue
        sb, db = buckets.loc[src], buckets.loc[bucket]
        rows.append(
            {
                "hour": hour,
                "account": sb.account,
                "region": sb.region,
                "product": "AmazonS3",
                "usage_type": ut.inter_region_out(sb.region, db.region),
                "resource_id": src,
                "team": sb.team,
                "app": sb.app,
                "destination": "replication",
                "peer_region": db.region,
                "peer": bucket,
                "bytes": int(g.object_size.sum()),
                "packets": None,
                "records": len(g),
                "gb": g.object_size.sum() / GIB,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def attribute_cloudfront(con: duckdb.DuckDBPyConnection, inv: Inventory) -> pd.DataFrame:
    """CloudFront data transfer per distribution, edge geography and client."""
    df = (
        con.sql("""
      SELECT date_trunc('hour', timestamp) AS hour, distribution_id, edge_location, c_ip,
             CAST(sum(sc_bytes) AS BIGINT) AS bytes, count(*) AS records
      FROM cloudfront GROUP BY ALL
    """)
        .to_arrow_table()
        .to_pandas()
    )
    dists = inv.distributions.set_index("distribution_id")
    df["geo"] = [geography(e) for e in df.edge_location]
    df = df.dropna(subset=["geo"])
    g = df.groupby(["hour", "distribution_id", "geo", "c_ip"], as_index=False)[["bytes", "records"]].sum()
    d = dists.reindex(g.distribution_id)
    return pd.DataFrame(
        {
            "hour": g.hour,
            "account": d.account.to_numpy(),
            "region": "global",
            "product": "AmazonCloudFront",
            "usage_type": [ut.cloudfront_out(x) for x in g.geo],
            "resource_id": d.arn.to_numpy(),
            "team": d.team.to_numpy(),
            "app": d.app.to_numpy(),
            "destination": "cloudfront:" + g.geo,
            "peer_region": None,
            "peer": g.c_ip,
            "bytes": g.bytes.astype("int64"),
            "packets": None,
            "records": g.records.astype("int64"),
            "gb": g.bytes / GIB,
        }
    )[COLUMNS]


def price(rows: pd.DataFrame, catalog: PriceCatalog, payer: str) -> pd.DataFrame:
    """Dollars per row; internet and CloudFront through AWS's monthly tiers, in time order."""
    rows = rows.sort_values(["hour", "account", "region", "usage_type", "resource_id"], kind="stable").reset_index(
        drop=True
    )
    usd = np.zeros(len(rows))
    meter = TierMeter()
    for i, r in enumerate(rows.itertuples(index=False)):
        u, month = r.usage_type, pd.Timestamp(r.hour).strftime("%Y-%m")
        if r.product == "AmazonCloudFront":
            geo = u.split("-", 1)[0]
            usd[i] = sum(
                s.cost
                for s in meter.consume(
                    (payer, month, geo),
                    r.gb,
                    catalog.cloudfront_tiers(geo),
                    (payer, month, "cloudfront"),
                    catalog.cloudfront_free_gb,
                )
            )
        elif u.endswith("DataTransfer-Out-Bytes"):
            usd[i] = sum(
                s.cost
                for s in meter.consume(
                    (payer, month, r.region),
                    r.gb,
                    catalog.internet_egress_tiers(r.region),
                    (payer, month, "internet"),
                    catalog.internet_free_gb,
                )
            )
        elif u.endswith("NatGateway-Bytes"):
            usd[i] = r.gb * catalog.nat_per_gb(r.region)
        elif u.endswith("Regional-Bytes"):
            usd[i] = r.gb * catalog.inter_az_each_direction
        elif u.endswith("AWS-Out-Bytes"):
            usd[i] = r.gb * catalog.inter_region(r.region, r.peer_region) if r.peer_region else 0.0
        elif u.endswith("VpcEndpoint-Bytes"):
            usd[i] = r.gb * catalog.interface_endpoint_per_gb
    rows["usd"] = usd
    return rows
