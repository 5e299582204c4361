"""The current configuration of the incident's resources: what makes data leave, and what would keep it in.

- S3 buckets: the public access block, the policy status, policy statements that grant everyone, ACL grants
  to all users, and replication rules with their destination's region;
- NAT gateways: the route tables that send traffic through them, and whether those tables also have an S3 or
  DynamoDB gateway endpoint (without one, traffic to those services pays NAT processing);
- network interfaces: security-group egress open to the whole internet, and their subnet's route table (through
  a NAT gateway or an internet gateway, and with or without gateway endpoints);
- CloudFront distributions: the default cache behaviour's cache policy or legacy TTLs, and the hit ratio the
  logs measured (from the incident);
- tags (owner, team, app) of every resource;
- the anomalies AWS Cost Anomaly Detection reported for the same account and days.
Each check that fails for want of permission or because the resource is gone becomes evidence too (an
``unavailable`` fact), so an explanation never silently rests on a missing check.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from egress_optimizer.contracts.incident import EntityKind, Incident
from egress_optimizer.respond.aws_config import (
    as_list,
    bucket_region,
    endpoints_text,
    error_code,
    gateway_endpoints_on,
    grants_everyone,
)
from egress_optimizer.respond.evidence import Evidence, make

EVERYONE_GROUPS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
# AWS's managed cache policy that caches nothing (its id is the same in every account).
CACHING_DISABLED_POLICY = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
OWNER_TAGS = ("owner", "team", "app", "application", "service", "cost-center")


def bucket_evidence(s3: Any, incident_id: str, bucket: str) -> list[Evidence]:
    """Public exposure and replication of one bucket."""
    return [
        _public_access(s3, incident_id, bucket),
        _policy(s3, incident_id, bucket),
        _acl(s3, incident_id, bucket),
        *_replication(s3, incident_id, bucket),
    ]


def _public_access(s3: Any, incident_id: str, bucket: str) -> Evidence:
    try:
        cfg = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchPublicAccessBlockConfiguration":
            return _unavailable(incident_id, "bucket_public_access", bucket, "s3:GetPublicAccessBlock", exc)
        cfg = {}
    blocked = all(
        cfg.get(k) for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    )
    try:
        public = bool(s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"])
    except ClientError:
        public = None  # no policy, or no permission: the policy check below says which
    return make(
        incident_id,
        "bucket_public_access",
        bucket,
        "s3:GetPublicAccessBlock",
        f"bucket {bucket}: public access block {'fully on' if blocked else 'off or partial'}"
        + ("" if public is None else f"; policy status {'public' if public else 'not public'}"),
        resource=bucket,
        block_fully_on=blocked,
        policy_is_public=public,
        **{f"block_{k}": bool(cfg.get(k)) for k in ("BlockPublicAcls", "BlockPublicPolicy")},
    )


def _policy(s3: Any, incident_id: str, bucket: str) -> Evidence:
    try:
        doc = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as exc:
        if error_code(exc) != "NoSuchBucketPolicy":
            return _unavailable(incident_id, "bucket_policy", bucket, "s3:GetBucketPolicy", exc)
        doc = {"Statement": []}
    statements = doc.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    public = [s for s in statements if grants_everyone(s)]
    return make(
        incident_id,
        "bucket_policy",
        bucket,
        "s3:GetBucketPolicy",
        f"bucket {bucket}: {len(public)} policy statement(s) allow everyone, of {len(statements)}",
        resource=bucket,
        public_statements=len(public),
        public_statement_ids=[str(s.get("Sid", f"#{i}")) for i, s in enumerate(public)],
        public_actions=sorted({a for s in public for a in as_list(s.get("Action"))}),
    )


def _acl(s3: Any, incident_id: str, bucket: str) -> Evidence:
    try:
        grants = s3.get_bucket_acl(Bucket=bucket).get("Grants", [])
    except ClientError as exc:
        return _unavailable(incident_id, "bucket_acl", bucket, "s3:GetBucketAcl", exc)
    public = sorted({g["Permission"] for g in grants if g.get("Grantee", {}).get("URI") in EVERYONE_GROUPS})
    return make(
        incident_id,
        "bucket_acl",
        bucket,
        "s3:GetBucketAcl",
        f"bucket {bucket}: ACL grants everyone {', '.join(public) if public else 'nothing'}",
        resource=bucket,
        public_permissions=public,
    )


def _replication(s3: Any, incident_id: str, bucket: str) -> list[Evidence]:
    try:
        rules = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"].get("Rules", [])
    except ClientError as exc:
        if error_code(exc) == "ReplicationConfigurationNotFoundError":
            return []
        return [_unavailable(incident_id, "replication_rule", bucket, "s3:GetBucketReplication", exc)]
    out = []
    for i, rule in enumerate(rules):
        dest = rule.get("Destination", {}).get("Bucket", "").rsplit(":", 1)[-1]
        region = bucket_region(s3, dest)
        rid = str(rule.get("ID") or f"rule-{i}")
        out.append(
            make(
                incident_id,
                "replication_rule",
                f"{bucket}/{rid}",
                "s3:GetBucketReplication",
                f"bucket {bucket}: replication rule {rid} ({rule.get('Status')}) to {dest} "
                f"in {region or 'an unknown region'}",
                resource=bucket,
                rule_id=rid,
                status=rule.get("Status"),
                destination_bucket=dest,
                destination_region=region,
                prefix=(rule.get("Filter") or {}).get("Prefix", rule.get("Prefix")),
            )
        )
    return out


def nat_gateway_evidence(ec2: Any, incident_id: str, nat_id: str, region: str) -> list[Evidence]:
    """Route tables that send traffic through a NAT gateway, and the gateway endpoints on them."""
    try:
        vpc = ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"][0]["VpcId"]
        tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
        endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]
    except (ClientError, IndexError) as exc:
        return [_unavailable(incident_id, "route_table", nat_id, "ec2:DescribeRouteTables", exc)]
    via_nat = [t for t in tables if any(r.get("NatGatewayId") == nat_id for r in t.get("Routes", []))]
    out = []
    for t in via_nat:
        rtb = t["RouteTableId"]
        covered = gateway_endpoints_on(endpoints, rtb, region)
        missing = [svc for svc, ids in covered.items() if not ids]
        out.append(
            make(
                incident_id,
                "route_table",
                rtb,
                "ec2:DescribeRouteTables",
                f"route table {rtb} sends internet traffic through {nat_id}; gateway endpoints: "
                + endpoints_text(covered),
                resource=nat_id,
                route_table=rtb,
                vpc=vpc,
                s3_gateway_endpoints=covered["s3"],
                dynamodb_gateway_endpoints=covered["dynamodb"],
                services_without_gateway_endpoint=missing,
            )
        )
    return out


def interface_route_evidence(ec2: Any, incident_id: str, eni_id: str, region: str) -> list[Evidence]:
    """The route table of an interface's subnet (its own, else the VPC's main one): where its internet-bound
    traffic goes (a NAT gateway, an internet gateway, a transit gateway) and the gateway endpoints on it."""
    try:
        eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
        own = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [eni["SubnetId"]]}])
        tables = (
            own["RouteTables"]
            or ec2.describe_route_tables(
                Filters=[{"Name": "vpc-id", "Values": [eni["VpcId"]]}, {"Name": "association.main", "Values": ["true"]}]
            )["RouteTables"]
        )
        endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [eni["VpcId"]]}])["VpcEndpoints"]
    except (ClientError, IndexError, KeyError) as exc:
        return [_unavailable(incident_id, "route_table", eni_id, "ec2:DescribeRouteTables", exc)]
    out = []
    for t in tables[:1]:
        rtb = t["RouteTableId"]
        default = next((r for r in t.get("Routes", []) if r.get("DestinationCidrBlock") == "0.0.0.0/0"), {})
        via = default.get("NatGatewayId") or default.get("GatewayId") or default.get("TransitGatewayId") or "none"
        covered = gateway_endpoints_on(endpoints, rtb, region)
        out.append(
            make(
                incident_id,
                "route_table",
                f"{eni_id}/{rtb}",
                "ec2:DescribeRouteTables",
                f"{eni_id}: subnet route table {rtb} sends internet traffic via {via}; gateway endpoints: "
                + endpoints_text(covered),
                resource=eni_id,
                route_table=rtb,
                default_route_via=via,
                s3_gateway_endpoints=covered["s3"],
                dynamodb_gateway_endpoints=covered["dynamodb"],
                services_without_gateway_endpoint=[svc for svc, ids in covered.items() if not ids],
            )
        )
    return out


def open_egress_evidence(ec2: Any, incident_id: str, eni_id: str) -> list[Evidence]:
    """Security-group egress rules of an interface that allow the whole internet."""
    try:
        eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
        group_ids = [g["GroupId"] for g in eni.get("Groups", [])]
        groups = ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"] if group_ids else []
    except (ClientError, IndexError) as exc:
        return [_unavailable(incident_id, "security_group_egress", eni_id, "ec2:DescribeSecurityGroups", exc)]
    out = []
    for g in groups:
        open_rules = [
            p
            for p in g.get("IpPermissionsEgress", [])
            if any(r.get("CidrIp") == "0.0.0.0/0" for r in p.get("IpRanges", []))
            or any(r.get("CidrIpv6") == "::/0" for r in p.get("Ipv6Ranges", []))
        ]
        out.append(
            make(
                incident_id,
                "security_group_egress",
                f"{eni_id}/{g['GroupId']}",
                "ec2:DescribeSecurityGroups",
                f"{eni_id}: security group {g['GroupId']} has {len(open_rules)} egress rule(s) open to the internet",
                resource=eni_id,
                group_id=g["GroupId"],
                open_egress_rules=len(open_rules),
            )
        )
    return out


def distribution_evidence(cloudfront: Any, incident: Incident, distribution_id: str) -> list[Evidence]:
    """The default cache behaviour's caching, and the hit ratio the logs measured before and during."""
    try:
        cfg = cloudfront.get_distribution_config(Id=distribution_id)["DistributionConfig"]
    except ClientError as exc:
        return [_unavailable(incident.id, "cache_behaviour", distribution_id, "cloudfront:GetDistributionConfig", exc)]
    behaviour = cfg.get("DefaultCacheBehavior", {})
    policy = behaviour.get("CachePolicyId")
    legacy_ttl = behaviour.get("DefaultTTL")
    caches_nothing = policy == CACHING_DISABLED_POLICY or (policy is None and legacy_ttl == 0)
    ratios = [
        (e.cache_hit_ratio_before, e.cache_hit_ratio)
        for e in incident.entities
        if distribution_id in e.id and e.cache_hit_ratio is not None
    ]
    before = max((b for b, _ in ratios if b is not None), default=None)
    during = min((d for _, d in ratios), default=None)
    return [
        make(
            incident.id,
            "cache_behaviour",
            distribution_id,
            "cloudfront:GetDistributionConfig",
            f"distribution {distribution_id}: default behaviour "
            + ("caches nothing" if caches_nothing else f"cache policy {policy or 'legacy TTLs'}")
            + (
                ""
                if during is None
                else f"; edge hit ratio {during:.0%} during, {before:.0%} the day before"
                if before is not None
                else f"; edge hit ratio {during:.0%} during"
            ),
            resource=distribution_id,
            cache_policy_id=policy,
            default_ttl=legacy_ttl,
            caches_nothing=caches_nothing,
            hit_ratio=during,
            hit_ratio_before=before,
        )
    ]


def tag_evidence(tagging: Any, incident_id: str, arns: list[str]) -> list[Evidence]:
    """Owner, team and app tags of the resources (one lookup for all)."""
    if not arns:
        return []
    try:
        mappings = tagging.get_resources(ResourceARNList=arns[:100]).get("ResourceTagMappingList", [])
    except ClientError as exc:
        return [_unavailable(incident_id, "resource_tags", ",".join(arns[:3]), "tag:GetResources", exc)]
    out = []
    for m in mappings:
        tags = {t["Key"].lower(): t["Value"] for t in m.get("Tags", []) if t["Key"].lower() in OWNER_TAGS}
        out.append(
            make(
                incident_id,
                "resource_tags",
                m["ResourceARN"],
                "tag:GetResources",
                f"{m['ResourceARN'].rsplit(':', 1)[-1]}: "
                + (", ".join(sorted(tags)) + " tagged" if tags else "no owner tags"),
                resource=m["ResourceARN"],
                **{f"tag_{k}": v for k, v in sorted(tags.items())},
            )
        )
    return out


def cost_anomaly_evidence(ce: Any, incident: Incident) -> list[Evidence]:
    """Anomalies AWS Cost Anomaly Detection reported over the incident's days for its account (and, when the
    incident names them, its usage types): whether CAD saw it too, and what it said (a day later)."""
    start, end = incident.window.start.date(), incident.window.end.date()
    usage_types = {c.usage_type for c in incident.root_causes}
    try:
        found = ce.get_anomalies(
            DateInterval={"StartDate": start.isoformat(), "EndDate": end.isoformat()}, MaxResults=50
        ).get("Anomalies", [])
    except (ClientError, BotoCoreError) as exc:
        return [_unavailable(incident.id, "cost_anomaly", incident.account, "ce:GetAnomalies", exc)]
    out = []
    for a in found:
        causes = a.get("RootCauses", [])
        accounts = {c.get("LinkedAccount") for c in causes}
        if incident.account not in accounts or (usage_types and not usage_types & {c.get("UsageType") for c in causes}):
            continue
        impact = a.get("Impact", {})
        out.append(
            make(
                incident.id,
                "cost_anomaly",
                a["AnomalyId"],
                "ce:GetAnomalies",
                f"Cost Anomaly Detection also reported {a['AnomalyId']} ({a.get('DimensionValue', 'a dimension')}) "
                f"from {a.get('AnomalyStartDate', '?')[:10]}, impact ${float(impact.get('TotalImpact', 0)):,.2f}",
                resource=incident.account,
                anomaly_id=a["AnomalyId"],
                dimension=a.get("DimensionValue"),
                max_score=float(a.get("AnomalyScore", {}).get("MaxScore", 0)),
                total_impact_usd=float(impact.get("TotalImpact", 0)),
                usage_types=sorted({str(c.get("UsageType")) for c in causes if c.get("UsageType")}),
            )
        )
    return out


def _unavailable(incident_id: str, kind: str, resource: str, source: str, exc: Exception) -> Evidence:
    code = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
    return make(
        incident_id,
        kind,
        f"{resource}/unavailable",
        source,
        f"{resource}: {source} not available ({code})",
        resource=resource,
        unavailable=code,
    )


def resource_evidence(clients: Any, incident: Incident, cost_anomalies: bool = True) -> list[Evidence]:
    """Every check that applies to the incident's entities (``clients.for_service(name)`` gives a client), and
    with ``cost_anomalies`` what Cost Anomaly Detection reported."""
    out: list[Evidence] = []
    seen: set[str] = set()
    arns: list[str] = []
    for e in incident.entities:
        if e.id in seen:
            continue
        seen.add(e.id)
        if e.kind == EntityKind.s3_bucket:
            out += bucket_evidence(clients.for_service("s3"), incident.id, e.id)
            arns.append(f"arn:aws:s3:::{e.id}")
        elif e.kind == EntityKind.nat_gateway:
            nat = e.id.rsplit("/", 1)[-1]
            out += nat_gateway_evidence(clients.for_service("ec2"), incident.id, nat, e.region)
        elif e.kind == EntityKind.network_interface:
            out += open_egress_evidence(clients.for_service("ec2"), incident.id, e.id)
            out += interface_route_evidence(clients.for_service("ec2"), incident.id, e.id, e.region)
        elif e.kind == EntityKind.cloudfront_distribution:
            out += distribution_evidence(clients.for_service("cloudfront"), incident, e.id.rsplit("/", 1)[-1])
        if e.id.startswith("arn:"):
            arns.append(e.id)
    out += tag_evidence(clients.for_service("resourcegroupstaggingapi"), incident.id, sorted(set(arns)))
    if cost_anomalies:
        out += cost_anomaly_evidence(clients.for_service("ce"), incident)
    return out
