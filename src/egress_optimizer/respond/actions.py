"""Remediation actions: small registered classes, each with a dry-run plan, apply, verify and rollback.

Only actions in ``CATALOGUE`` can be proposed or applied; each declares its risk, the IAM actions it needs and
the resource kinds it applies to. A plan carries the target (the flagged resource and what the incident says
about it), the part of its configuration the action touches as it is now, the proposed configuration, a
human-readable diff and a hash of all of it: apply re-reads the configuration and refuses when it is no longer
the planned one (it changed since the plan was approved), and refuses a plan whose hash does not match its
content (it was altered). Applying an action already in place changes nothing; rollback writes back exactly
the configuration apply found.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, ClassVar

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from egress_optimizer.contracts.incident import Entity, EntityKind
from egress_optimizer.respond.aws_config import GATEWAY_SERVICES, bucket_region, error_code, grants_everyone


class Drift(Exception):
    """The resource changed since its plan was made: the plan no longer describes what would change."""


class ResourceGone(LookupError):
    """The flagged resource no longer exists (or is not visible to the response): nothing to plan."""


def _first(items: list[dict[str, Any]], what: str) -> dict[str, Any]:
    if not items:
        raise ResourceGone(f"{what} not found")
    return items[0]


class Target(BaseModel):
    """What an action acts on: the flagged resource, where it is, and the incident's view of its path."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    account: str
    region: str
    destination_class: str = ""
    peer: str | None = None

    @classmethod
    def of(cls, e: Entity) -> Target:
        return cls(id=e.id, account=e.account, region=e.region, destination_class=e.destination_class, peer=e.peer)


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action_id: str
    target: Target
    current: dict[str, Any]
    proposed: dict[str, Any]
    changes: list[str]
    hash: str

    @property
    def resource(self) -> str:
        return self.target.id

    @property
    def account(self) -> str:
        return self.target.account

    @property
    def region(self) -> str:
        return self.target.region


class Applied(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    plan: Plan
    prior: dict[str, Any]
    changed: bool
    applied_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def _digest(action_id: str, target: Target, current: dict, proposed: dict) -> str:
    body = json.dumps([action_id, target.model_dump(), current, proposed], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def diff_lines(current: dict[str, Any], proposed: dict[str, Any]) -> list[str]:
    out = []
    for key in sorted(set(current) | set(proposed)):
        before, after = current.get(key), proposed.get(key)
        if before != after:
            out.append(f"{key}: {json.dumps(before, sort_keys=True, default=str)} -> "
                       f"{json.dumps(after, sort_keys=True, default=str)}")  # fmt: skip
    return out


class Action:
    id: ClassVar[str]
    description: ClassVar[str]
    risk: ClassVar[str]
    iam_actions: ClassVar[tuple[str, ...]]
    resource_kinds: ClassVar[tuple[EntityKind, ...]]

    def applies_to(self, entity: Entity) -> bool:
        return entity.kind in self.resource_kinds

    def read(self, clients: Any, target: Target) -> dict[str, Any]:
        raise NotImplementedError

    def propose(self, current: dict[str, Any], target: Target) -> dict[str, Any]:
        raise NotImplementedError

    def write(self, clients: Any, target: Target, config: dict[str, Any], before: dict[str, Any]) -> None:
        """Make the touched configuration ``config`` (it is ``before`` now)."""
        raise NotImplementedError

    def plan(self, clients: Any, entity: Entity) -> Plan:
        target = Target.of(entity)
        current = self.read(clients, target)
        proposed = self.propose(current, target)
        return Plan(
            action_id=self.id,
            target=target,
            current=current,
            proposed=proposed,
            changes=diff_lines(current, proposed),
            hash=_digest(self.id, target, current, proposed),
        )

    def apply(self, clients: Any, plan: Plan) -> Applied:
        if plan.action_id != self.id or _digest(self.id, plan.target, plan.current, plan.proposed) != plan.hash:
            raise ValueError(f"plan for {plan.resource} does not match its hash: it was altered after it was made")
        current = self.read(clients, plan.target)
        if current == plan.proposed:
            return Applied(plan=plan, prior=plan.current, changed=False)
        if current != plan.current:
            raise Drift(f"{plan.resource} changed since the plan was made; plan again and ask for a new approval")
        self.write(clients, plan.target, plan.proposed, current)
        return Applied(plan=plan, prior=current, changed=True)

    def verify(self, clients: Any, applied: Applied) -> bool:
        return self.read(clients, applied.plan.target) == applied.plan.proposed

    def rollback(self, clients: Any, applied: Applied) -> None:
        if applied.changed:
            now = self.read(clients, applied.plan.target)
            self.write(clients, applied.plan.target, applied.prior, now)

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "description": self.description,
            "risk": self.risk,
            "iam_actions": list(self.iam_actions),
            "resource_kinds": [k.value for k in self.resource_kinds],
        }


CATALOGUE: dict[str, Action] = {}


def register(cls: type[Action]) -> type[Action]:
    CATALOGUE[cls.id] = cls()
    return cls


def _bucket(target: Target) -> str:
    return target.id.rsplit(":", 1)[-1]


# ---- S3 ----------------------------------------------------------------------------------------------------------
BLOCK_KEYS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


@register
class S3BlockPublicAccess(Action):
    id = "s3.block-public-access"
    description = "Turn on all four settings of the bucket's public access block."
    risk = "medium: anything that reads the bucket anonymously stops working"
    iam_actions = ("s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock")
    resource_kinds = (EntityKind.s3_bucket,)

    def read(self, clients: Any, target: Target) -> dict[str, Any]:
        try:
            got = clients.for_service("s3").get_public_access_block(Bucket=_bucket(target))
        except ClientError as exc:
            if error_code(exc) != "NoSuchPublicAccessBlockConfiguration":
                raise
            return {}
        return {k: bool(got["PublicAccessBlockConfiguration"].get(k)) for k in BLOCK_KEYS}

    def propose(self, current: dict[str, Any], target: Target) -> dict[str, Any]:
        return dict.fromkeys(BLOCK_KEYS, True)

    def write(self, clients: Any, target: Target, config: dict[str, Any], before: dict[str, Any]) -> None:
        s3 = clients.for_service("s3")
        if config:
            s3.put_public_access_block(Bucket=_bucket(target), PublicAccessBlockConfiguration=config)
        else:
            s3.delete_public_access_block(Bucket=_bucket(target))


@register
class S3RemovePublicPolicyStatements(Action):
    id = "s3.remove-public-policy-statements"
    description = "Drop the bucket policy's statements that allow everyone without a condition; keep the rest."
    risk = "medium: anonymous readers lose access; every other grant stays"
    iam_actions = ("s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy")
    resource_kinds = (EntityKind.s3_bucket,)

    def read(self, clients: Any, target: Target) -> dict[str, Any]:
        try:
            doc = json.loads(clients.for_service("s3").get_bucket_policy(Bucket=_bucket(target))["Policy"])
        except ClientError as exc:
            if error_code(exc) != "NoSuchBucketPolicy":
                raise
            return {}
        return {"policy": doc}

    def propose(self, current: dict[str, Any], target: Target) -> dict[str, Any]:
        if not current:
            return {}
        doc = dict(current["policy"])
        statements = doc.get("Statement", [])
        statements = statements if isinstance(statements, list) else [statements]
        kept = [s for s in statements if not grants_everyone(s)]
        return {"policy": {**doc, "Statement": kept}} if kept else {}

    def write(self, clients: Any, target: Target, config: dict[str, Any], before: dict[str, Any]) -> None:
        s3 = clients.for_service("s3")
        if config:
            s3.put_bucket_policy(Bucket=_bucket(target), Policy=json.dumps(config["policy"]))
        else:
            s3.delete_bucket_policy(Bucket=_bucket(target))


@register
class S3DisableReplicationRule(Action):
    id = "s3.disable-replication-rule"
    description = "Disable the replication rules that copy to the region the incident's bytes went to; keep the rest."
    risk = "low: new objects stop being copied by that rule; copies already made stay"
    iam_actions = ("s3:GetReplicationConfiguration", "s3:PutReplicationConfiguration", "s3:GetBucketLocation",
                   "iam:PassRole")  # fmt: skip
    resource_kinds = (EntityKind.s3_bucket,)

    def applies_to(self, entity: Entity) -> bool:
        return super().applies_to(entity) and entity.destination_class == "replication" and bool(entity.peer)

    def read(self, clients: Any, target: Target) -> dict[str, Any]:
        s3 = clients.for_service("s3")
        try:
            cfg = s3.get_bucket_replication(Bucket=_bucket(target))["ReplicationConfiguration"]
        except ClientError as exc:
            if error_code(exc) != "ReplicationConfigurationNotFoundError":
                raise
            return {}
        regions = {}
        for rule in cfg.get("Rules", []):
            dest = rule.get("Destination", {}).get("Bucket", "").rsplit(":", 1)[-1]
            regions[dest] = bucket_region(s3, dest)
        return {"configuration": cfg, "destination_regions": regions}

    def propose(self, current: dict[str, Any], target: Target) -> dict[str, Any]:
        if not current:
            return {}
        rules = []
        for rule in current["configuration"].get("Rules", []):
            dest = rule.get("Destination", {}).get("Bucket", "").rsplit(":", 1)[-1]
            wrong = current["destination_regions"].get(dest) == target.peer
            rules.append({**rule, "Status": "Disabled"} if wrong else rule)
        return {**current, "configuration": {**current["configuration"], "Rules": rules}}

    def write(self, clients: Any, target: Target, config: dict[str, Any], before: dict[str, Any]) -> None:
        clients.for_service("s3").put_bucket_replication(
            Bucket=_bucket(target), ReplicationConfiguration=config["configuration"]
        )


# ---- EC2 / VPC -----------------------------------------------------------------------------------------------------
def _open(permission: dict) -> dict | None:
    """The part of an egress permission open to the whole internet (IPv4 0.0.0.0/0, IPv6 ::/0), or None."""
    v4 = [r for r in permission.get("IpRanges", []) if r.get("CidrIp") == "0.0.0.0/0"]
    v6 = [r for r in permission.get("Ipv6Ranges", []) if r.get("CidrIpv6") == "::/0"]
    if not v4 and not v6:
        return None
    out = {k: permission[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in permission}
    return {
        **out,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}] if v4 else [],
        "Ipv6Ranges": [{"CidrIpv6": "::/0"}] if v6 else [],
    }


@register
class Ec2RevokeOpenEgress(Action):
    id = "ec2.revoke-open-egress"
    description = "Revoke the egress rules open to 0.0.0.0/0 and ::/0 on the security groups of the flagged interface."
    risk = "high: the interface loses internet egress the application may need; other rules stay"
    iam_actions = ("ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:RevokeSecurityGroupEgress",
                   "ec2:AuthorizeSecurityGroupEgress")  # fmt: skip
    resource_kinds = (EntityKind.network_interface,)

    def read(self, clients: Any, target: Target) -> dict[str, Any]:
        ec2 = clients.for_service("ec2")
        eni = _first(ec2.describe_network_interfaces(NetworkInterfaceIds=[target.id])["NetworkInterfaces"], target.id)
        ids = sorted(g["GroupId"] for g in eni.get("Groups", []))
        groups = ec2.describe_security_groups(GroupIds=ids)["SecurityGroups"] if ids else []
        return {
            "open_egress": {
                g["GroupId"]: sorted(
                    (o for o in (_open(p) for p in g.get("IpPermissionsEgress", [])) if o),
                    key=lambda o: json.dumps(o, sort_keys=True),
                )
                for g in groups
            }
        }

    def propose(self, current: dict[str, Any], target: Target) -> dict[str, Any]:
        return {"open_egress": {key: [] for key in current["open_egress"]}}

    def write(self, clients: Any, target: Target, config: dict[str, Any], before: dict[str, Any]) -> None:
        ec2 = clients.for_service("ec2")
        for group, now in before["open_egress"].items():
            wanted = config["open_egress"].get(group, [])
            drop = [p for p in now if p not in wanted]
            add = [p for p in wanted if p not in now]
            if drop:
                ec2.revoke_security_group_egress(GroupId=group, IpPermissions=drop)
            if add:
                ec2.authorize_security_group_egress(GroupId=group, IpPermissions=add)


CREATED_BY_TAG = "egress-optimizer:created-by"


@register
class VpcAddGatewayEndpoint(Action):
    id = "vpc.add-gateway-endpoint"
    description = (
        "Put the S3 or DynamoDB gateway endpoint of the VPC on the route tables that send traffic through the "
        "flagged NAT gateway (creating the endpoint if the VPC has none), so that traffic stops paying NAT "
        "processing."
    )
    risk = "low: the service's traffic takes the endpoint instead of the NAT gateway; endpoint policies apply"
    # The endpoint is created tagged (so rollback knows it made it): AWS authorises its tags as ec2:CreateTags.
    iam_actions = ("ec2:DescribeNatGateways", "ec2:DescribeRouteTables", "ec2:DescribeVpcEndpoints",
                   "ec2:CreateVpcEndpoint", "ec2:ModifyVpcEndpoint", "ec2:DeleteVpcEndpoints",
                   "ec2:CreateTags")  # fmt: skip
    resource_kinds = (EntityKind.nat_gateway,)

    def applies_to(self, entity: Entity) -> bool:
        return super().applies_to(entity) and self._service(entity.destination_class) is not None

    @staticmethod
    def _service(destination_class: str) -> str | None:
        for service in GATEWAY_SERVICES:
            if destination_class.lower().startswith(f"aws-service:{service} "):
                return service
        return None

    def _endpoint(self, ec2: Any, vpc: str, service: str) -> dict[str, Any] | None:
        found = ec2.describe_vpc_endpoints(
            Filters=[
                {"Name": "vpc-id", "Values": [vpc]},
                {"Name": "service-name", "Values": [service]},
                {"Name": "vpc-endpoint-type", "Values": ["Gateway"]},
            ]
        )["VpcEndpoints"]
        live = [e for e in found if e.get("State", "available") not in ("deleted", "deleting")]
        return live[0] if live else None

    def read(self, clients: Any, target: Target) -> dict[str, Any]:
        """Only this NAT gateway's route tables: plans for other NAT gateways of the VPC share its endpoint but
        not their tables, so each can be applied and rolled back on its own."""
        ec2 = clients.for_service("ec2")
        nat = target.id.rsplit("/", 1)[-1]
        vpc = _first(ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"], nat)["VpcId"]
        tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
        via = sorted(
            t["RouteTableId"] for t in tables if any(r.get("NatGatewayId") == nat for r in t.get("Routes", []))
        )
        service = f"com.amazonaws.{target.region}.{self._service(target.destination_class)}"
        endpoint = self._endpoint(ec2, vpc, service)
        on = set(endpoint.get("RouteTableIds", [])) if endpoint else set()
        return {"vpc": vpc, "service": service, "nat_route_tables": via, "on_endpoint": sorted(on & set(via))}

    def propose(self, current: dict[str, Any], target: Target) -> dict[str, Any]:
        return {**current, "on_endpoint": list(current["nat_route_tables"])}

    def write(self, clients: Any, target: Target, config: dict[str, Any], before: dict[str, Any]) -> None:
        ec2 = clients.for_service("ec2")
        endpoint = self._endpoint(ec2, config["vpc"], config["service"])
        add = sorted(set(config["on_endpoint"]) - set(before["on_endpoint"]))
        remove = sorted(set(before["on_endpoint"]) - set(config["on_endpoint"]))
        if endpoint is None:
            if add:  # tagged, so that rolling back the last of its tables deletes only an endpoint we created
                tags = [{"ResourceType": "vpc-endpoint", "Tags": [{"Key": CREATED_BY_TAG, "Value": self.id}]}]
                ec2.create_vpc_endpoint(
                    VpcId=config["vpc"],
                    ServiceName=config["service"],
                    VpcEndpointType="Gateway",
                    RouteTableIds=add,
                    TagSpecifications=tags,
                )
            return
        left = set(endpoint.get("RouteTableIds", [])) - set(remove)
        created = any(t.get("Key") == CREATED_BY_TAG for t in endpoint.get("Tags", []))
        if not left and not add and created:
            if remove:
                ec2.modify_vpc_endpoint(VpcEndpointId=endpoint["VpcEndpointId"], RemoveRouteTableIds=remove)
            ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])
        elif add or remove:
            ec2.modify_vpc_endpoint(VpcEndpointId=endpoint["VpcEndpointId"], AddRouteTableIds=add,
                                    RemoveRouteTableIds=remove)  # fmt: skip


# ---- CloudFront ----------------------------------------------------------------------------------------------------
CACHING_OPTIMIZED_POLICY = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # AWS's managed CachingOptimized


@register
class CloudFrontAttachCachingPolicy(Action):
    id = "cloudfront.attach-caching-policy"
    description = "Attach AWS's managed CachingOptimized cache policy to the distribution's default behaviour."
    risk = "medium: responses are cached by the policy's TTLs; an origin that relies on no caching serves stale"
    iam_actions = ("cloudfront:GetDistributionConfig", "cloudfront:UpdateDistribution")
    resource_kinds = (EntityKind.cloudfront_distribution,)

    LEGACY = ("ForwardedValues", "MinTTL", "DefaultTTL", "MaxTTL")

    def read(self, clients: Any, target: Target) -> dict[str, Any]:
        got = clients.for_service("cloudfront").get_distribution_config(Id=target.id.rsplit("/", 1)[-1])
        behaviour = got["DistributionConfig"]["DefaultCacheBehavior"]
        if behaviour.get("CachePolicyId"):
            return {"CachePolicyId": behaviour["CachePolicyId"]}
        return {k: behaviour[k] for k in self.LEGACY if k in behaviour}  # legacy cache settings

    def propose(self, current: dict[str, Any], target: Target) -> dict[str, Any]:
        return {"CachePolicyId": CACHING_OPTIMIZED_POLICY}

    def write(self, clients: Any, target: Target, config: dict[str, Any], before: dict[str, Any]) -> None:
        cf = clients.for_service("cloudfront")
        dist = target.id.rsplit("/", 1)[-1]
        got = cf.get_distribution_config(Id=dist)
        cfg = got["DistributionConfig"]
        kept = {k: v for k, v in cfg["DefaultCacheBehavior"].items() if k not in (*self.LEGACY, "CachePolicyId")}
        cfg["DefaultCacheBehavior"] = {**kept, **config}
        cf.update_distribution(Id=dist, IfMatch=got["ETag"], DistributionConfig=cfg)


NOT_PLANNABLE = {"NoSuchBucket", "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "NoSuchEntity",
                 "InvalidNetworkInterfaceID.NotFound", "NatGatewayNotFound", "NoSuchDistribution"}  # fmt: skip


def plans_for(action_ids: list[str], entities: list[Entity], clients_for: Any) -> list[Plan]:
    """A plan per catalogue action and resource it applies to. Unknown action ids propose nothing, and neither
    does a resource that is gone or that the response may not read (nothing can be planned, so nothing may be
    approved), nor a plan that would change nothing."""
    out, seen = [], set()
    for action_id in action_ids:
        action = CATALOGUE.get(action_id)
        if action is None:
            continue
        for e in entities:
            if not action.applies_to(e) or (action_id, e.id) in seen:
                continue
            seen.add((action_id, e.id))
            try:
                plan = action.plan(clients_for(e.account, e.region), e)
            except ClientError as exc:
                if error_code(exc) not in NOT_PLANNABLE:
                    raise
                continue
            except ResourceGone:
                continue
            if plan.changes:
                out.append(plan)
    return out
