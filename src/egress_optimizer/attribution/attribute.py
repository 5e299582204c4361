"""Price every byte and say who paid for it.

Each billable transfer is counted once, where AWS bills it:
- internet egress on the ENI that reaches the internet gateway (NAT gateway, load balancer, instance with
  a public address, or IPv6 from any ENI), never again on the instance behind a NAT gateway;
- NAT gateway processing on the gateway's ENI, attributed to the instance on its private side and labelled by
  the far end of the translation (``aws-service:S3 via NAT``, ``other_cloud via NAT``, ``internet via NAT``);
- inter-AZ on both ENIs (AWS bills each direction at each end), and once for an instance reaching a NAT
  gateway in another AZ;
- inter-region on the sending ENI; interface endpoint processing on the endpoint's ENI;
- on-premises (private space outside every VPC routed to a virtual private gateway or to a transit gateway
  with a Direct Connect/VPN attachment, or a CIDR declared in the networks file) on the sending ENI, at the
  Direct Connect rate or, over VPN, as internet egress;
- transit gateway processing on the attachment that sends into the gateway (its ENI's flow records, or the
  transit gateway's own flow logs when they cover the attachment), attributed to the sending resource;
  traffic through a transit gateway pays no inter-AZ charge (AWS dropped it on 2022-04-01), inter-region
  transfer over TGW peering still applies on the sending ENI;
- S3 internet egress and replication from S3 access logs; CloudFront by edge geography;
- CloudFront origin fetches (a load balancer, an instance or a bucket sending to CloudFront's addresses) on the
  origin, at the catalog's $0 rate under the CUR's ``...CloudFront-Out-Bytes``, so their volume is visible.
Internet egress to Google Cloud, Azure or Oracle ranges is labelled ``other_cloud`` (billed as internet).
Every row carries its usage type as the CUR spells it, so the result reconciles line by line with the bill.
Internet and CloudFront volume tiers accumulate per payer, month and region as AWS bills them.
Destination classes are listed in ``attribution.destinations``.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from egress_optimizer import usage_types as ut
from egress_optimizer.attribution import destinations as dst
from egress_optimizer.attribution.inventory import Inventory
from egress_optimizer.cloudfront_edges import geography
from egress_optimizer.ipranges import IpRanges
from egress_optimizer.networks import ON_PREMISES, OTHER_CLOUD, Networks
from egress_optimizer.tables import CLOUDFRONT, S3_ACCESS, VPC_FLOW

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


CACHE_MISSES = "cache_misses"  # CloudFront rows only (null elsewhere): requests that missed the edge cache
# The gateway the bytes crossed to reach their peer when it is not the resource that pays (null elsewhere): the NAT
# gateway an instance reaches in another AZ, so what moves on that hop names the gateway it loads.
VIA = "via"

PEER_COLUMNS = [
    "peer",
    "aws_service",
    "aws_region",
    "is_global",
    "in_vpc",
    "net_kind",
    "net_name",
    "net_via",
    "net_dx",
    "cloudfront",
]
# ip-ranges.json services whose addresses are CloudFront (origin fetches come from the origin-facing ranges).
CLOUDFRONT_SERVICES = ("CLOUDFRONT", "CLOUDFRONT_ORIGIN_FACING")


def _peer_table(
    con: duckdb.DuckDBPyConnection, ranges: IpRanges, networks: Networks, inv: Inventory, cache: dict | None = None
) -> pd.DataFrame:
    """Classify every distinct peer address once: AWS service and region, internet, private, inside a VPC CIDR
    of the inventory, and the declared or published network (on-premises site, other cloud) it belongs to.
    ``cache`` (peer -> classification) carries what earlier batches of the same run found."""
    peers = (
        con.sql("""
      SELECT peer FROM flows WHERE peer IS NOT NULL
      UNION SELECT far FROM flows WHERE far IS NOT NULL AND eni_kind = 'nat'
    """)
        .to_arrow_table()
        .to_pandas()["peer"]
        .tolist()
    )
    cache = cache if cache is not None else {}
    fresh = [p for p in peers if p not in cache]
    if fresh:
        owners = ranges.owners(fresh)
        nets = networks.lookup(fresh)
        in_vpc = inv.topology.in_any_vpc(fresh)
        cloudfront = _cloudfront(ranges, fresh, owners)
        for p, o, n, v, cf in zip(fresh, owners, nets, in_vpc, cloudfront, strict=True):
            cache[p] = (
                o.service if o else None,
                o.region if o else None,
                _is_global(p),
                bool(v),
                n.kind if n else None,
                n.name if n else None,
                n.via if n else None,
                n.dx_location if n else None,
                bool(cf),
            )
    rows = [(p, *cache[p]) for p in peers]
    df = pd.DataFrame(rows, columns=PEER_COLUMNS) if rows else pd.DataFrame(columns=PEER_COLUMNS)
    df = df.astype({"is_global": bool, "in_vpc": bool, "cloudfront": bool})
    con.register("peers", df)
    return df


def _cloudfront(ranges: IpRanges, addresses: list, owners: list) -> list[bool]:
    """Whether each address is CloudFront's: published for CLOUDFRONT_ORIGIN_FACING (even where an equally
    specific prefix of another service is named its owner) or for CLOUDFRONT."""
    distinct = list({a for a in addresses if isinstance(a, str) and a})
    facing = dict(zip(distinct, ranges.in_service(distinct, "CLOUDFRONT_ORIGIN_FACING"), strict=True))
    return [
        facing.get(a, False) or (o is not None and o.service in CLOUDFRONT_SERVICES)
        for a, o in zip(addresses, owners, strict=True)
    ]


FLOW_SQL = f"""
WITH f AS (
  SELECT v.*, e.account AS eni_account, e.region AS eni_region, e.az_id AS eni_az, e.kind AS eni_kind,
         e.resource_arn AS eni_resource, e.team AS eni_team, e.app AS eni_app, e.public_ip AS eni_public,
         e.ip AS eni_ip, e.vpc_id AS eni_vpc, e.subnet_id AS eni_subnet,
         coalesce(v.flow_direction,
                  CASE WHEN v.srcaddr = e.ip OR list_contains(e.ipv6, v.srcaddr) THEN 'egress' ELSE 'ingress' END)
           AS direction
  FROM {VPC_FLOW.name} v JOIN enis e ON v.interface_id = e.interface_id
  WHERE v.log_status = 'OK' AND v.bytes IS NOT NULL
), g AS (
  SELECT f.*,
         CASE WHEN direction = 'egress' THEN coalesce(pkt_dstaddr, dstaddr) ELSE coalesce(pkt_srcaddr, srcaddr) END
           AS peer,
         -- the address on the other side of this hop (for the NAT gateway's private side)
         CASE WHEN direction = 'egress' THEN dstaddr ELSE srcaddr END AS hop_peer,
         -- the far end of a translated hop (on the NAT gateway's private side: where the instance's bytes go)
         CASE WHEN direction = 'egress' THEN coalesce(pkt_srcaddr, srcaddr) ELSE coalesce(pkt_dstaddr, dstaddr) END
           AS far
  FROM f
)
SELECT g.*, date_trunc('hour', g.start) AS hour FROM g
"""


def attribute_flows(
    con: duckdb.DuckDBPyConnection,
    inv: Inventory,
    ranges: IpRanges,
    networks: Networks | None = None,
    peer_cache: dict | None = None,
) -> pd.DataFrame:
    networks = networks if networks is not None else Networks.load()
    enis = inv.enis if "subnet_id" in inv.enis.columns else inv.enis.assign(subnet_id=None)
    con.register("enis", enis)
    con.execute(f"CREATE OR REPLACE TEMP VIEW flows AS {FLOW_SQL}")
    peers = _peer_table(con, ranges, networks, inv, peer_cache)
    df = (
        con.sql("""
      SELECT f.hour, f.direction, f.eni_kind, f.eni_account, f.eni_region, f.eni_az, f.eni_resource, f.eni_team,
             f.eni_app, f.eni_public, f.eni_vpc, f.eni_subnet, f.type, f.peer, f.hop_peer, f.bytes, f.packets,
             f.far, f.eni_ip, f.srcport, f.dstport, f.protocol, f.start,
             p.aws_service, p.aws_region, coalesce(p.is_global, false) AS is_global,
             coalesce(p.cloudfront, false) AS to_cloudfront,
             coalesce(p.in_vpc, false) AS in_vpc, p.net_kind, p.net_name, p.net_via, p.net_dx,
             pe.account AS peer_account, pe.region AS peer_region_eni, pe.az_id AS peer_az, pe.kind AS peer_kind,
             pe.vpc_id AS peer_vpc, pe.resource_arn AS peer_resource, pe.team AS peer_team, pe.app AS peer_app,
             pf.aws_service AS far_service, pf.net_kind AS far_net_kind, pf.net_name AS far_net_name,
             he.account AS hop_account, he.region AS hop_region, he.az_id AS hop_az, he.kind AS hop_kind,
             he.resource_arn AS hop_resource, he.team AS hop_team, he.app AS hop_app
      FROM flows f
      LEFT JOIN peers p ON f.peer = p.peer
      LEFT JOIN enis pe ON f.peer = pe.ip
      LEFT JOIN enis he ON f.hop_peer = he.ip
      LEFT JOIN peers pf ON f.far = pf.peer AND f.eni_kind = 'nat'
    """)
        .to_arrow_table()
        .to_pandas()
    )
    out: list[pd.DataFrame] = []

    def emit(
        mask: pd.Series,
        *,
        account,
        region,
        product,
        usage,
        resource,
        team,
        app,
        dest,
        peer_region=None,
        peer="peer",
        via=None,
    ):
        sub = df[mask]
        if sub.empty:
            return
        out.append(
            pd.DataFrame(
                {
                    "hour": sub.hour,
                    "account": _col(sub, account),
                    "region": _col(sub, region),
                    "product": _col(sub, product),
                    "usage_type": _col(sub, usage),
                    "resource_id": _col(sub, resource),
                    "team": _col(sub, team),
                    "app": _col(sub, app),
                    "destination": _col(sub, dest),
                    "peer_region": _col(sub, peer_region) if peer_region else None,
                    "peer": _col(sub, peer),
                    VIA: _col(sub, via) if via else None,
                    "bytes": sub.bytes.to_numpy(),
                    "packets": sub.packets.to_numpy(),
                    "records": 1,
                    "gb": sub.bytes / GIB,
                }
            )
        )

    egress = df.direction == "egress"
    tgw_eni = df.eni_kind == "tgw"  # an attachment's ENI: priced by _tgw_processing, never as an endpoint
    internet = df.is_global & df.aws_service.isna() & df.peer_account.isna() & ~df.to_cloudfront
    direct = df.eni_kind.isin(["nat", "alb"]) | df.eni_public.notna() | (df.type == "IPv6") | df.peer.str.contains(":")
    direct = direct & ~tgw_eni
    # Where public bytes go: a declared on-premises range, another cloud's range, or the internet at large.
    df["_public_dest"] = np.select(
        [df.net_kind == ON_PREMISES, df.net_kind == OTHER_CLOUD], [dst.ON_PREMISES, dst.OTHER_CLOUD], dst.INTERNET
    )
    df["_public_peer"] = np.where(df.net_kind.notna(), df.net_name, None)
    # Internet egress where it leaves AWS (the NAT gateway, a load balancer, a public instance, or IPv6).
    m = egress & internet & direct
    # A load balancer's bytes are billed to Elastic Load Balancing, everything else's to EC2.
    df["_eni_product"] = np.where(df.eni_kind == "alb", "AWSELB", "AmazonEC2")
    df["_internet_usage"] = _per_value(ut.internet_out, df.eni_region, df._eni_product)
    emit(
        m,
        account="eni_account",
        region="eni_region",
        product="_eni_product",
        usage="_internet_usage",
        resource="eni_resource",
        team="eni_team",
        app="eni_app",
        dest="_public_dest",
        peer_region="_public_peer",
    )
    # CloudFront origin fetches: what the origin sends to CloudFront is billed at $0 (AWS origins) under
    # ...CloudFront-Out-Bytes, on the origin (the load balancer, the instance, or the NAT gateway that sends it).
    df["_cf_usage"] = _per_value(ut.to_cloudfront, df.eni_region, df._eni_product)
    emit(
        egress & df.to_cloudfront & direct,
        account="eni_account",
        region="eni_region",
        product="_eni_product",
        usage="_cf_usage",
        resource="eni_resource",
        team="eni_team",
        app="eni_app",
        dest="=" + dst.CLOUDFRONT_ORIGIN,
    )
    # NAT gateway processing: the gateway's private side, attributed to the instance behind it. On that side the
    # peer is the instance; where the bytes go is the far end of the translation (pkt-dstaddr of what arrives
    # from the instance, pkt-srcaddr of the responses sent back to it; dstaddr/srcaddr when they carry it), so
    # the label and the peer come from there: S3 or DynamoDB behind the gateway, another cloud, the internet.
    nat_private = (df.eni_kind == "nat") & df.hop_account.notna()
    df["_nat_usage"] = _per_value(ut.nat_bytes, df.eni_region)
    far_known = df.far.notna() & (df.far != df.eni_ip) & (df.far != df.hop_peer)
    if (nat_private & ~far_known).any():
        _far_from_instances(df, nat_private & ~far_known, peers)
        far_known = df.far.notna() & (df.far != df.eni_ip) & (df.far != df.hop_peer)
    service = df.far_service.where(far_known)
    far_dest = np.select(
        [far_known & (df.far_net_kind == ON_PREMISES), far_known & (df.far_net_kind == OTHER_CLOUD)],
        [dst.ON_PREMISES, dst.OTHER_CLOUD],
        dst.INTERNET,
    )
    df["_nat_dest"] = np.where(
        service.notna(), "aws-service:" + service.fillna("") + dst.VIA_NAT, far_dest + dst.VIA_NAT
    )
    df["_nat_peer"] = np.where(far_known & df.far_net_kind.notna(), df.far_net_name, None)
    df["_far_peer"] = df.far.where(far_known, df.peer)
    emit(
        nat_private,
        account="eni_account",
        region="eni_region",
        product="=AmazonEC2",
        usage="_nat_usage",
        resource="eni_resource",
        team="hop_team",
        app="hop_app",
        dest="_nat_dest",
        peer_region="_nat_peer",
        peer="_far_peer",
    )
    # Routing facts for the flows that need them: private peers outside the inventory (on-premises?) and known
    # peers in another VPC (through a transit gateway, which pays no inter-AZ charge).
    sender = egress & ~df.eni_kind.isin(["nat", "vpce", "tgw"]) & df.peer_account.isna() & df.aws_service.isna()
    onprem_candidate = sender & ((~df.is_global & ~df.in_vpc) | (df.net_kind == ON_PREMISES))
    if inv.topology.has_routes:
        _route_columns(df, onprem_candidate | (df.peer_account.notna() & (df.peer_vpc != df.eni_vpc)), inv)
    else:  # without route tables only declared on-premises CIDRs can be decided
        _route_columns(df, onprem_candidate & (df.net_kind == ON_PREMISES), inv)
    # Inter-AZ: both ends pay for each direction, on the ENI that logs it; an instance reaching a NAT gateway in
    # another AZ pays once, seen on the gateway's ENI.
    both_known = df.peer_account.notna() & (df.peer_region_eni == df.eni_region)
    cross = both_known & (df.peer_az != df.eni_az) & (df.eni_kind != "nat") & (df.peer_kind != "nat")
    cross = cross & ~tgw_eni & (df.peer_kind != "tgw") & (df._route_kind != "tgw")
    df["_regional_usage"] = _per_value(ut.regional, df.eni_region)
    emit(
        cross,
        account="eni_account",
        region="eni_region",
        product="=AmazonEC2",
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
        product="=AmazonEC2",
        usage="_regional_usage",
        resource="hop_resource",
        team="hop_team",
        app="hop_app",
        dest="=cross-az to NAT",
        peer="_far_peer",
        via="eni_resource",  # the record is the gateway's: its ENI names it
    )
    # Inter-region: on the sending ENI, priced by the pair (also over transit gateway peering).
    inter = egress & df.peer_account.notna() & (df.peer_region_eni != df.eni_region) & ~tgw_eni
    df["_ir_usage"] = _per_value(
        lambda a, b: ut.inter_region_out(a, b) if b else None, df.eni_region, df.peer_region_eni
    )
    emit(
        inter,
        account="eni_account",
        region="eni_region",
        product="=AmazonEC2",
        usage="_ir_usage",
        resource="eni_resource",
        team="eni_team",
        app="eni_app",
        dest="=inter-region",
        peer_region="peer_region_eni",
    )
    # Interface endpoints: bytes processed in both directions on the endpoint's ENI.
    vpce = (df.eni_kind == "vpce") & df.hop_account.notna()
    df["_vpce_usage"] = _per_value(ut.vpc_endpoint_bytes, df.eni_region)
    emit(
        vpce,
        account="eni_account",
        region="eni_region",
        product="=AmazonVPC",
        usage="_vpce_usage",
        resource="eni_resource",
        team="hop_team",
        app="hop_app",
        dest="=interface endpoint",
    )
    # On-premises: on the sending ENI, over Direct Connect at the DX rate, over VPN as EC2 data transfer out.
    onprem = onprem_candidate & df._onprem_via.notna()
    df["_dx_usage"] = _per_value(ut.direct_connect_out, df.eni_region, df.net_dx)
    df["_vpn_usage"] = _per_value(lambda r: ut.internet_out(r, "AmazonEC2"), df.eni_region)
    for via, product_code, usage in (
        ("direct_connect", "AWSDirectConnect", "_dx_usage"),
        ("vpn", "AmazonEC2", "_vpn_usage"),
    ):
        emit(
            onprem & (df._onprem_via == via),
            account="eni_account",
            region="eni_region",
            product="=" + product_code,
            usage=usage,
            resource="eni_resource",
            team="eni_team",
            app="eni_app",
            dest="=" + dst.ON_PREMISES,
            peer_region="_onprem_site",
        )
    tgw = _tgw_processing(con, inv)
    if not tgw.empty:
        out.append(tgw)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=COLUMNS)


def _far_from_instances(df: pd.DataFrame, unknown: pd.Series, peers: pd.DataFrame) -> None:
    """The far end of NAT-translated records that do not carry it (version 2 flow logs, the default format, have
    no pkt-* fields: on the gateway's private side dstaddr/srcaddr is the gateway itself). The instance's own ENI
    logs the same connection addressed to the far end with the same ports, so the far end (and its class) is
    taken from there: same instance address, instance port, remote port, protocol and hour. A busy instance
    reuses an ephemeral port within the hour, so when several connections share those keys the one whose
    record starts closest in time (then carries the closest byte count) is the same connection."""
    keys = ["_inst", "_iport", "_rport", "protocol", "hour"]
    ports = df.srcport.notna() & df.dstport.notna()
    unknown = unknown & ports
    if not unknown.any():
        return
    into_nat = df.direction == "ingress"  # on the gateway's ENI: from the instance
    nat = pd.DataFrame(
        {
            "_inst": df.hop_peer,
            "_iport": df.srcport.where(into_nat, df.dstport),
            "_rport": df.dstport.where(into_nat, df.srcport),
            "protocol": df.protocol,
            "hour": df.hour,
            "_start": df.start,
            "_bytes": df.bytes,
            "_up": into_nat,
        }
    )[unknown]
    sent = df.direction == "egress"  # on the instance's ENI: to the far end
    mine = (df.eni_kind != "nat") & ports & df.hop_peer.notna() & df.eni_ip.isin(set(nat._inst.dropna()))
    inst = pd.DataFrame(
        {
            "_inst": df.eni_ip,
            "_iport": df.srcport.where(sent, df.dstport),
            "_rport": df.dstport.where(sent, df.srcport),
            "protocol": df.protocol,
            "hour": df.hour,
            "_remote": df.hop_peer,
            "_istart": df.start,
            "_ibytes": df.bytes,
            "_iup": sent,
        }
    )[mine]
    if inst.empty:
        return
    public = {a: _is_global(a) for a in inst._remote.unique()}
    inst = inst[inst._remote.map(public).astype(bool)]
    cand = nat.reset_index().merge(inst, on=keys, how="inner")
    if cand.empty:
        return
    # Rank the candidates of each gateway record: nearest start, then the same direction's byte count.
    cand["_gap"] = (cand._start - cand._istart).abs()
    same_way = cand._up == cand._iup
    cand["_diff"] = np.where(same_way, (cand._bytes - cand._ibytes).abs(), np.iinfo(np.int64).max)
    found = cand.sort_values(["index", "_gap", "_diff"]).drop_duplicates("index").set_index("index")
    cls = peers.set_index("peer").reindex(found._remote)
    df.loc[found.index, "far"] = found._remote.to_numpy()
    for col, src in (("far_service", "aws_service"), ("far_net_kind", "net_kind"), ("far_net_name", "net_name")):
        df.loc[found.index, col] = cls[src].to_numpy()


def _route_columns(df: pd.DataFrame, need: pd.Series, inv: Inventory) -> None:
    """Add the route each flow of ``need`` takes (``_route_kind``) and, for on-premises candidates, the link
    (``_onprem_via``: direct_connect, vpn or None) and the site label (``_onprem_site``).

    Rules, per (VPC, subnet, peer): a route to a virtual private gateway is on-premises; a route to a transit
    gateway is when the peer is in no VPC CIDR and is declared or the gateway has a DX/VPN attachment; any
    other route (local, internet/NAT gateway, peering, endpoint) is not. Without a route table, only declared
    private CIDRs are (declared public space reached without route evidence may be crossing a NAT gateway, so
    those bytes stay internet egress, labelled on_premises). A declared ``via`` overrides the inferred link.
    """
    topo = inv.topology
    df["_route_kind"] = None
    df["_onprem_via"] = None
    df["_onprem_site"] = None
    if not need.any():
        return
    sub = df.loc[need]
    # One decision per (VPC, subnet, peer); string keys because missing values (NaN) never compare equal.
    key = sub.eni_vpc.fillna("") + "|" + sub.eni_subnet.fillna("") + "|" + sub.peer.fillna("")
    first = sub.assign(key_=key).drop_duplicates("key_")
    route_kind, via, site = {}, {}, {}
    for k in first.itertuples(index=False):
        peer = _str(k.peer)
        target = topo.route(_str(k.eni_vpc), _str(k.eni_subnet), peer) if topo.has_routes and peer else None
        declared = k.net_kind == ON_PREMISES
        declared_via = _str(k.net_via) if declared else None
        link = topo.link(target)
        chosen: str | None = None
        if target is None:
            if declared and not k.is_global and not k.in_vpc:
                chosen = declared_via or "direct_connect"
        elif target.kind == "vgw":
            chosen = declared_via or link
        elif target.kind == "tgw" and not k.in_vpc and (declared or link):
            chosen = declared_via or link or "direct_connect"
        route_kind[k.key_] = target.kind if target else None
        via[k.key_] = chosen
        site[k.key_] = (_str(k.net_name) if declared else None) or (target.id if target else None)
    df.loc[need, "_route_kind"] = key.map(route_kind).to_numpy()
    df.loc[need, "_onprem_via"] = key.map(via).to_numpy()
    df.loc[need, "_onprem_site"] = key.map(site).to_numpy()


def _str(v: object) -> str | None:
    return v if isinstance(v, str) and v else None


TGW_ENI_SQL = f"""
SELECT date_trunc('hour', v.start) AS hour, e.account, e.region, e.resource_id AS attachment,
       e.resource_arn AS attachment_arn, e.team AS eni_team, e.app AS eni_app,
       coalesce(v.pkt_srcaddr, v.srcaddr) AS src, coalesce(v.pkt_dstaddr, v.dstaddr) AS dst, v.bytes, v.packets,
       se.resource_arn AS src_resource, se.team AS src_team, se.app AS src_app,
       CASE WHEN coalesce(v.pkt_dstaddr, v.dstaddr) = e.ip THEN NULL ELSE de.region END AS dst_region
FROM {VPC_FLOW.name} v JOIN enis e ON v.interface_id = e.interface_id
LEFT JOIN enis se ON coalesce(v.pkt_srcaddr, v.srcaddr) = se.ip
LEFT JOIN enis de ON coalesce(v.pkt_dstaddr, v.dstaddr) = de.ip
WHERE e.kind = 'tgw' AND v.log_status = 'OK' AND v.bytes IS NOT NULL
  -- addressed to the attachment's ENI: sent from inside this VPC into the transit gateway (the ENI forwards
  -- traffic out of the gateway with its own address as srcaddr)
  AND (v.dstaddr = e.ip OR list_contains(e.ipv6, v.dstaddr))
"""

TGW_LOG_SQL = f"""
SELECT date_trunc('hour', v.start) AS hour, v.account_id, v.region, v.tgw_attachment_id AS attachment,
       v.tgw_src_vpc_account_id, v.tgw_src_vpc_id, v.flow_direction,
       coalesce(v.pkt_srcaddr, v.srcaddr) AS src, coalesce(v.pkt_dstaddr, v.dstaddr) AS dst, v.bytes, v.packets,
       se.resource_arn AS src_resource, se.team AS src_team, se.app AS src_app, de.region AS dst_region
FROM {VPC_FLOW.name} v
LEFT JOIN enis se ON coalesce(v.pkt_srcaddr, v.srcaddr) = se.ip
LEFT JOIN enis de ON coalesce(v.pkt_dstaddr, v.dstaddr) = de.ip
WHERE v.tgw_attachment_id IS NOT NULL AND v.log_status = 'OK' AND v.bytes IS NOT NULL
"""


def _tgw_processing(con: duckdb.DuckDBPyConnection, inv: Inventory) -> pd.DataFrame:
    """Transit gateway data processing: every GB sent into the gateway from a VPC, Direct Connect or VPN
    attachment (not from a peering attachment), billed to the attachment's owner and attributed to the
    sending resource. Transit gateway flow logs are used for the attachments they cover (ingress records);
    the flow records of the attachment ENIs in the VPCs for the others, so no byte is counted twice."""
    cols = {c[0] for c in con.execute(f"DESCRIBE {VPC_FLOW.name}").fetchall()}
    parts: list[pd.DataFrame] = []
    covered: set[str] = set()
    if {"tgw_attachment_id", "tgw_src_vpc_id", "tgw_src_vpc_account_id"} <= cols:
        logs = con.sql(TGW_LOG_SQL).to_arrow_table().to_pandas()
        if not logs.empty:
            types = logs.attachment.map(inv.topology.attachment_type)
            vpc_of = logs.attachment.map(lambda a: (inv.topology.attachments.get(a) or {}).get("ResourceId"))
            # Ingress at the attachment is traffic entering the gateway; without flow-direction, the record at
            # the source VPC's own attachment (known from the inventory) is.
            entering = (logs.flow_direction == "ingress") | (
                logs.flow_direction.isna() & vpc_of.notna() & (vpc_of == logs.tgw_src_vpc_id)
            )
            billable = ~types.isin(["peering", "tgw-peering"]) & (types.notna() | logs.tgw_src_vpc_id.notna())
            sel = logs[entering & billable]
            covered = set(logs.attachment[entering])
            if not sel.empty:
                account = sel.tgw_src_vpc_account_id.where(sel.tgw_src_vpc_account_id.notna(), sel.account_id)
                arn = "arn:aws:ec2:" + sel.region + ":" + account + ":transit-gateway-attachment/" + sel.attachment
                parts.append(_tgw_rows(sel, account, arn, sel.src_team, sel.src_app))
    if "kind" in inv.enis.columns and (inv.enis.kind == "tgw").any():
        eni = con.sql(TGW_ENI_SQL).to_arrow_table().to_pandas()
        eni = eni[~eni.attachment.isin(covered)]
        if not eni.empty:
            team = eni.src_team.where(eni.src_team.notna(), eni.eni_team)
            app = eni.src_app.where(eni.src_app.notna(), eni.eni_app)
            parts.append(_tgw_rows(eni, eni.account, eni.attachment_arn, team, app))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def _tgw_rows(sel: pd.DataFrame, account: pd.Series, arn: pd.Series, team: pd.Series, app: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "hour": sel.hour.to_numpy(),
            "account": account.to_numpy(),
            "region": sel.region.to_numpy(),
            "product": "AmazonVPC",
            "usage_type": [ut.transit_gateway_bytes(r) for r in sel.region],
            # the sending resource when the inventory knows it, else the attachment
            "resource_id": sel.src_resource.where(sel.src_resource.notna(), arn).to_numpy(),
            "team": team.to_numpy(),
            "app": app.to_numpy(),
            "destination": dst.TRANSIT_GATEWAY,
            "peer_region": sel.dst_region.to_numpy(),
            "peer": sel.dst.to_numpy(),
            "bytes": sel.bytes.to_numpy(),
            "packets": sel.packets.to_numpy(),
            "records": 1,
            "gb": (sel.bytes / GIB).to_numpy(),
        },
        columns=COLUMNS,
    )


def _per_value(fn, *columns: pd.Series) -> np.ndarray:
    """``fn`` applied to each row's values of ``columns``, computed once per distinct combination (a day has
    hundreds of thousands of rows and a handful of regions). Missing values reach ``fn`` as None."""
    if not len(columns[0]):
        return np.array([], dtype=object)
    key = np.zeros(len(columns[0]), dtype=np.int64)
    factorized = [pd.factorize(c.to_numpy(dtype=object), use_na_sentinel=True) for c in columns]
    for codes, uniques in factorized:  # one integer per row for its combination of values
        key = key * (len(uniques) + 1) + (codes + 1)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    values = [fn(*(None if codes[row] < 0 else uniques[codes[row]] for codes, uniques in factorized)) for row in first]
    return np.array(values, dtype=object)[inverse]


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


def attribute_s3(
    con: duckdb.DuckDBPyConnection, inv: Inventory, ranges: IpRanges, networks: Networks | None = None
) -> pd.DataFrame:
    """S3 internet egress (bytes sent to non-AWS addresses) per bucket and client, CloudFront origin fetches
    (bytes sent to CloudFront's addresses, $0), and replication (replica writes by the replication role, priced
    from the source bucket's region to the destination's). Clients in another cloud's ranges (or declared
    on-premises public space) are labelled so, still priced as internet."""
    networks = networks if networks is not None else Networks.load()
    df = (
        con.sql(f"""
      SELECT date_trunc('hour', s.time) AS hour, s.bucket, s.remote_ip, s.requester, s.operation,
             coalesce(s.bytes_sent, 0) AS bytes_sent, coalesce(s.object_size, 0) AS object_size
      FROM {S3_ACCESS.name} s
      -- S3 names every request uniquely (a multi-object delete: one record per key): a record seen twice is one
      -- log delivered twice (delivery is best effort and objects can repeat), so each counts once.
      QUALIFY s.request_id IS NULL OR s.request_id = '-'
           OR row_number() OVER (PARTITION BY s.bucket, s.request_id, s.key, s.operation ORDER BY s.time) = 1
    """)
        .to_arrow_table()
        .to_pandas()
    )
    buckets = inv.buckets.set_index("bucket")
    remote = df.remote_ip.where(df.remote_ip != "-", None).tolist()
    owners = ranges.owners(remote)
    internet = np.array([o is None and _is_global(a) for o, a in zip(owners, df.remote_ip, strict=True)])
    rows = []
    # CloudFront fetching objects from its S3 origin: free, listed in the CUR as ...CloudFront-Out-Bytes.
    from_cf = np.array(_cloudfront(ranges, remote, owners), dtype=bool)
    fetches = df[from_cf & df.bucket.isin(buckets.index)]
    for (hour, bucket, ip), g in fetches.groupby(["hour", "bucket", "remote_ip"]):
        b = buckets.loc[bucket]
        rows.append(
            {
                "hour": hour,
                "account": b.account,
                "region": b.region,
                "product": "AmazonS3",
                "usage_type": ut.to_cloudfront(b.region, "AmazonS3"),
                "resource_id": bucket,
                "team": b.team,
                "app": b.app,
                "destination": dst.CLOUDFRONT_ORIGIN,
                "peer_region": None,
                "peer": ip,
                "bytes": int(g.bytes_sent.sum()),
                "packets": None,
                "records": len(g),
                "gb": g.bytes_sent.sum() / GIB,
            }
        )
    sel = df[internet & df.bucket.isin(buckets.index)]
    ips = sel.remote_ip.unique().tolist()
    net_of = dict(zip(ips, networks.lookup(ips), strict=True))
    for (hour, bucket, ip), g in sel.groupby(["hour", "bucket", "remote_ip"]):
        b = buckets.loc[bucket]
        net = net_of.get(ip)
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
                "destination": net.kind if net else dst.INTERNET,
                "peer_region": net.name if net else None,
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
    """CloudFront data transfer per distribution, edge geography and client, with its requests (``records``)
    and how many of them missed the edge cache."""
    df = (
        con.sql(f"""
      SELECT date_trunc('hour', timestamp) AS hour, distribution_id, edge_location, c_ip,
             CAST(sum(sc_bytes) AS BIGINT) AS bytes, count(*) AS records,
             count(*) FILTER (WHERE edge_result_type = 'Miss') AS cache_misses
      FROM {CLOUDFRONT.name} GROUP BY ALL
    """)
        .to_arrow_table()
        .to_pandas()
    )
    dists = inv.distributions.set_index("distribution_id")
    df["geo"] = [geography(e) for e in df.edge_location]
    df = df.dropna(subset=["geo"])
    keys = ["hour", "distribution_id", "geo", "c_ip"]
    g = df.groupby(keys, as_index=False)[["bytes", "records", "cache_misses"]].sum()
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
            # requests the edge could not serve from its cache (x-edge-result-type Miss): the hit ratio's signal
            CACHE_MISSES: g.cache_misses.astype("float64"),
        }
    )[[*COLUMNS, CACHE_MISSES]]
