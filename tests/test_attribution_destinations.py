"""Destination classes beyond the generated estate: on-premises (Direct Connect, VPN), other clouds, transit
gateway processing, what a NAT gateway's traffic reaches and CloudFront origin fetches, on small hand-built flow
records and inventories; and the --networks option of the commands that attribute."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from egress_optimizer import usage_types as ut
from egress_optimizer.attribution import destinations
from egress_optimizer.attribution.attribute import attribute_flows
from egress_optimizer.attribution.inventory import Inventory
from egress_optimizer.attribution.pricing_sql import direct_connect_out_per_gb, price_rows
from egress_optimizer.attribution.reconcile import BILLED_TRANSFER
from egress_optimizer.errors import InputError
from egress_optimizer.ingest.vpc_flow import SCHEMA
from egress_optimizer.ipranges import shipped
from egress_optimizer.networks import Networks, load_cloud_ranges
from egress_optimizer.pricing import load_catalog

GIB = 1024**3
PAYER, ACCT, ACCT_B = "999999999999", "111111111111", "222222222222"
T0 = datetime(2026, 10, 5, tzinfo=UTC)
GCP_IP = "34.80.0.10"  # in Google Cloud's published cloud.json ranges (asia-east1)
S3_IP, DDB_IP = "52.216.8.8", "3.218.180.10"  # S3 and DynamoDB in us-east-1 (shipped ip-ranges.json)
CF_ORIGIN_IP = "130.176.1.1"  # CLOUDFRONT_ORIGIN_FACING
CF_ORIGIN_IP_TIED = "64.252.64.9"  # an origin-facing prefix that ip-ranges.json also lists, as long, for EC2
NAT_ARN = "arn:aws:ec2:us-east-1:111111111111:natgateway/nat-0abc"


# ---- a small hand-built inventory: VPC A (us-east-1, two AZs), VPC B (us-east-1), VPC C (eu-west-1) ----


def _eni(eni_id, ip, subnet, vpc, az, *, acct=ACCT, instance=None, itype="interface", desc="", public=None, tags=None):
    n = {
        "NetworkInterfaceId": eni_id,
        "OwnerId": acct,
        "PrivateIpAddress": ip,
        "SubnetId": subnet,
        "VpcId": vpc,
        "AvailabilityZoneId": az,
        "InterfaceType": itype,
        "Description": desc,
        "Ipv6Addresses": [],
        "TagSet": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    }
    if instance:
        n["Attachment"] = {"InstanceId": instance}
    if public:
        n["Association"] = {"PublicIp": public}
    return n


ENIS = {
    (ACCT, "us-east-1"): [
        _eni("eni-app", "10.1.1.10", "subnet-a1", "vpc-a", "use1-az1", instance="i-app", tags={"team": "payments"}),
        _eni("eni-web", "10.1.1.11", "subnet-a1", "vpc-a", "use1-az1", instance="i-web", public="3.3.3.3"),
        _eni(
            "eni-alb",
            "10.1.1.50",
            "subnet-a1",
            "vpc-a",
            "use1-az1",
            desc="ELB app/shop-alb/0a1b2c3d4e5f6789",
            public="3.3.3.5",
            tags={"team": "storefront"},
        ),
        _eni(
            "eni-nat",
            "10.1.1.100",
            "subnet-a1",
            "vpc-a",
            "use1-az1",
            itype="nat_gateway",
            desc="Interface for NAT Gateway nat-0abc",
            public="3.3.3.4",
        ),
        _eni(
            "eni-tgwa",
            "10.1.2.5",
            "subnet-a2",
            "vpc-a",
            "use1-az2",
            itype="transit_gateway",
            desc="Network Interface for Transit Gateway Attachment tgw-attach-0aaa",
        ),
    ],
    (ACCT_B, "us-east-1"): [
        _eni("eni-db", "10.2.2.20", "subnet-b2", "vpc-b", "use1-az2", acct=ACCT_B, instance="i-db"),
        _eni(
            "eni-tgwb",
            "10.2.2.5",
            "subnet-b2",
            "vpc-b",
            "use1-az2",
            acct=ACCT_B,
            itype="transit_gateway",
            desc="Network Interface for Transit Gateway Attachment tgw-attach-0bbb",
        ),
    ],
    (ACCT, "eu-west-1"): [_eni("eni-eu", "10.3.1.30", "subnet-c1", "vpc-c", "euw1-az1", instance="i-eu")],
}
VPCS = {"vpc-a": (ACCT, "us-east-1", "10.1.0.0/16"), "vpc-b": (ACCT_B, "us-east-1", "10.2.0.0/16")}
VPCS["vpc-c"] = (ACCT, "eu-west-1", "10.3.0.0/16")


def _routes(*routes):
    out = []
    for cidr, target in routes:
        key = "TransitGatewayId" if target.startswith("tgw-") else "NatGatewayId" if target.startswith("nat-") else None
        out.append({"DestinationCidrBlock": cidr, key or "GatewayId": target, "State": "active"})
    return out


ROUTE_TABLES = {
    (ACCT, "us-east-1"): [
        # the subnet's own table: DX behind a virtual private gateway, the rest of the estate and a VPN site
        # behind the transit gateway, the internet through the NAT gateway
        {
            "RouteTableId": "rtb-a1",
            "VpcId": "vpc-a",
            "Associations": [{"SubnetId": "subnet-a1", "Main": False}],
            "Routes": _routes(
                ("10.1.0.0/16", "local"),
                ("172.16.0.0/12", "vgw-dx"),
                ("10.2.0.0/16", "tgw-1"),
                ("10.3.0.0/16", "tgw-1"),
                ("192.168.0.0/16", "tgw-1"),
                ("0.0.0.0/0", "nat-0abc"),
            ),
        },
        {
            "RouteTableId": "rtb-amain",
            "VpcId": "vpc-a",
            "Associations": [{"Main": True}],
            "Routes": _routes(("10.1.0.0/16", "local")),
        },
    ],
    (ACCT_B, "us-east-1"): [
        {
            "RouteTableId": "rtb-bmain",
            "VpcId": "vpc-b",
            "Associations": [{"Main": True}],
            "Routes": _routes(("10.2.0.0/16", "local"), ("10.1.0.0/16", "tgw-1")),
        }
    ],
}
TGW_ATTACHMENTS = [
    {"TransitGatewayAttachmentId": a, "TransitGatewayId": "tgw-1", "ResourceType": t, "ResourceId": r, "State": s}
    for a, t, r, s in [
        ("tgw-attach-0aaa", "vpc", "vpc-a", "available"),
        ("tgw-attach-0bbb", "vpc", "vpc-b", "available"),
        ("tgw-attach-0vpn", "vpn", "vpn-0site", "available"),
        ("tgw-attach-0peer", "peering", "tgw-eu", "available"),
    ]
]


def _inventory(*, routes: bool = True) -> Inventory:
    return Inventory.from_documents(_inventory_documents(routes=routes))


def _inventory_documents(*, routes: bool = True) -> dict[str, str]:
    files = {"organization.json": json.dumps({"ManagementAccountId": PAYER})}
    for (acct, region), enis in ENIS.items():
        base = f"{acct}/{region}/ec2"
        files[f"{base}/describe_network_interfaces.json"] = json.dumps({"NetworkInterfaces": enis})
        vpcs = [
            {"VpcId": v, "CidrBlockAssociationSet": [{"CidrBlock": c}]}
            for v, (a, r, c) in VPCS.items()
            if (a, r) == (acct, region)
        ]
        files[f"{base}/describe_vpcs.json"] = json.dumps({"Vpcs": vpcs})
        if routes:
            files[f"{base}/describe_route_tables.json"] = json.dumps(
                {"RouteTables": ROUTE_TABLES.get((acct, region), [])}
            )
    if routes:
        files[f"{ACCT}/us-east-1/ec2/describe_transit_gateway_attachments.json"] = json.dumps(
            {"TransitGatewayAttachments": TGW_ATTACHMENTS}
        )
        files[f"{ACCT}/us-east-1/ec2/describe_vpn_connections.json"] = json.dumps({"VpnConnections": []})
    return files


# ---- flow records in the lake's canonical schema ----


def _rec(eni, src, dst, gib, *, hour=0, pkt_src=None, pkt_dst=None, direction=None, **tgw):
    start = T0 + timedelta(hours=hour, minutes=5)
    return {
        "version": 5,
        "interface_id": eni,
        "srcaddr": src,
        "dstaddr": dst,
        "pkt_srcaddr": pkt_src,
        "pkt_dstaddr": pkt_dst,
        "bytes": int(gib * GIB),
        "packets": 1000,
        "start": start,
        "end": start + timedelta(minutes=1),
        "action": "ACCEPT",
        "log_status": "OK",
        "flow_direction": direction,
        "type": "IPv4",
        **tgw,
    }


def _attribute(records, inv=None, networks=None):
    con = duckdb.connect()
    con.register("vpc_flow", pa.Table.from_pylist(records, schema=SCHEMA))
    inv = inv or _inventory()
    rows = attribute_flows(con, inv, shipped(), networks if networks is not None else Networks.from_config({}))
    return price_rows(rows, load_catalog(), pd.DataFrame())[0]


def _only(df, **where):
    sub = df
    for k, v in where.items():
        sub = sub[sub[k] == v]
    assert len(sub) == 1, (where, df[["destination", "usage_type", "resource_id", "gb"]])
    return sub.iloc[0]


# ---- on-premises ----


def test_direct_connect_through_a_virtual_private_gateway():
    got = _attribute(
        [
            _rec("eni-app", "10.1.1.10", "172.16.5.5", 10),  # out to the data centre: DX data transfer out
            _rec("eni-app", "172.16.5.5", "10.1.1.10", 5),  # in from it: free
        ]
    )
    r = _only(got)
    assert (r.destination, r["product"], r.usage_type) == ("on_premises", "AWSDirectConnect", "USE1-DataXfer-Out:dc.3")
    assert (r.resource_id, r.team, r.account, r.peer_region) == ("i-app", "payments", ACCT, "vgw-dx")
    assert r.gb == pytest.approx(10) and r.usd == pytest.approx(10 * 0.02)


def test_vpn_through_a_transit_gateway_is_billed_as_internet_egress():
    # tgw-1 has a VPN attachment: 192.168/16 behind it is a VPN site, billed as EC2 data transfer out
    # (tiered, after the payer's free 100 GB), plus the gateway's processing on the attachment ENI.
    got = _attribute(
        [
            _rec("eni-app", "10.1.1.10", "192.168.1.1", 150),
            _rec("eni-tgwa", "10.1.1.10", "10.1.2.5", 150, pkt_dst="192.168.1.1"),
        ]
    )
    r = _only(got, destination="on_premises")
    assert (r["product"], r.usage_type, r.peer_region) == ("AmazonEC2", "DataTransfer-Out-Bytes", "tgw-1")
    assert r.usd == pytest.approx(50 * 0.09)
    t = _only(got, destination="transit_gateway")
    assert (t.usage_type, t.resource_id, t.usd) == ("USE1-TransitGateway-Bytes", "i-app", pytest.approx(150 * 0.02))


def test_declared_on_premises_without_route_tables():
    nets = Networks.from_config(
        {"on_premises": [{"cidr": "10.200.0.0/16", "name": "frankfurt-dc", "dx_location": "EqFA5"}]}
    )
    got = _attribute(
        [
            _rec("eni-app", "10.1.1.10", "10.200.5.5", 4),  # declared: Direct Connect, at its location
            _rec("eni-app", "10.1.1.10", "10.99.0.1", 4),  # private, undeclared, no route evidence: no charge
            _rec("eni-app", "10.1.1.10", "10.1.9.9", 4),  # inside VPC A's CIDR (a gone ENI): not on-premises
        ],
        inv=_inventory(routes=False),
        networks=nets,
    )
    r = _only(got)
    assert (r.destination, r.usage_type, r.peer_region) == (
        "on_premises",
        "USE1-EqFA5-DataXfer-Out:dc.3",
        "frankfurt-dc",
    )
    assert r.usd == pytest.approx(4 * 0.02)


def test_declared_link_overrides_the_route_and_routes_overrule_declarations():
    nets = Networks.from_config(
        {
            "on_premises": [
                {"cidr": "172.16.0.0/12", "name": "backup-vpn", "via": "vpn"},  # the VGW carries a VPN
                {"cidr": "10.77.0.0/16", "name": "lab"},  # but the subnet routes it to the NAT gateway
            ]
        }
    )
    got = _attribute(
        [_rec("eni-app", "10.1.1.10", "172.16.5.5", 120), _rec("eni-app", "10.1.1.10", "10.77.0.1", 3, hour=1)],
        networks=nets,
    )
    r = _only(got)
    assert (r.destination, r["product"], r.usage_type, r.peer_region) == (
        "on_premises",
        "AmazonEC2",
        "DataTransfer-Out-Bytes",
        "backup-vpn",
    )
    assert r.usd == pytest.approx(20 * 0.09)


# ---- other clouds ----


def test_other_cloud_from_a_public_instance_and_through_a_nat_gateway():
    got = _attribute(
        [
            _rec("eni-web", "10.1.1.11", GCP_IP, 200, pkt_src="10.1.1.11"),  # public instance, straight out
            # the NAT gateway's private side (from i-app, addressed to the gateway) and its public side
            _rec("eni-nat", "10.1.1.10", "10.1.1.100", 8, hour=1, pkt_dst=GCP_IP, direction="ingress"),
            _rec("eni-nat", "10.1.1.100", GCP_IP, 8, hour=1, direction="egress"),
            _rec("eni-web", "10.1.1.11", "81.2.69.1", 1, hour=2),  # the internet at large
        ]
    )
    web = _only(got, resource_id="i-web", destination="other_cloud")
    assert (web.peer_region, web["product"], web.usage_type) == ("gcp", "AmazonEC2", "DataTransfer-Out-Bytes")
    assert web.usd == pytest.approx(100 * 0.09)  # priced as internet egress, after the 100 GB free tier
    nat = _only(got, usage_type="NatGateway-Bytes")
    assert (nat.destination, nat.peer_region, nat.team) == ("other_cloud via NAT", "gcp", "payments")
    assert nat.usd == pytest.approx(8 * 0.045)
    out = _only(
        got, usage_type="DataTransfer-Out-Bytes", resource_id="arn:aws:ec2:us-east-1:111111111111:natgateway/nat-0abc"
    )
    assert (out.destination, out.peer_region, out.usd) == ("other_cloud", "gcp", pytest.approx(8 * 0.09))
    plain = _only(got, peer="81.2.69.1")
    assert plain.destination == "internet" and pd.isna(plain.peer_region)


def test_declared_other_cloud_wins_over_the_shipped_ranges():
    nets = Networks.from_config({"other_clouds": [{"cidr": "81.2.69.0/24", "provider": "hetzner"}]})
    got = _attribute([_rec("eni-web", "10.1.1.11", "81.2.69.1", 1)], networks=nets)
    r = _only(got)
    assert (r.destination, r.peer_region, r.usage_type) == ("other_cloud", "hetzner", "DataTransfer-Out-Bytes")


# ---- transit gateway ----


def test_transit_gateway_processing_without_inter_az_charges():
    # i-app (use1-az1) talks to i-db (use1-az2, VPC B) through tgw-1: each side pays processing for what it
    # sends into the gateway, on its attachment ENI; nobody pays inter-AZ (free through a TGW since 2022).
    got = _attribute(
        [
            _rec("eni-app", "10.1.1.10", "10.2.2.20", 4),
            _rec("eni-app", "10.2.2.20", "10.1.1.10", 1),
            _rec("eni-tgwa", "10.1.1.10", "10.1.2.5", 4, pkt_dst="10.2.2.20"),  # into the TGW: billed
            _rec("eni-tgwa", "10.1.2.5", "10.1.1.10", 1, pkt_src="10.2.2.20"),  # out of it: not
            _rec("eni-tgwb", "10.2.2.5", "10.2.2.20", 4, pkt_src="10.1.1.10"),
            _rec("eni-tgwb", "10.2.2.20", "10.2.2.5", 1, pkt_dst="10.1.1.10"),
            _rec("eni-db", "10.1.1.10", "10.2.2.20", 4),
            _rec("eni-db", "10.2.2.20", "10.1.1.10", 1),
        ]
    )
    assert set(got.destination) == {"transit_gateway"}
    a = _only(got, account=ACCT)
    assert (a["product"], a.usage_type, a.resource_id, a.team, a.peer_region) == (
        "AmazonVPC",
        "USE1-TransitGateway-Bytes",
        "i-app",
        "payments",
        "us-east-1",
    )
    assert a.usd == pytest.approx(4 * 0.02)
    b = _only(got, account=ACCT_B)
    assert (b.resource_id, b.usd) == ("i-db", pytest.approx(1 * 0.02))
    # The same flows without route tables look like peering: inter-AZ at both ends, as before.
    plain = _attribute(
        [_rec("eni-app", "10.1.1.10", "10.2.2.20", 4), _rec("eni-db", "10.1.1.10", "10.2.2.20", 4)],
        inv=_inventory(routes=False),
    )
    assert list(plain.destination) == ["cross-az", "cross-az"]


def test_inter_region_over_transit_gateway_peering_is_counted_once_each():
    got = _attribute(
        [
            _rec("eni-app", "10.1.1.10", "10.3.1.30", 6),
            _rec("eni-tgwa", "10.1.1.10", "10.1.2.5", 6, pkt_dst="10.3.1.30"),
            _rec("eni-eu", "10.1.1.10", "10.3.1.30", 6),  # arriving in eu-west-1: free
        ]
    )
    assert sorted(got.destination) == ["inter-region", "transit_gateway"]
    ir = _only(got, destination="inter-region")
    assert (ir.usage_type, ir.peer_region, ir.usd) == ("USE1-EU-AWS-Out-Bytes", "eu-west-1", pytest.approx(6 * 0.02))
    tgw = _only(got, destination="transit_gateway")
    assert (tgw.peer_region, tgw.usd) == ("eu-west-1", pytest.approx(6 * 0.02))


def test_transit_gateway_flow_logs_take_over_the_attachments_they_cover():
    tgw = dict(tgw_id="tgw-1", account_id=ACCT, region="us-east-1", resource_type="TransitGateway")
    got = _attribute(
        [
            # the TGW's own flow log: ingress at VPC A's attachment is billed ...
            _rec(
                None,
                "10.1.1.10",
                "10.2.2.20",
                3,
                direction="ingress",
                tgw_attachment_id="tgw-attach-0aaa",
                tgw_src_vpc_id="vpc-a",
                tgw_src_vpc_account_id=ACCT,
                tgw_dst_vpc_id="vpc-b",
                **tgw,
            ),
            # ... egress at VPC B's attachment is the same bytes leaving: not billed
            _rec(
                None,
                "10.1.1.10",
                "10.2.2.20",
                3,
                direction="egress",
                tgw_attachment_id="tgw-attach-0bbb",
                tgw_src_vpc_id="vpc-a",
                tgw_src_vpc_account_id=ACCT,
                **tgw,
            ),
            # ... and data arriving over a peering attachment pays no processing
            _rec(None, "10.3.1.30", "10.1.1.10", 2, direction="ingress", tgw_attachment_id="tgw-attach-0peer", **tgw),
            # the attachment ENI saw the same 3 GiB: not counted again
            _rec("eni-tgwa", "10.1.1.10", "10.1.2.5", 3, pkt_dst="10.2.2.20"),
        ]
    )
    r = _only(got)
    assert (r.destination, r.account, r.resource_id, r.usage_type) == (
        "transit_gateway",
        ACCT,
        "i-app",
        "USE1-TransitGateway-Bytes",
    )
    assert r.gb == pytest.approx(3) and r.usd == pytest.approx(3 * 0.02)


# ---- what a NAT gateway's traffic reaches ----


def _through_nat(far, gib, hour=0, *, back=0.5):
    """A connection from i-app through nat-0abc to ``far``, as the gateway's ENI logs it: the instance's bytes
    arriving (addressed to the gateway, pkt-dstaddr the far end), leaving on the public side, the responses
    arriving there and going back to the instance (pkt-srcaddr the far end)."""
    return [
        _rec("eni-nat", "10.1.1.10", "10.1.1.100", gib, hour=hour, pkt_dst=far, direction="ingress"),
        _rec("eni-nat", "10.1.1.100", far, gib, hour=hour, direction="egress"),
        _rec("eni-nat", far, "10.1.1.100", back, hour=hour, direction="ingress"),
        _rec("eni-nat", "10.1.1.100", "10.1.1.10", back, hour=hour, pkt_src=far, direction="egress"),
    ]


def test_nat_processing_is_classed_by_the_far_end_of_the_translation():
    got = _attribute(
        [
            *_through_nat(S3_IP, 2),
            *_through_nat(DDB_IP, 1, hour=1),
            *_through_nat(GCP_IP, 1, hour=2),
            *_through_nat("81.2.69.1", 1, hour=3),
        ]
    )
    nat = got[got.usage_type == "NatGateway-Bytes"]
    by_dest = nat.groupby("destination").gb.sum()
    assert by_dest.to_dict() == pytest.approx(
        {"aws-service:S3 via NAT": 2.5, "aws-service:DYNAMODB via NAT": 1.5, "other_cloud via NAT": 1.5}
        | {"internet via NAT": 1.5}
    )
    # The peer of a NAT row is the far address (distinct peers of the instance's NAT series), not the instance.
    assert set(nat[nat.destination == "aws-service:S3 via NAT"].peer) == {S3_IP}
    assert set(nat[nat.destination == "internet via NAT"].peer) == {"81.2.69.1"}
    assert (nat.resource_id == NAT_ARN).all() and (nat.team == "payments").all()
    assert nat.usd.sum() == pytest.approx(7 * 0.045)
    # S3 and DynamoDB in the region are not internet egress: only the other cloud and the internet host are.
    out = got[got.usage_type == "DataTransfer-Out-Bytes"]
    assert sorted(out.peer) == sorted([GCP_IP, "81.2.69.1"])


def test_nat_far_end_from_plain_addresses_and_without_it():
    v2 = {"version": 2, "protocol": 6}
    got = _attribute(
        [
            # a log that carries the pre-translation destination in dstaddr (no pkt-* fields): still S3
            _rec("eni-nat", "10.1.1.10", S3_IP, 3, direction="ingress"),
            _rec("eni-nat", S3_IP, "10.1.1.10", 1, direction="egress"),
            # version 2 records of a real gateway (its own address, no pkt-* fields) and nothing else to go on: the
            # far end is unknown
            _rec("eni-nat", "10.1.1.10", "10.1.1.100", 2, hour=1, direction="ingress"),
            # ... but the instance's own ENI logs the connection to the far end with the same ports
            _rec("eni-nat", "10.1.1.10", "10.1.1.100", 5, hour=2, **v2, srcport=40001, dstport=443),
            _rec("eni-nat", "10.1.1.100", "10.1.1.10", 1, hour=2, **v2, srcport=443, dstport=40001),
            _rec("eni-app", "10.1.1.10", DDB_IP, 5, hour=2, **v2, srcport=40001, dstport=443),
            _rec("eni-app", DDB_IP, "10.1.1.10", 1, hour=2, **v2, srcport=443, dstport=40001),
            _rec("eni-app", "10.1.1.10", S3_IP, 5, hour=2, **v2, srcport=40002, dstport=443),  # another connection
        ]
    )
    s3 = got[got.destination == "aws-service:S3 via NAT"]
    assert s3.gb.sum() == pytest.approx(4) and set(s3.peer) == {S3_IP} and set(s3.usage_type) == {"NatGateway-Bytes"}
    unknown = _only(got, destination="internet via NAT")
    assert unknown.gb == pytest.approx(2) and unknown.peer == "10.1.1.10"
    ddb = got[got.destination == "aws-service:DYNAMODB via NAT"]
    assert ddb.gb.sum() == pytest.approx(6) and set(ddb.peer) == {DDB_IP}


def test_nat_far_end_when_an_instance_reuses_a_port_within_the_hour():
    """Two connections from the same instance port to port 443 in one hour (a busy host recycles ephemeral
    ports): each gateway record takes the far end of the instance's record that starts with it, so the
    internet download is not filed under DynamoDB (or the other way round)."""
    v2 = {"version": 2, "protocol": 6}

    def at(minute):
        start = T0 + timedelta(minutes=minute)
        return {"start": start, "end": start + timedelta(seconds=50)}

    fwd, back = {"srcport": 40001, "dstport": 443}, {"srcport": 443, "dstport": 40001}
    got = _attribute(
        [
            _rec("eni-nat", "10.1.1.10", "10.1.1.100", 0.5, **v2, **fwd, **at(5)),
            _rec("eni-nat", "10.1.1.100", "10.1.1.10", 1, **v2, **back, **at(5)),
            _rec("eni-app", "10.1.1.10", DDB_IP, 0.5, **v2, **fwd, **at(5)),
            _rec("eni-app", DDB_IP, "10.1.1.10", 1, **v2, **back, **at(5)),
            _rec("eni-nat", "10.1.1.10", "10.1.1.100", 0.25, **v2, **fwd, **at(40)),
            _rec("eni-nat", "10.1.1.100", "10.1.1.10", 6, **v2, **back, **at(40)),
            _rec("eni-app", "10.1.1.10", "81.2.69.1", 0.25, **v2, **fwd, **at(40)),
            _rec("eni-app", "81.2.69.1", "10.1.1.10", 6, **v2, **back, **at(40)),
        ]
    )
    nat = got[got.usage_type == "NatGateway-Bytes"].groupby("destination").gb.sum()
    assert nat.to_dict() == pytest.approx({"aws-service:DYNAMODB via NAT": 1.5, "internet via NAT": 6.25})


# ---- CloudFront origin fetches ----


def test_cloudfront_origin_fetches_are_visible_at_zero_dollars():
    got = _attribute(
        [
            # CloudFront fetching from the load balancer and from a public instance: what the origin sends back
            _rec("eni-alb", CF_ORIGIN_IP, "10.1.1.50", 0.1),
            _rec("eni-alb", "10.1.1.50", CF_ORIGIN_IP, 5),
            _rec("eni-web", "10.1.1.11", CF_ORIGIN_IP_TIED, 3, hour=1),
            _rec("eni-web", "10.1.1.11", "81.2.69.1", 200, hour=1),  # the internet: billed, after the free 100 GB
        ]
    )
    alb = _only(
        got,
        resource_id="arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/app/shop-alb/0a1b2c3d4e5f6789",
    )
    assert (alb.destination, alb["product"], alb.usage_type, alb.team) == (
        destinations.CLOUDFRONT_ORIGIN,
        "AWSELB",
        ut.to_cloudfront("us-east-1", "AWSELB"),
        "storefront",
    )
    assert (alb.gb, alb.usd, alb.peer) == (pytest.approx(5), 0.0, CF_ORIGIN_IP)
    web = _only(got, resource_id="i-web", destination="cloudfront origin")
    assert (web["product"], web.usage_type, web.gb, web.usd) == (
        "AmazonEC2",
        "CloudFront-Out-Bytes",
        pytest.approx(3),
        0,
    )
    internet = _only(got, destination="internet")
    assert internet.usd == pytest.approx(100 * 0.09)  # origin fetches take nothing from the free tier
    import re

    assert re.search(BILLED_TRANSFER, "USE1-CloudFront-Out-Bytes")  # the CUR's $0 lines are reconciled too
    assert destinations.destination_class("cloudfront origin") in destinations.DESTINATION_CLASSES


# ---- the --networks option ----


def _cur_line(usage_type, usd, gb):
    from egress_optimizer.ingest.cur import CUR_SCHEMA

    row = {f.name: None for f in CUR_SCHEMA}
    row |= {
        "cur_version": "cur2",
        "billing_period": "2026-10",
        "payer_account_id": PAYER,
        "usage_account_id": ACCT,
        "line_item_type": "Usage",
        "usage_start": T0,
        "usage_end": T0 + timedelta(hours=1),
        "product_code": "AWSDirectConnect",
        "usage_type": usage_type,
        "resource_id": "i-app",
        "usage_amount": gb,
        "unblended_cost": usd,
        "region_code": "us-east-1",
    }
    return pa.Table.from_pylist([row], schema=CUR_SCHEMA)


def test_networks_option_of_reconcile_and_features(tmp_path, monkeypatch, capsys):
    from egress_optimizer.cli import run
    from egress_optimizer.lake import Lake

    monkeypatch.delenv("EGRESS_NETWORKS", raising=False)
    snap = tmp_path / "inventory"
    for rel, text in _inventory_documents(routes=False).items():
        (snap / rel).parent.mkdir(parents=True, exist_ok=True)
        (snap / rel).write_text(text)
    lake = Lake.open(str(tmp_path / "lake"))
    part = {"account": ACCT, "aws_region": "us-east-1", "dt": "2026-10-05"}
    flows = [_rec("eni-app", "10.1.1.10", "10.200.5.5", 4)]
    lake.write_part("vpc_flow", pa.Table.from_pylist(flows, schema=SCHEMA), part, "flows")
    lake.write_part("cur", _cur_line("USE1-DataXfer-Out:dc.3", 4 * 0.02, 4.0), part, "cur")
    nets = tmp_path / "networks.yaml"
    nets.write_text("on_premises:\n  - {cidr: 10.200.0.0/16, name: dc1, via: direct_connect}\n")
    base = ["--lake", str(lake.root), "--inventory", str(snap), "--json"]

    assert run(["reconcile", *base]) == 0  # undeclared private space: nothing attributed
    assert json.loads(capsys.readouterr().out)["unexplained_pct"] == pytest.approx(100)
    assert run(["reconcile", *base, "--networks", str(nets)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["unexplained_pct"] == pytest.approx(0) and out["attributed_usd"] == pytest.approx(0.08)

    assert run(["features", *base, "--networks", str(nets)]) == 0
    assert json.loads(capsys.readouterr().out)["egress_hourly"] == 1
    attributed = lake.read("attributed").to_pandas()
    assert list(attributed.destination) == ["on_premises"] and list(attributed.peer_region) == ["dc1"]
    hourly = lake.read("egress_hourly").to_pandas()
    assert (hourly.entity.tolist(), hourly.destination.tolist()) == (["i-app"], ["on_premises"])

    # The option and the environment variable name the same file; a bad file is a one-line input error.
    monkeypatch.setenv("EGRESS_NETWORKS", str(nets))
    assert run(["reconcile", *base]) == 0
    assert json.loads(capsys.readouterr().out)["unexplained_pct"] == pytest.approx(0)
    bad = tmp_path / "bad.yaml"
    bad.write_text("on_premise: []\n")
    assert run(["features", *base, "--networks", str(bad)]) == 2
    assert "unknown key" in capsys.readouterr().err
    assert run(["reconcile", *base, "--networks", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read networks file" in capsys.readouterr().err


# ---- configuration, prices, names ----


def test_cloud_ranges_load_from_the_providers_published_files(tmp_path, monkeypatch):
    (tmp_path / "cloud.json").write_text(
        json.dumps(
            {"creationTime": "2026-10-01T00:00:00", "prefixes": [{"ipv4Prefix": "198.51.100.0/24", "scope": "x"}]}
        )
    )
    azure = {"changeNumber": 7, "cloud": "Public", "values": [{"properties": {"addressPrefixes": ["192.0.2.0/25"]}}]}
    (tmp_path / "ServiceTags_Public.json.gz").write_bytes(gzip.compress(json.dumps(azure).encode()))
    oracle = {
        "last_updated_timestamp": "2026-10-01",
        "regions": [{"region": "r", "cidrs": [{"cidr": "192.0.2.128/25"}]}],
    }
    (tmp_path / "public_ip_ranges.json").write_text(json.dumps(oracle))
    assert [n.name for n in load_cloud_ranges(tmp_path / "cloud.json")] == ["gcp"]
    (tmp_path / "networks.yaml").write_text(
        "cloud_range_files: [cloud.json, ServiceTags_Public.json.gz, public_ip_ranges.json]\n"
        "shipped_cloud_ranges: false\n"
        "on_premises:\n  - {cidr: 10.9.0.0/16, name: dc, via: vpn}\n"
    )
    monkeypatch.setenv("EGRESS_NETWORKS", str(tmp_path / "networks.yaml"))
    nets = Networks.load()
    found = nets.lookup(["198.51.100.7", "192.0.2.1", "192.0.2.200", "10.9.1.1", GCP_IP])
    assert [n.name if n else None for n in found] == ["gcp", "azure", "oracle", "dc", None]
    assert found[3].via == "vpn" and found[3].kind == "on_premises"
    # The shipped copy: Google Cloud, Azure and Oracle Cloud, nothing that AWS or private space owns.
    monkeypatch.delenv("EGRESS_NETWORKS")
    shipped_nets = Networks.load()
    assert {n.name for n in shipped_nets.clouds} == {"gcp", "azure", "oracle"}
    assert shipped_nets.lookup_one(GCP_IP).name == "gcp"
    assert shipped_nets.lookup_one("52.216.1.1") is None and shipped_nets.lookup_one("10.0.0.1") is None


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"on_premises": [{"cidr": "10.0.0.0/8", "via": "carrier-pigeon"}]}, "via must be one of"),
        ({"on_premises": [{"cidr": "not-a-cidr"}]}, "is not a CIDR"),
        ({"other_clouds": [{"cidr": "192.0.2.0/24"}]}, "needs a provider"),
        ({"on_premise": []}, "unknown key"),
    ],
)
def test_bad_networks_files_are_input_errors(config, message):
    with pytest.raises(InputError, match=message):
        Networks.from_config(config)


def test_prices_usage_types_and_classes():
    cat = load_catalog()
    assert direct_connect_out_per_gb(cat, "us-east-1") == 0.02 and direct_connect_out_per_gb(cat, "eu-west-1") == 0.02
    assert direct_connect_out_per_gb(cat, "ap-northeast-1") == cat.raw["direct_connect_out"]["default"]
    assert cat.transit_gateway_per_gb == 0.02
    assert ut.transit_gateway_bytes("eu-west-1") == "EU-TransitGateway-Bytes"
    assert ut.direct_connect_out("us-west-2", "EqSE2") == "USW2-EqSE2-DataXfer-Out:dc.3"
    assert ut.region_of("USE1-EqDC2-DataXfer-Out:dc.3") == "us-east-1"
    import re

    for billed in ("USE1-TransitGateway-Bytes", "USE1-EqDC2-DataXfer-Out:dc.3"):
        assert re.search(BILLED_TRANSFER, billed)
    assert not re.search(BILLED_TRANSFER, "USE1-DataXfer-In:dc.3")
    assert {"on_premises", "other_cloud", "transit_gateway"} <= set(destinations.DESTINATION_CLASSES)
    assert destinations.destination_class("cloudfront:EU") == "cloudfront"
    assert destinations.destination_class("aws-service:S3 via NAT") == "aws-service via NAT"
    assert destinations.destination_class("other_cloud via NAT") in destinations.DESTINATION_CLASSES


def test_the_collector_saves_the_routing_facts():
    boto3 = pytest.importorskip("boto3")
    from moto import mock_aws

    from egress_optimizer.attribution.collect import collect

    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        vgw = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
        ec2.attach_vpn_gateway(VpcId=vpc, VpnGatewayId=vgw)
        rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=rtb, SubnetId=subnet)
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="172.16.0.0/12", GatewayId=vgw)
        inv = Inventory.from_documents(collect(boto3.Session(region_name="us-east-1"), ["us-east-1"]))
    target = inv.topology.route(vpc, subnet, "172.16.1.1")
    assert (target.kind, target.id) == ("vgw", vgw) and inv.topology.link(target) == "direct_connect"
    assert inv.topology.route(vpc, subnet, "10.0.9.9").kind == "local"
    assert inv.topology.in_any_vpc(["10.0.9.9", "172.16.1.1"]) == [True, False]
