"""Routing facts of the inventory: VPC CIDRs, route tables, VPN connections, transit gateway attachments.

They say where traffic to an address that no ENI of the inventory owns goes: a virtual private gateway or a
transit gateway with a Direct Connect or VPN attachment means on-premises. Read from the
``describe_vpcs``, ``describe_route_tables``, ``describe_vpn_connections`` and
``describe_transit_gateway_attachments`` documents of a snapshot; a snapshot without them has no routing
facts, and attribution then relies on the networks file (``egress_optimizer.networks``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from egress_optimizer.networks import PrefixTable

# Route fields of describe_route_tables, in the order a route names its target, with our short kind.
_TARGETS = [
    ("TransitGatewayId", "tgw"),
    ("NatGatewayId", "nat"),
    ("VpcPeeringConnectionId", "pcx"),
    ("EgressOnlyInternetGatewayId", "igw"),
    ("NetworkInterfaceId", "eni"),
    ("InstanceId", "eni"),
    ("LocalGatewayId", "other"),
    ("CarrierGatewayId", "other"),
    ("CoreNetworkArn", "other"),
]


@dataclass(frozen=True)
class RouteTarget:
    kind: str  # local, igw, vgw, tgw, nat, pcx, vpce, eni, other
    id: str


def _target(route: dict) -> RouteTarget | None:
    gw = route.get("GatewayId")
    if gw:
        if gw == "local":
            return RouteTarget("local", gw)
        for prefix, kind in (("igw-", "igw"), ("vgw-", "vgw"), ("vpce-", "vpce")):
            if gw.startswith(prefix):
                return RouteTarget(kind, gw)
        return RouteTarget("other", gw)
    for key, kind in _TARGETS:
        if route.get(key):
            return RouteTarget(kind, str(route[key]))
    return None


class Topology:
    def __init__(
        self,
        vpc_cidrs: dict[str, list[str]] | None = None,
        route_tables: list[dict] | None = None,
        vpn_connections: list[dict] | None = None,
        tgw_attachments: list[dict] | None = None,
    ):
        self.vpc_cidrs = vpc_cidrs or {}
        self._any_vpc = PrefixTable((c, v) for v, cs in self.vpc_cidrs.items() for c in cs)
        self._per_vpc = {v: PrefixTable((c, True) for c in cs) for v, cs in self.vpc_cidrs.items()}
        self._tables: dict[str, PrefixTable[RouteTarget]] = {}
        self._subnet_table: dict[str, str] = {}
        self._main_table: dict[str, str] = {}
        for rt in route_tables or []:
            routes = []
            for r in rt.get("Routes", []):
                dest = r.get("DestinationCidrBlock") or r.get("DestinationIpv6CidrBlock")
                target = _target(r)
                if dest and target and r.get("State", "active") != "blackhole":
                    routes.append((dest, target))
            self._tables[rt["RouteTableId"]] = PrefixTable(routes)
            for a in rt.get("Associations", []):
                if a.get("SubnetId"):
                    self._subnet_table[a["SubnetId"]] = rt["RouteTableId"]
                if a.get("Main"):
                    self._main_table[rt.get("VpcId", "")] = rt["RouteTableId"]
        live = [c for c in vpn_connections or [] if c.get("State") not in ("deleted", "deleting")]
        self._vgw_vpn = {c["VpnGatewayId"] for c in live if c.get("VpnGatewayId")}
        self._tgw_links: dict[str, set[str]] = {}
        for c in live:
            if c.get("TransitGatewayId"):
                self._tgw_links.setdefault(c["TransitGatewayId"], set()).add("vpn")
        self.attachments: dict[str, dict] = {}
        for a in tgw_attachments or []:
            if a.get("State") in ("deleted", "deleting", "failed", "rejected"):
                continue
            self.attachments[a["TransitGatewayAttachmentId"]] = a
            link = {"direct-connect-gateway": "direct_connect", "vpn": "vpn"}.get(a.get("ResourceType", ""))
            if link:
                self._tgw_links.setdefault(a["TransitGatewayId"], set()).add(link)

    @classmethod
    def from_documents(cls, files: dict[str, str]) -> Topology:
        vpc_cidrs: dict[str, list[str]] = {}
        tables: list[dict] = []
        vpns: list[dict] = []
        attachments: list[dict] = []
        for rel, text in files.items():
            if rel.endswith("/ec2/describe_vpcs.json"):
                for v in json.loads(text).get("Vpcs", []):
                    cidrs = [a["CidrBlock"] for a in v.get("CidrBlockAssociationSet", []) if a.get("CidrBlock")]
                    cidrs += [
                        a["Ipv6CidrBlock"] for a in v.get("Ipv6CidrBlockAssociationSet", []) if a.get("Ipv6CidrBlock")
                    ]
                    vpc_cidrs[v["VpcId"]] = cidrs or ([v["CidrBlock"]] if v.get("CidrBlock") else [])
            elif rel.endswith("/ec2/describe_route_tables.json"):
                tables += json.loads(text).get("RouteTables", [])
            elif rel.endswith("/ec2/describe_vpn_connections.json"):
                vpns += json.loads(text).get("VpnConnections", [])
            elif rel.endswith("/ec2/describe_transit_gateway_attachments.json"):
                attachments += json.loads(text).get("TransitGatewayAttachments", [])
        return cls(vpc_cidrs, tables, vpns, attachments)

    @property
    def has_routes(self) -> bool:
        return bool(self._tables)

    def in_any_vpc(self, addresses: list[str | None]) -> list[bool]:
        """Whether each address lies in some VPC CIDR of the inventory (then it is not on-premises)."""
        return [v is not None for v in self._any_vpc.lookup(addresses)]

    def route(self, vpc_id: str | None, subnet_id: str | None, address: str) -> RouteTarget | None:
        """The target of the most specific route for ``address`` in the subnet's route table (the VPC's main
        table when the subnet has no association); None when the inventory has no table for it."""
        table_id = self._subnet_table.get(subnet_id or "") or self._main_table.get(vpc_id or "")
        table = self._tables.get(table_id or "")
        return table.lookup_one(address) if table else None

    def link(self, target: RouteTarget | None) -> str | None:
        """``direct_connect`` or ``vpn`` when the target reaches on-premises, else None.

        A virtual private gateway with a VPN connection is taken as VPN (a Direct Connect virtual interface to
        it is not visible through EC2's API; declare the CIDR with ``via: direct_connect`` when both exist).
        A transit gateway reaches on-premises when it has a Direct Connect gateway or VPN attachment."""
        if target is None:
            return None
        if target.kind == "vgw":
            return "vpn" if target.id in self._vgw_vpn else "direct_connect"
        if target.kind == "tgw":
            links = self._tgw_links.get(target.id, set())
            return "direct_connect" if "direct_connect" in links else ("vpn" if "vpn" in links else None)
        return None

    def attachment_type(self, attachment_id: str | None) -> str | None:
        a = self.attachments.get(attachment_id or "")
        return a.get("ResourceType") if a else None
