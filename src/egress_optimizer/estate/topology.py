"""The synthetic AWS organisation: accounts, VPCs, subnets, ENIs, NAT gateways, endpoints, buckets and
CloudFront distributions, with owner/team/app tags.

Everything is derived from one seeded random generator, so the same seed always yields the same estate.
Identifiers follow AWS's shapes (``eni-`` + 17 hex digits, 12-digit account ids, ...).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import numpy as np

from egress_optimizer.formats.vpc_flow import DEFAULT_FORMAT
from egress_optimizer.regions import az_id, az_name

# Flow log formats. The default format is v2; custom formats add v3-v5 fields in the order users pick.
FLOW_FORMAT_V2 = list(DEFAULT_FORMAT)  # AWS's default (version 2) format
FLOW_FORMAT_V5 = [
    "version",
    "account-id",
    "vpc-id",
    "subnet-id",
    "instance-id",
    "interface-id",
    "type",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "tcp-flags",
    "region",
    "az-id",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
    "log-status",
]
FLOW_FORMAT_V4 = [
    "version",
    "interface-id",
    "account-id",
    "vpc-id",
    "subnet-id",
    "instance-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "bytes",
    "packets",
    "start",
    "end",
    "action",
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    "log-status",
]
FLOW_FORMAT_V3 = [
    "version",
    "vpc-id",
    "subnet-id",
    "instance-id",
    "interface-id",
    "account-id",
    "type",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "protocol",
    "bytes",
    "packets",
    "start",
    "end",
    "action",
    "tcp-flags",
    "log-status",
]

SCALES = {
    # streams_per_role multiplies workload ENIs; flows_per_hour drives record counts.
    "small": {
        "web": 2,
        "api": 2,
        "worker": 1,
        "ecs": 2,
        "flows_per_hour": 3,
        "cf_requests_per_hour": 60,
        "s3_requests_per_hour": 12,
        "volume": 15.0,
    },
    "medium": {
        "web": 4,
        "api": 4,
        "worker": 2,
        "ecs": 4,
        "flows_per_hour": 6,
        "cf_requests_per_hour": 150,
        "s3_requests_per_hour": 30,
        "volume": 25.0,
    },
    "large": {
        "web": 8,
        "api": 8,
        "worker": 4,
        "ecs": 8,
        "flows_per_hour": 40,
        "cf_requests_per_hour": 500,
        "s3_requests_per_hour": 40,
        "volume": 40.0,
    },
}


@dataclass
class Account:
    id: str
    name: str
    team: str
    owner: str


@dataclass
class FlowLogConfig:
    id: str
    fields: list[str]
    delivery: str  # "text" or "parquet"
    hive: bool
    per_hour_partition: bool
    bucket: str
    enabled: bool = True  # False: the VPC has no flow log (nothing is delivered, describe_flow_logs omits it)


@dataclass
class Subnet:
    id: str
    vpc_id: str
    az_index: int
    cidr: str
    public: bool
    ipv6_cidr: str | None = None


@dataclass
class Vpc:
    id: str
    account: str
    region: str
    cidr: str
    azs: int
    flow_log: FlowLogConfig
    s3_gateway_endpoint: str | None
    ddb_gateway_endpoint: str | None
    ipv6_cidr: str | None
    subnets: list[Subnet] = field(default_factory=list)


@dataclass
class Eni:
    id: str
    account: str
    region: str
    vpc_id: str
    subnet_id: str
    az_index: int
    private_ip: str
    kind: str  # ec2 | ecs | nat | vpce | alb
    role: str  # web, api, worker, db, nat, vpce, alb, batch
    resource_id: str  # instance id, task arn, nat id, vpce id, alb arn suffix
    tags: dict[str, str]
    public_ip: str | None = None
    ipv6: str | None = None


@dataclass
class NatGateway:
    id: str
    account: str
    region: str
    vpc_id: str
    subnet_id: str
    az_index: int
    eni_id: str
    private_ip: str
    public_ip: str
    allocation_id: str


@dataclass
class VpcEndpoint:
    id: str
    account: str
    region: str
    vpc_id: str
    service: str  # e.g. com.amazonaws.us-east-1.s3
    type: str  # Gateway | Interface
    eni_ids: list[str] = field(default_factory=list)


@dataclass
class Bucket:
    name: str
    account: str
    region: str
    purpose: str
    public: bool = False
    replicate_to: list[str] = field(default_factory=list)  # destination bucket names
    log_bucket: str | None = None
    log_layout: str = "simple"  # simple | partitioned
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Distribution:
    id: str
    account: str
    domain: str
    origin_kind: str  # s3 | alb
    origin: str  # bucket name or ALB DNS name
    origin_region: str
    log_bucket: str
    log_prefix: str
    aliases: list[str]
    tags: dict[str, str]
    geo_mix: dict[str, float]


@dataclass
class Estate:
    seed: int
    scale: str
    payer: Account
    accounts: list[Account]
    vpcs: list[Vpc]
    enis: list[Eni]
    nats: list[NatGateway]
    endpoints: list[VpcEndpoint]
    buckets: list[Bucket]
    distributions: list[Distribution]
    alb_names: dict[str, str] = field(default_factory=dict)  # alb arn suffix -> dns name

    def eni(self, eni_id: str) -> Eni:
        return self._eni_index[eni_id]

    def vpc(self, vpc_id: str) -> Vpc:
        return self._vpc_index[vpc_id]

    def bucket(self, name: str) -> Bucket:
        return next(b for b in self.buckets if b.name == name)

    def account(self, account_id: str) -> Account:
        return next(a for a in self.accounts if a.id == account_id)

    def account_named(self, name: str) -> Account:
        return next(a for a in self.accounts if a.name == name)

    def nat_for(self, vpc_id: str, az_index: int) -> NatGateway:
        nats = [n for n in self.nats if n.vpc_id == vpc_id]
        same = [n for n in nats if n.az_index == az_index]
        return (same or nats)[0]

    def index(self) -> None:
        self._eni_index = {e.id: e for e in self.enis}
        self._vpc_index = {v.id: v for v in self.vpcs}


class IdFactory:
    """AWS-shaped identifiers drawn from the estate's generator."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.seen: set[str] = set()

    def hex(self, n: int) -> str:
        while True:
            value = "".join(self.rng.choice(list("0123456789abcdef"), size=n))
            if value not in self.seen:
                self.seen.add(value)
                return value

    def aws(self, prefix: str, n: int = 17) -> str:
        return f"{prefix}-{self.hex(n)}"

    def account(self) -> str:
        while True:
            value = str(int(self.rng.integers(100_000_000_000, 999_999_999_999)))
            if value not in self.seen:
                self.seen.add(value)
                return value


# Public address blocks that are not AWS's: documentation ranges would be unrealistic, so the estate uses
# large consumer ISP and hosting blocks for "internet" peers. The attribution stage must classify these as
# internet because they are absent from ip-ranges.json.
INTERNET_BLOCKS = [
    "81.2.69.0/24",
    "89.160.20.0/24",
    "175.16.199.0/24",
    "216.160.83.0/24",
    "67.43.156.0/24",
    "2.125.160.0/24",
    "24.48.0.0/16",
    "98.0.0.0/12",
    "190.0.0.0/14",
    "121.0.0.0/13",
    "185.199.108.0/22",
    "151.101.0.0/16",
]
INTERNET_V6_BLOCKS = ["2a02:cf40::/32", "2001:480::/32", "2600:1700::/28"]
# Scanners and abusers that hit public ENIs and get REJECTed.
SCANNER_BLOCKS = ["45.155.205.0/24", "193.46.255.0/24", "162.142.125.0/24"]
# Addresses of AWS services by region (subsets of ip-ranges.json prefixes for S3, DynamoDB, CloudFront).
AWS_SERVICE_BLOCKS = {
    ("S3", "us-east-1"): "52.216.0.0/15",
    ("S3", "us-west-2"): "52.218.128.0/17",
    ("S3", "eu-west-1"): "52.218.0.0/17",
    ("DYNAMODB", "us-east-1"): "3.218.180.0/22",
    ("DYNAMODB", "us-west-2"): "35.71.64.0/22",
    ("DYNAMODB", "eu-west-1"): "52.119.240.0/21",
    ("CLOUDFRONT_ORIGIN_FACING", "GLOBAL"): "130.176.0.0/18",
}


def host_in(block: str, rng: np.random.Generator) -> str:
    net = ipaddress.ip_network(block)
    span = min(max(net.num_addresses - 2, 1), 2**62)  # IPv6 blocks: stay in int64 range
    return str(net.network_address + 1 + int(rng.integers(0, span)))


def owner_tags(team: str, owner: str, app: str, env: str = "prod") -> dict[str, str]:
    return {"owner": owner, "team": team, "app": app, "env": env}


def build_estate(seed: int, scale: str) -> Estate:
    """The organisation is fixed in shape (so incidents always have their preconditions) and seeded in detail."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    cfg = SCALES[scale]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    ids = IdFactory(rng)

    payer = Account(ids.account(), "org-management", "finops", "finops@example.com")
    web = Account(ids.account(), "prod-web", "storefront", "storefront-lead@example.com")
    data = Account(ids.account(), "prod-data", "data-platform", "data-platform@example.com")
    plat = Account(ids.account(), "prod-platform", "platform", "platform-oncall@example.com")
    accounts = [web, data, plat]
    log_bucket = {a.id: f"org-logs-{a.id}" for a in accounts}

    vpcs: list[Vpc] = []
    enis: list[Eni] = []
    nats: list[NatGateway] = []
    endpoints: list[VpcEndpoint] = []
    vpc_specs = [
        # account, region, cidr, flow format, delivery, hive, hourly partitions, s3 endpoint, ddb endpoint, ipv6
        (web, "us-east-1", "10.10.0.0/16", FLOW_FORMAT_V2, "text", False, False, True, False, True),
        (web, "eu-west-1", "10.11.0.0/16", FLOW_FORMAT_V5, "text", False, True, False, False, False),
        (data, "us-east-1", "10.20.0.0/16", FLOW_FORMAT_V5, "text", False, False, True, True, False),
        (data, "us-west-2", "10.21.0.0/16", FLOW_FORMAT_V5, "parquet", True, True, True, True, False),
        (plat, "us-east-1", "10.30.0.0/16", FLOW_FORMAT_V4, "text", True, False, True, True, True),
        (plat, "eu-west-1", "10.31.0.0/16", FLOW_FORMAT_V3, "text", False, False, True, False, False),
    ]
    for acct, region, cidr, fields, delivery, hive, hourly, s3_ep, ddb_ep, v6 in vpc_specs:
        vpc_id = ids.aws("vpc")
        ipv6_net = (
            ipaddress.IPv6Network(
                f"2600:1f18:{int(rng.integers(0x1000, 0xFFFF)):x}:{int(rng.integers(0, 0xFF)):02x}00::/56"
            )
            if v6
            else None
        )
        ipv6_cidr = str(ipv6_net) if ipv6_net else None
        vpc = Vpc(
            vpc_id,
            acct.id,
            region,
            cidr,
            3 if region == "us-east-1" else 2,
            FlowLogConfig(ids.aws("fl"), list(fields), delivery, hive, hourly, log_bucket[acct.id]),
            ids.aws("vpce") if s3_ep else None,
            ids.aws("vpce") if ddb_ep else None,
            ipv6_cidr,
        )
        net = ipaddress.ip_network(cidr)
        blocks = list(net.subnets(new_prefix=20))
        for az in range(vpc.azs):
            for public in (True, False):
                block = blocks[az * 2 + (0 if public else 1)]
                v6sub = str(list(ipv6_net.subnets(new_prefix=64))[az * 2 + int(not public)]) if ipv6_net else None
                vpc.subnets.append(Subnet(ids.aws("subnet"), vpc_id, az, str(block), public, v6sub))
        vpcs.append(vpc)
        for ep_id, svc in ((vpc.s3_gateway_endpoint, "s3"), (vpc.ddb_gateway_endpoint, "dynamodb")):
            if ep_id:
                endpoints.append(
                    VpcEndpoint(ep_id, acct.id, region, vpc_id, f"com.amazonaws.{region}.{svc}", "Gateway")
                )

    host_counter: dict[str, int] = {}

    def next_ip(subnet: Subnet) -> str:
        n = host_counter.get(subnet.id, 10) + int(rng.integers(1, 7))
        host_counter[subnet.id] = n
        return str(ipaddress.ip_network(subnet.cidr).network_address + n)

    def add_eni(
        vpc: Vpc,
        subnet: Subnet,
        kind: str,
        role: str,
        resource_id: str,
        tags: dict[str, str],
        public_ip: str | None = None,
        ipv6: bool = False,
    ) -> Eni:
        v6 = None
        if ipv6 and subnet.ipv6_cidr:
            v6 = str(ipaddress.IPv6Network(subnet.ipv6_cidr).network_address + int(ids.hex(8), 16))
        eni = Eni(
            ids.aws("eni"),
            vpc.account,
            vpc.region,
            vpc.id,
            subnet.id,
            subnet.az_index,
            next_ip(subnet),
            kind,
            role,
            resource_id,
            tags,
            public_ip,
            v6,
        )
        enis.append(eni)
        return eni

    def eip() -> str:
        # Elastic IPs come from EC2's published ranges in the VPC's region.
        return host_in(
            {"us-east-1": "3.208.0.0/12", "us-west-2": "35.80.0.0/12", "eu-west-1": "34.240.0.0/13"}[vpc.region], rng
        )

    alb_names: dict[str, str] = {}
    for vpc in vpcs:
        acct = next(a for a in accounts if a.id == vpc.account)
        pub = [s for s in vpc.subnets if s.public]
        priv = [s for s in vpc.subnets if not s.public]
        # One NAT gateway per AZ in us-east-1 VPCs, a single shared one elsewhere (a common cost shortcut).
        nat_azs = range(vpc.azs) if vpc.region == "us-east-1" else [0]
        for az in nat_azs:
            nat_id = ids.aws("nat")
            eni = add_eni(vpc, pub[az], "nat", "nat", nat_id, owner_tags(acct.team, acct.owner, "network"))
            nats.append(
                NatGateway(
                    nat_id,
                    acct.id,
                    vpc.region,
                    vpc.id,
                    pub[az].id,
                    az,
                    eni.id,
                    eni.private_ip,
                    eip(),
                    ids.aws("eipalloc"),
                )
            )
        app = {"prod-web": "storefront", "prod-data": "lakehouse", "prod-platform": "platform-api"}[acct.name]
        if acct.name == "prod-web":
            alb = f"app/{app}-alb/{ids.hex(16)}"
            alb_names[alb] = f"{app}-alb-{int(rng.integers(10**8, 10**9))}.{vpc.region}.elb.amazonaws.com"
            for az in range(vpc.azs):
                add_eni(vpc, pub[az], "alb", "alb", alb, owner_tags(acct.team, acct.owner, app))
        roles = {"prod-web": ["web", "api"], "prod-data": ["worker", "api"], "prod-platform": ["api", "worker"]}
        for role in roles[acct.name]:
            for i in range(cfg[role] + (1 if vpc.region == "us-east-1" else 0)):
                az = i % vpc.azs
                public_ip = eip() if role == "web" and i % 2 == 0 else None
                subnet = pub[az] if public_ip else priv[az]
                add_eni(
                    vpc,
                    subnet,
                    "ec2",
                    role,
                    ids.aws("i"),
                    owner_tags(acct.team, acct.owner, f"{app}-{role}"),
                    public_ip,
                    ipv6=bool(vpc.ipv6_cidr) and role == "web",
                )
        # A bastion host that is mostly idle (NODATA records) and scanned from the internet (REJECT records).
        add_eni(vpc, pub[0], "ec2", "bastion", ids.aws("i"), owner_tags(acct.team, acct.owner, "bastion"), eip())
        # Databases and caches that workloads call: the targets of cross-AZ chatter.
        for az in range(vpc.azs):
            add_eni(vpc, priv[az], "ec2", "db", ids.aws("i"), owner_tags(acct.team, acct.owner, f"{app}-db"))
        cluster = f"{app}-cluster"
        for i in range(cfg["ecs"]):
            az = i % vpc.azs
            task = f"arn:aws:ecs:{vpc.region}:{acct.id}:task/{cluster}/{ids.hex(32)}"
            add_eni(vpc, priv[az], "ecs", "svc", task, owner_tags(acct.team, acct.owner, f"{app}-svc"))
        # An interface endpoint (STS) in every VPC: processed bytes are billed per GB.
        ep = VpcEndpoint(ids.aws("vpce"), acct.id, vpc.region, vpc.id, f"com.amazonaws.{vpc.region}.sts", "Interface")
        for az in range(vpc.azs):
            eni = add_eni(vpc, priv[az], "vpce", "vpce", ep.id, owner_tags(acct.team, acct.owner, "network"))
            ep.eni_ids.append(eni.id)
        endpoints.append(ep)

    buckets = [
        Bucket(
            f"{web.name}-static-assets-{web.id[-4:]}",
            web.id,
            "us-east-1",
            "cloudfront-origin",
            replicate_to=[f"{web.name}-static-assets-dr-euw1-{web.id[-4:]}"],
            log_bucket=log_bucket[web.id],
            log_layout="partitioned",
            tags=owner_tags(web.team, web.owner, "storefront"),
        ),
        Bucket(
            f"{web.name}-static-assets-dr-euw1-{web.id[-4:]}",
            web.id,
            "eu-west-1",
            "replica",
            log_bucket=log_bucket[web.id],
            log_layout="simple",
            tags=owner_tags(web.team, web.owner, "storefront"),
        ),
        Bucket(
            f"{data.name}-public-datasets-{data.id[-4:]}",
            data.id,
            "us-east-1",
            "public-datasets",
            log_bucket=log_bucket[data.id],
            log_layout="simple",
            tags=owner_tags(data.team, data.owner, "open-data"),
        ),
        Bucket(
            f"{data.name}-lake-raw-{data.id[-4:]}",
            data.id,
            "us-east-1",
            "data-lake",
            log_bucket=log_bucket[data.id],
            log_layout="partitioned",
            tags=owner_tags(data.team, data.owner, "lakehouse"),
        ),
        Bucket(
            f"{data.name}-exports-euw1-{data.id[-4:]}",
            data.id,
            "eu-west-1",
            "exports",
            replicate_to=[f"{data.name}-exports-dr-use1-{data.id[-4:]}"],
            log_bucket=log_bucket[data.id],
            log_layout="simple",
            tags=owner_tags(data.team, data.owner, "exports"),
        ),
        Bucket(
            f"{data.name}-exports-dr-use1-{data.id[-4:]}",
            data.id,
            "us-east-1",
            "replica",
            log_bucket=log_bucket[data.id],
            log_layout="simple",
            tags=owner_tags(data.team, data.owner, "exports"),
        ),
        Bucket(
            f"{data.name}-exports-sae1-{data.id[-4:]}",
            data.id,
            "sa-east-1",
            "replica",
            log_bucket=log_bucket[data.id],
            log_layout="simple",
            tags=owner_tags(data.team, data.owner, "exports"),
        ),
    ] + [
        Bucket(b, a, "us-east-1", "logs", tags=owner_tags("platform", plat.owner, "logging"))
        for a, b in log_bucket.items()
    ]

    distributions = []
    web_alb = next(iter(alb_names))
    for origin_kind, origin, geo in (
        ("s3", buckets[0].name, {"US": 0.55, "EU": 0.25, "JP": 0.08, "AP": 0.07, "SA": 0.05}),
        ("alb", alb_names[web_alb], {"US": 0.6, "EU": 0.3, "IN": 0.05, "AU": 0.05}),
    ):
        dist_id = "E" + ids.hex(13).upper()
        distributions.append(
            Distribution(
                dist_id,
                web.id,
                f"d{ids.hex(13)}.cloudfront.net",
                origin_kind,
                origin,
                "us-east-1",
                log_bucket[web.id],
                f"cloudfront/{dist_id}/",
                [f"{'static' if origin_kind == 's3' else 'www'}.shop.example.com"],
                owner_tags(web.team, web.owner, "storefront"),
                geo,
            )
        )

    estate = Estate(seed, scale, payer, accounts, vpcs, enis, nats, endpoints, buckets, distributions, alb_names)
    estate.index()
    return estate


__all__ = ["Estate", "az_id", "az_name", "build_estate"]
