"""The generated estate as live AWS resources on moto: a simulation of the estate for the demo, so that the
response workflow run locally (``respond.local``) finds the resources its incidents name, configured as the
generator says they were while the incidents happened.

The generator writes logs, a bill and an inventory snapshot; the response reads AWS's APIs instead.
``materialize`` creates, with boto3 inside an active moto mock, what those APIs would answer for the estate
(``topology.Estate``) and its injected incidents (``incidents.Incident``), nothing else:

- accounts: each member account grants the response a role (``role_name``, created there); everything of an
  account is created through that role, so moto keeps it in that account, as the response reads it through
  the same role (``MEMBER_ROLE_NAME``);
- per VPC: its subnets (the estate's CIDRs and AZs), an internet gateway with a public route table, one NAT
  gateway per AZ in us-east-1 and one shared elsewhere (its Elastic IP, ENI and private address), a route table
  per private subnet sending 0.0.0.0/0 through its AZ's NAT gateway, the S3 and DynamoDB gateway endpoints the
  VPC has on those route tables (where it has none, S3 and DynamoDB traffic goes through the NAT gateway, as
  the generated flow logs show), its STS interface endpoint with its ENIs;
- a security group per workload role with AWS's default egress (all traffic to 0.0.0.0/0) where the generated
  traffic calls out to the internet (web, api, worker and ECS service ENIs) and egress to the VPC's CIDR only
  where it does not (databases, bastions, load balancer and endpoint ENIs); ingress rules are not mirrored
  (no check reads them);
- the workload ENIs with their private and public addresses, groups and tags; EC2 instances on the ENIs of EC2
  workloads (instance type per role, an Amazon Linux AMI of moto's);
- buckets in their regions with their tags, public access blocks, policies, versioning where replication
  needs it, replication rules and the replication roles those name;
- CloudFront distributions (origin, aliases, logging, cache policy, tags) and the S3 origin's access control.

Ids are the estate's own, the ones its logs, bill and inventory carry (``eni-``, ``nat-``, ``vpce-``,
``subnet-``, ``vpc-``, ``i-``, ``eipalloc-``, distribution ids), and the route table and security group ids its
inventory derives: moto draws every new id from a module-level function (``random_vpc_id`` ...), and for the
duration of one create call ``_ids`` has that function return the estate's id instead, so a resource carries
its id from birth and every reference to it agrees. That reaches into moto's internals: if moto stops drawing
an id where expected, ``_ids`` fails loudly rather than leave a resource with another id.

Configuration is the normal one, plus the misconfiguration of every incident in ``incidents`` (the demo
passes all of them: each response finds its incident's resources as they were while it was happening;
incidents of different kinds touch different resources, so they coexist):

- ``public_s3_exfiltration``: the bucket policy's public statement widened from ``datasets/*`` to the whole
  bucket (the public access block leaves public policies allowed, as on the normal bucket);
- ``nat_gateway_s3_no_endpoint``: the S3 gateway endpoint deleted, or taken off the route tables of the subnets
  whose traffic moved onto the NAT gateway;
- ``cloudfront_cache_hit_collapse``: the default behaviour's cache policy switched to CachingDisabled;
- ``s3_replication_extra_region``: an extra replication rule copying to the other region's bucket (one per
  destination when several incidents add one: the first incident's).
Cross-AZ deployments, slow ramps and planned migrations change traffic, not configuration the response reads.

Not mirrored, because moto cannot give them the estate's ids or no check reads them: ECS clusters, services
and tasks (their ENIs are mirrored, without AWS's ``aws:ecs:*`` tags, which only AWS may set), the load
balancers (their ENIs are mirrored), IPv6 blocks and addresses (moto assigns its own), the interface
endpoint ENIs' security groups (moto gives them, and NAT gateway ENIs, the VPC's default group; AWS gives NAT
gateway ENIs none), flow logs, bucket access logging,
CloudTrail and the CUR (the response reads those from the generated files).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

import boto3

from egress_optimizer.estate.incidents import Incident
from egress_optimizer.estate.topology import Distribution, Estate, Vpc
from egress_optimizer.estate.writers.files import stable_hex
from egress_optimizer.estate.writers.inventory import (
    CACHING_DISABLED,
    CACHING_OPTIMIZED,
    public_datasets_policy,
    replication_config,
)
from egress_optimizer.regions import az_name

MEMBER_ROLE = "egress-response-member"
# Roles whose generated traffic calls out to the internet keep AWS's default egress (everything, anywhere).
INTERNET_ROLES = ("web", "api", "worker", "svc")
INSTANCE_TYPES = {"web": "m6i.large", "api": "m6i.xlarge", "worker": "r6i.2xlarge", "db": "r6g.xlarge",
                  "bastion": "t3.micro"}  # fmt: skip
BLOCK_KEYS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
# Where moto draws each kind of id (the functions ``_ids`` stands in for during one create call).
MOTO_ID_SOURCES = {
    "vpc": "moto.ec2.models.vpcs.random_vpc_id",
    "subnet": "moto.ec2.models.subnets.random_subnet_id",
    "route_table": "moto.ec2.models.route_tables.random_route_table_id",
    "security_group": "moto.ec2.models.security_groups.random_security_group_id",
    "eni": "moto.ec2.models.elastic_network_interfaces.random_eni_id",
    "nat": "moto.ec2.models.nat_gateways.random_nat_gateway_id",
    "nat_ip": "moto.ec2.models.nat_gateways.random_private_ip",
    "endpoint": "moto.ec2.models.vpcs.random_vpc_ep_id",
    "endpoint_ip": "moto.ec2.models.vpcs.random_private_ip",
    "instance": "moto.ec2.models.instances.random_instance_id",
    "allocation": "moto.ec2.models.elastic_ip_addresses.random_eip_allocation_id",
    "cloudfront": "moto.cloudfront.models.random_id",
}


@contextmanager
def _ids(**given: list[str]) -> Iterator[None]:
    """During the block, moto's new ids of each kind are ``given``'s, in order; all of them must be drawn."""
    queues = {kind: list(values) for kind, values in given.items()}
    with ExitStack() as stack:
        for kind, queue in queues.items():

            def draw(*_: Any, _queue: list[str] = queue, _kind: str = kind, **__: Any) -> str:
                if not _queue:
                    raise RuntimeError(f"moto drew more {_kind} ids than the estate names")
                return _queue.pop(0)

            stack.enter_context(mock.patch(MOTO_ID_SOURCES[kind], side_effect=draw))
        yield
    left = {kind: queue for kind, queue in queues.items() if queue}
    if left:
        raise RuntimeError(f"moto did not draw these ids where expected (has it changed?): {left}")


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items()) if not k.startswith("aws:")]


def _spec(resource_type: str, tags: dict[str, str]) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": _tags(tags)}] if tags else []


def private_route_table_id(vpc: Vpc, az_index: int) -> str:
    """The route table of a VPC's private subnet in an AZ, as the estate's inventory names it (the CloudTrail
    writer's ModifyVpcEndpoint events derive their route table ids from subnet ids instead: they disagree)."""
    return "rtb-" + stable_hex("rtb", vpc.id, az_index, n=17)


def security_group_id(vpc_id: str, role: str) -> str:
    """The security group of a workload role in a VPC, as the estate's inventory names it."""
    return "sg-" + stable_hex("sg", vpc_id, role, n=17)


class Injected:
    """What the incidents changed, by resource."""

    def __init__(self, estate: Estate, incidents: Iterable[Incident]):
        self.public_buckets: set[str] = set()
        self.deleted_endpoints: set[str] = set()
        self.unrouted: dict[str, set[str]] = {}  # endpoint id -> route tables taken off it
        self.extra_rules: dict[str, dict[str, str]] = {}  # source bucket -> destination -> prefix
        self.caching_disabled: set[str] = set()
        for inc in incidents:
            p = inc.params
            if inc.kind == "public_s3_exfiltration":
                self.public_buckets.update(inc.resources[:1])
            elif inc.kind == "nat_gateway_s3_no_endpoint":
                if p["full_delete"]:
                    self.deleted_endpoints.add(p["endpoint_id"])
                else:
                    vpc = estate.vpc(p["vpc_id"])
                    azs = {s.az_index for s in vpc.subnets if s.id in p["subnets"]}
                    tables = {private_route_table_id(vpc, az) for az in azs}
                    self.unrouted.setdefault(p["endpoint_id"], set()).update(tables)
            elif inc.kind == "cloudfront_cache_hit_collapse":
                self.caching_disabled.add(p["distribution"])
            elif inc.kind == "s3_replication_extra_region":
                rules = self.extra_rules.setdefault(p["source_bucket"], {})
                rules.setdefault(p["destination_bucket"], p["rule_prefix"])


def materialize(estate: Estate, incidents: Iterable[Incident], role_name: str = MEMBER_ROLE) -> dict[str, int]:
    """Create the estate on moto (which must be active: nothing here may reach AWS) with the misconfigurations
    of ``incidents`` in place; returns how many resources of each kind were created."""
    from moto.core.models import MockAWS

    if not MockAWS._mocks_active:
        raise RuntimeError("materialize creates a simulated estate and runs only inside moto's mock_aws")
    injected = Injected(estate, incidents)
    made: Counter[str] = Counter()
    sessions = {a.id: _member_session(a.id, role_name) for a in estate.accounts}
    made["account"] = len(sessions)
    for vpc in estate.vpcs:
        _vpc(sessions[vpc.account].client("ec2", region_name=vpc.region), estate, vpc, injected, made)
    _buckets(estate, sessions, injected, made)
    for d in estate.distributions:
        _distribution(sessions[d.account].client("cloudfront", region_name="us-east-1"), d, injected, made)
    return dict(made)


def _member_session(account: str, role_name: str) -> boto3.session.Session:
    """A session in ``account`` through ``role_name``, which it then grants the caller's account (as each member
    account grants the response its role)."""
    sts = boto3.client("sts", region_name="us-east-1")
    caller = sts.get_caller_identity()["Account"]
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role_name}", RoleSessionName="egress-estate")[
        "Credentials"
    ]
    session = boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"AWS": f"arn:aws:iam::{caller}:root"}}]}  # fmt: skip
    session.client("iam").create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))
    return session


# ---- EC2 / VPC ---------------------------------------------------------------------------------------------------
def _vpc(ec2: Any, estate: Estate, vpc: Vpc, injected: Injected, made: Counter[str]) -> None:
    _network(ec2, estate, vpc, made)
    _nat_gateways(ec2, estate, vpc, made)
    private = _private_routes(ec2, estate, vpc, made)
    enis = [e for e in estate.enis if e.vpc_id == vpc.id and e.kind != "nat"]
    groups = _security_groups(ec2, vpc, enis, made)
    _gateway_endpoints(ec2, estate, vpc, private, injected, made)
    _workload_enis(ec2, enis, groups, made)
    _interface_endpoints(ec2, estate, vpc, groups, made)


def _network(ec2: Any, estate: Estate, vpc: Vpc, made: Counter[str]) -> None:
    """The VPC, its subnets, its internet gateway and the public route table."""
    account = estate.account(vpc.account)
    ec2.describe_vpcs()  # moto builds a region (its default VPC, with its own ids) on first use: not under _ids
    with _ids(vpc=[vpc.id]):
        ec2.create_vpc(CidrBlock=vpc.cidr, TagSpecifications=_spec("vpc", {"Name": f"{account.name}-{vpc.region}"}))
    for s in vpc.subnets:
        zone = az_name(vpc.region, s.az_index)
        name = {"Name": f"{'public' if s.public else 'private'}-{zone}"}
        with _ids(subnet=[s.id]):
            ec2.create_subnet(VpcId=vpc.id, CidrBlock=s.cidr, AvailabilityZone=zone,
                              TagSpecifications=_spec("subnet", name))  # fmt: skip
        if s.public:
            ec2.modify_subnet_attribute(SubnetId=s.id, MapPublicIpOnLaunch={"Value": True})
    made["vpc"] += 1
    made["subnet"] += len(vpc.subnets)

    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc.id)
    public = ec2.create_route_table(VpcId=vpc.id, TagSpecifications=_spec("route-table", {"Name": "public"}))
    public_id = public["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    for s in (s for s in vpc.subnets if s.public):
        ec2.associate_route_table(RouteTableId=public_id, SubnetId=s.id)


def _nat_gateways(ec2: Any, estate: Estate, vpc: Vpc, made: Counter[str]) -> None:
    for n in (n for n in estate.nats if n.vpc_id == vpc.id):
        with _ids(allocation=[n.allocation_id]):
            ec2.allocate_address(Domain="vpc", Address=n.public_ip)
        with _ids(nat=[n.id], eni=[n.eni_id], nat_ip=[n.private_ip]):
            ec2.create_nat_gateway(SubnetId=n.subnet_id, AllocationId=n.allocation_id,
                                   TagSpecifications=_spec("natgateway", estate.eni(n.eni_id).tags))  # fmt: skip
        made["nat_gateway"] += 1


def _private_routes(ec2: Any, estate: Estate, vpc: Vpc, made: Counter[str]) -> dict[str, str]:
    """A route table per private subnet, 0.0.0.0/0 through its zone's NAT gateway; subnet id -> table id."""
    private = {}
    for s in (s for s in vpc.subnets if not s.public):
        rtb = private_route_table_id(vpc, s.az_index)
        with _ids(route_table=[rtb]):
            ec2.create_route_table(VpcId=vpc.id, TagSpecifications=_spec("route-table", {"Name": f"private-{s.id}"}))
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0",
                         NatGatewayId=estate.nat_for(vpc.id, s.az_index).id)  # fmt: skip
        ec2.associate_route_table(RouteTableId=rtb, SubnetId=s.id)
        private[s.id] = rtb
    made["route_table"] += len(private) + 1
    return private


def _security_groups(ec2: Any, vpc: Vpc, enis: list, made: Counter[str]) -> dict[str, str]:
    """One group per role; only roles that talk to the internet keep AWS's default open egress."""
    groups: dict[str, str] = {}
    for e in enis:
        if e.role in groups:
            continue
        groups[e.role] = security_group_id(vpc.id, e.role)
        with _ids(security_group=[groups[e.role]]):
            ec2.create_security_group(VpcId=vpc.id, GroupName=f"{e.tags['app']}-sg", Description=f"{e.role} ENIs",
                                      TagSpecifications=_spec("security-group", {"app": e.tags["app"]}))  # fmt: skip
        if e.role not in INTERNET_ROLES:
            everything = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
            ec2.revoke_security_group_egress(GroupId=groups[e.role], IpPermissions=everything)
            inside = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": vpc.cidr, "Description": "within the VPC"}]}]
            ec2.authorize_security_group_egress(GroupId=groups[e.role], IpPermissions=inside)
    made["security_group"] += len(groups)
    return groups


def _gateway_endpoints(
    ec2: Any, estate: Estate, vpc: Vpc, private: dict[str, str], injected: Injected, made: Counter[str]
) -> None:
    for ep in (ep for ep in estate.endpoints if ep.vpc_id == vpc.id and ep.type == "Gateway"):
        if ep.id in injected.deleted_endpoints:
            continue
        tables = sorted(set(private.values()) - injected.unrouted.get(ep.id, set()))
        with _ids(endpoint=[ep.id]):
            ec2.create_vpc_endpoint(VpcId=vpc.id, ServiceName=ep.service, VpcEndpointType="Gateway",
                                    RouteTableIds=tables)  # fmt: skip
        made["gateway_endpoint"] += 1


def _workload_enis(ec2: Any, enis: list, groups: dict[str, str], made: Counter[str]) -> None:
    """The workloads' interfaces (and the EC2 instances on them), with their addresses and tags."""
    images: dict[str, str] = {}
    for e in (e for e in enis if e.kind != "vpce"):
        description = {
            "alb": f"ELB {e.resource_id}",
            "ecs": f"arn:aws:ecs:{e.region}:{e.account}:attachment/{stable_hex('ecsatt', e.id, n=32)}",
        }.get(e.kind, "")
        with _ids(eni=[e.id]):
            ec2.create_network_interface(SubnetId=e.subnet_id, PrivateIpAddress=e.private_ip, Groups=[groups[e.role]],
                                         Description=description,
                                         TagSpecifications=_spec("network-interface", e.tags))  # fmt: skip
        made["network_interface"] += 1
        if e.public_ip:
            allocation = ec2.allocate_address(Domain="vpc", Address=e.public_ip)["AllocationId"]
            ec2.associate_address(AllocationId=allocation, NetworkInterfaceId=e.id)
        if e.kind == "ec2":
            kind = INSTANCE_TYPES[e.role]
            arch = "arm64" if kind.split(".")[0].endswith("g") else "x86_64"
            if arch not in images:
                images[arch] = _image(ec2, arch)
            with _ids(instance=[e.resource_id]):
                ec2.run_instances(ImageId=images[arch], InstanceType=kind, MinCount=1, MaxCount=1,
                                  NetworkInterfaces=[{"NetworkInterfaceId": e.id, "DeviceIndex": 0}],
                                  TagSpecifications=_spec("instance", e.tags))  # fmt: skip
            made["instance"] += 1


def _interface_endpoints(ec2: Any, estate: Estate, vpc: Vpc, groups: dict[str, str], made: Counter[str]) -> None:
    for ep in (ep for ep in estate.endpoints if ep.vpc_id == vpc.id and ep.type == "Interface"):
        endpoint_enis = [estate.eni(x) for x in ep.eni_ids]
        with _ids(endpoint=[ep.id], eni=list(ep.eni_ids), endpoint_ip=[x.private_ip for x in endpoint_enis]):
            ec2.create_vpc_endpoint(VpcId=vpc.id, ServiceName=ep.service, VpcEndpointType="Interface",
                                    SubnetIds=[x.subnet_id for x in endpoint_enis], PrivateDnsEnabled=True,
                                    SecurityGroupIds=[groups["vpce"]] if "vpce" in groups else [])  # fmt: skip
        if endpoint_enis:
            ec2.create_tags(Resources=list(ep.eni_ids), Tags=_tags(endpoint_enis[0].tags))
        made["interface_endpoint"] += 1
        made["network_interface"] += len(endpoint_enis)
    made["network_interface"] += sum(1 for n in estate.nats if n.vpc_id == vpc.id)


def _image(ec2: Any, arch: str) -> str:
    """An Amazon Linux 2023 AMI of moto's for ``arch`` (the estate does not say which image its hosts run)."""
    found = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": [f"al2023-ami-2023*-{arch}"]}])[
        "Images"
    ]
    return min(found, key=lambda i: i["Name"])["ImageId"]


# ---- S3 ------------------------------------------------------------------------------------------------------------
def _buckets(estate: Estate, sessions: dict[str, Any], injected: Injected, made: Counter[str]) -> None:
    clients: dict[tuple[str, str], Any] = {}

    def s3_in(account: str, region: str) -> Any:
        if (account, region) not in clients:
            clients[(account, region)] = sessions[account].client("s3", region_name=region)
        return clients[(account, region)]

    extra = {src: sorted(rules.items()) for src, rules in injected.extra_rules.items()}
    replicated = {b.name for b in estate.buckets if b.replicate_to or b.name in extra}
    replicated |= {d for b in estate.buckets for d in b.replicate_to} | {d for r in extra.values() for d, _ in r}
    for b in estate.buckets:
        s3 = s3_in(b.account, b.region)
        location = {} if b.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": b.region}}
        s3.create_bucket(Bucket=b.name, **location)
        if b.tags:
            s3.put_bucket_tagging(Bucket=b.name, Tagging={"TagSet": _tags(b.tags)})
        if b.name in replicated:
            s3.put_bucket_versioning(Bucket=b.name, VersioningConfiguration={"Status": "Enabled"})
        if b.purpose in ("public-datasets", "public-downloads"):
            policy = public_datasets_policy(b.name, b.name in injected.public_buckets)
            s3.put_bucket_policy(Bucket=b.name, Policy=policy)
            block = {k: k in ("BlockPublicAcls", "IgnorePublicAcls") for k in BLOCK_KEYS}
        else:
            block = dict.fromkeys(BLOCK_KEYS, True)
        s3.put_public_access_block(Bucket=b.name, PublicAccessBlockConfiguration=block)
        made["bucket"] += 1
    for b in estate.buckets:  # every destination exists (and is versioned) before a rule names it
        if not (b.replicate_to or b.name in extra):
            continue
        config = replication_config(estate, b.name, extra.get(b.name, []))
        role = config["Role"].rsplit("/", 1)[-1]
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                 "Principal": {"Service": "s3.amazonaws.com"}}]}  # fmt: skip
        sessions[b.account].client("iam").create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
        s3_in(b.account, b.region).put_bucket_replication(Bucket=b.name, ReplicationConfiguration=config)
        made["replication_configuration"] += 1


# ---- CloudFront ----------------------------------------------------------------------------------------------------
def _distribution(cf: Any, d: Distribution, injected: Injected, made: Counter[str]) -> None:
    if d.origin_kind == "s3":
        oac = "E" + stable_hex("oac", d.id, n=13).upper()
        with _ids(cloudfront=[oac, "E" + stable_hex("oac-etag", d.id, n=13).upper()]):
            cf.create_origin_access_control(OriginAccessControlConfig={
                "Name": f"{d.origin}-oac", "Description": f"{d.aliases[0]} reads {d.origin}",
                "SigningProtocol": "sigv4", "SigningBehavior": "always", "OriginAccessControlOriginType": "s3",
            })  # fmt: skip
        origin = {"Id": "s3-origin", "DomainName": f"{d.origin}.s3.us-east-1.amazonaws.com", "OriginPath": "",
                  "S3OriginConfig": {"OriginAccessIdentity": ""}, "OriginAccessControlId": oac}  # fmt: skip
    else:
        origin = {"Id": "alb-origin", "DomainName": d.origin, "OriginPath": "",
                  "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only",
                                         "OriginSslProtocols": {"Quantity": 1, "Items": ["TLSv1.2"]}}}  # fmt: skip
    config = {
        "CallerReference": stable_hex("caller", d.id, n=12),
        "Comment": d.aliases[0],
        "Aliases": {"Quantity": len(d.aliases), "Items": d.aliases},
        "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": {
            "TargetOriginId": origin["Id"],
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": CACHING_DISABLED if d.id in injected.caching_disabled else CACHING_OPTIMIZED,
            "Compress": True,
        },
        "Logging": {
            "Enabled": True,
            "IncludeCookies": False,
            "Bucket": f"{d.log_bucket}.s3.amazonaws.com",
            "Prefix": d.log_prefix,
        },
        "PriceClass": "PriceClass_All",
        "Enabled": True,
        "HttpVersion": "http2and3",
    }
    # moto draws a distribution's id, then its domain name's label, then its ETag.
    etag = "E" + stable_hex("etag", d.id, n=13).upper()
    with _ids(cloudfront=[d.id, d.domain.split(".", 1)[0], etag]):
        cf.create_distribution_with_tags(
            DistributionConfigWithTags={"DistributionConfig": config, "Tags": {"Items": _tags(d.tags)}}
        )
    made["distribution"] += 1
