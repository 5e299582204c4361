"""The inventory snapshot: what the collector would have read from the AWS APIs at the end of the period,
in the response shapes of the boto3 calls (so the same attribution code reads a snapshot or a live API)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from egress_optimizer.estate.incidents import Incident
from egress_optimizer.estate.topology import Eni, Estate
from egress_optimizer.estate.writers.files import stable_hex, write_bytes
from egress_optimizer.estate.writers.s3_access import s3_log_target
from egress_optimizer.regions import az_id, az_name

CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # AWS managed cache policy ids
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(epoch))


def _tagset(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def public_datasets_policy(bucket: str, whole_bucket: bool) -> str:
    resource = f"arn:aws:s3:::{bucket}/*" if whole_bucket else f"arn:aws:s3:::{bucket}/datasets/*"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicReadDatasets",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": resource,
                }
            ],
        },
        separators=(",", ":"),
    )


def replication_config(estate: Estate, source: str, extra: list[tuple[str, str]]) -> dict:
    b = estate.bucket(source)
    rules = [
        {
            "ID": f"dr-{dst}",
            "Priority": i + 1,
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "Destination": {"Bucket": f"arn:aws:s3:::{dst}", "StorageClass": "STANDARD_IA"},
        }
        for i, dst in enumerate(b.replicate_to)
    ]
    for j, (dst, prefix) in enumerate(extra):
        rules.append(
            {
                "ID": f"copy-{dst}",
                "Priority": len(rules) + j + 1,
                "Status": "Enabled",
                "Filter": {"Prefix": prefix},
                "DeleteMarkerReplication": {"Status": "Disabled"},
                "Destination": {"Bucket": f"arn:aws:s3:::{dst}", "StorageClass": "STANDARD"},
            }
        )
    return {"Role": f"arn:aws:iam::{b.account}:role/s3-replication-{source}"[:90], "Rules": rules}


def _eni_json(estate: Estate, e: Eni) -> dict:
    vpc = estate.vpc(e.vpc_id)
    d: dict = {
        "AvailabilityZone": az_name(e.region, e.az_index),
        "AvailabilityZoneId": az_id(e.region, e.az_index),
        "Groups": [{"GroupName": f"{e.tags['app']}-sg", "GroupId": "sg-" + stable_hex("sg", e.vpc_id, e.role, n=17)}],
        "InterfaceType": {"nat": "nat_gateway", "vpce": "vpc_endpoint"}.get(e.kind, "interface"),
        "Ipv6Addresses": [{"Ipv6Address": e.ipv6}] if e.ipv6 else [],
        "MacAddress": ":".join(stable_hex("mac", e.id, n=12)[i : i + 2] for i in range(0, 12, 2)),
        "NetworkInterfaceId": e.id,
        "OwnerId": e.account,
        "PrivateDnsName": f"ip-{e.private_ip.replace('.', '-')}.ec2.internal"
        if e.region == "us-east-1"
        else f"ip-{e.private_ip.replace('.', '-')}.{e.region}.compute.internal",
        "PrivateIpAddress": e.private_ip,
        "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": e.private_ip}],
        "RequesterManaged": e.kind in ("nat", "vpce", "alb", "ecs"),
        "SourceDestCheck": e.kind != "nat",
        "Status": "in-use",
        "SubnetId": e.subnet_id,
        "VpcId": vpc.id,
        "TagSet": _tagset(e.tags),
    }
    public_ip = e.public_ip or (next(n.public_ip for n in estate.nats if n.eni_id == e.id) if e.kind == "nat" else None)
    if public_ip:
        assoc = {
            "IpOwnerId": "amazon",
            "PublicIp": public_ip,
            "PublicDnsName": f"ec2-{public_ip.replace('.', '-')}.compute-1.amazonaws.com",
        }
        d["Association"] = assoc
        d["PrivateIpAddresses"][0]["Association"] = assoc
    if e.kind == "ec2":
        d["Description"] = ""
        d["Attachment"] = {
            "AttachmentId": "eni-attach-" + stable_hex("att", e.id, n=17),
            "DeviceIndex": 0,
            "InstanceId": e.resource_id,
            "InstanceOwnerId": e.account,
            "Status": "attached",
            "DeleteOnTermination": True,
        }
    elif e.kind == "nat":
        d["Description"] = f"Interface for NAT Gateway {e.resource_id}"
        d["RequesterId"] = "AROAEXAMPLENATGW:" + e.resource_id
    elif e.kind == "vpce":
        d["Description"] = f"VPC Endpoint Interface {e.resource_id}"
        d["RequesterId"] = "AROAEXAMPLEVPCE"
    elif e.kind == "alb":
        d["Description"] = f"ELB {e.resource_id}"
        d["RequesterId"] = "amazon-elb"
        d["Attachment"] = {
            "AttachmentId": "ela-attach-" + stable_hex("att", e.id, n=17),
            "DeviceIndex": 1,
            "InstanceOwnerId": "amazon-elb",
            "Status": "attached",
        }
    elif e.kind == "ecs":
        cluster = e.resource_id.split("/")[1]
        d["Description"] = f"arn:aws:ecs:{e.region}:{e.account}:attachment/{stable_hex('ecsatt', e.id, n=32)}"
        d["RequesterId"] = "578734482556"
        d["TagSet"] = _tagset(
            {
                **e.tags,
                "aws:ecs:clusterName": cluster,
                "aws:ecs:serviceName": e.tags["app"],
                "aws:ecs:taskArn": e.resource_id,
            }
        )
    return d


def write_inventory(
    out: Path, estate: Estate, incidents: list[Incident], start_epoch: int, end_epoch: int, hours: int
) -> list[Path]:
    """Write the end-of-period snapshot; incidents still open at the end leave their changes in place."""
    root = out / "inventory"
    written: list[Path] = []
    open_at_end = [i for i in incidents if i.end_hour >= hours]

    def dump(rel: str, obj: object) -> None:
        path = root / rel
        write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n").encode())
        written.append(path)

    dump(
        "organization.json",
        {
            "Accounts": [
                {
                    "Id": a.id,
                    "Arn": f"arn:aws:organizations::{estate.payer.id}:account/o-{stable_hex('org', n=10)}/{a.id}",
                    "Email": a.owner,
                    "Name": a.name,
                    "Status": "ACTIVE",
                    "JoinedMethod": "CREATED",
                    "JoinedTimestamp": _iso(start_epoch - 400 * 86400),
                    "Tags": _tagset({"team": a.team, "owner": a.owner}),
                }
                for a in [estate.payer, *estate.accounts]
            ],
            "ManagementAccountId": estate.payer.id,
        },
    )
    for acct in estate.accounts:
        for region in sorted({v.region for v in estate.vpcs if v.account == acct.id}):
            vpcs = [v for v in estate.vpcs if v.account == acct.id and v.region == region]
            enis = [e for e in estate.enis if e.account == acct.id and e.region == region]
            base = f"{acct.id}/{region}/ec2"
            dump(
                f"{base}/describe_vpcs.json",
                {
                    "Vpcs": [
                        {
                            "VpcId": v.id,
                            "CidrBlock": v.cidr,
                            "OwnerId": v.account,
                            "IsDefault": False,
                            "State": "available",
                            "CidrBlockAssociationSet": [
                                {"CidrBlock": v.cidr, "CidrBlockState": {"State": "associated"}}
                            ],
                            "Ipv6CidrBlockAssociationSet": [{"Ipv6CidrBlock": v.ipv6_cidr}] if v.ipv6_cidr else [],
                            "Tags": _tagset({"Name": f"{acct.name}-{region}"}),
                        }
                        for v in vpcs
                    ]
                },
            )
            dump(
                f"{base}/describe_subnets.json",
                {
                    "Subnets": [
                        {
                            "SubnetId": s.id,
                            "VpcId": v.id,
                            "CidrBlock": s.cidr,
                            "OwnerId": v.account,
                            "AvailabilityZone": az_name(region, s.az_index),
                            "AvailabilityZoneId": az_id(region, s.az_index),
                            "MapPublicIpOnLaunch": s.public,
                            "State": "available",
                            "SubnetArn": f"arn:aws:ec2:{region}:{v.account}:subnet/{s.id}",
                            "Ipv6CidrBlockAssociationSet": [{"Ipv6CidrBlock": s.ipv6_cidr}] if s.ipv6_cidr else [],
                            "Tags": _tagset(
                                {"Name": f"{'public' if s.public else 'private'}-{az_name(region, s.az_index)}"}
                            ),
                        }
                        for v in vpcs
                        for s in v.subnets
                    ]
                },
            )
            dump(
                f"{base}/describe_network_interfaces.json", {"NetworkInterfaces": [_eni_json(estate, e) for e in enis]}
            )
            dump(
                f"{base}/describe_instances.json",
                {
                    "Reservations": [
                        {
                            "OwnerId": acct.id,
                            "ReservationId": "r-" + stable_hex("res", e.id, n=17),
                            "Instances": [
                                {
                                    "InstanceId": e.resource_id,
                                    "State": {"Code": 16, "Name": "running"},
                                    "InstanceType": {
                                        "web": "m6i.large",
                                        "api": "m6i.xlarge",
                                        "worker": "r6i.2xlarge",
                                        "db": "r6g.xlarge",
                                        "bastion": "t3.micro",
                                    }[e.role],
                                    "Placement": {"AvailabilityZone": az_name(region, e.az_index)},
                                    "PrivateIpAddress": e.private_ip,
                                    "PublicIpAddress": e.public_ip,
                                    "SubnetId": e.subnet_id,
                                    "VpcId": e.vpc_id,
                                    "NetworkInterfaces": [{"NetworkInterfaceId": e.id}],
                                    "Tags": _tagset(e.tags),
                                }
                            ],
                        }
                        for e in enis
                        if e.kind == "ec2"
                    ]
                },
            )
            dump(
                f"{base}/describe_nat_gateways.json",
                {
                    "NatGateways": [
                        {
                            "NatGatewayId": n.id,
                            "VpcId": n.vpc_id,
                            "SubnetId": n.subnet_id,
                            "State": "available",
                            "ConnectivityType": "public",
                            "CreateTime": _iso(start_epoch - 200 * 86400),
                            "NatGatewayAddresses": [
                                {
                                    "AllocationId": n.allocation_id,
                                    "NetworkInterfaceId": n.eni_id,
                                    "PrivateIp": n.private_ip,
                                    "PublicIp": n.public_ip,
                                    "IsPrimary": True,
                                    "Status": "succeeded",
                                }
                            ],
                            "Tags": _tagset(estate.eni(n.eni_id).tags),
                        }
                        for n in estate.nats
                        if n.account == acct.id and n.region == region
                    ]
                },
            )
            endpoints = []
            for ep in estate.endpoints:
                if ep.account != acct.id or ep.region != region:
                    continue
                removed = [
                    i
                    for i in open_at_end
                    if i.kind == "nat_gateway_s3_no_endpoint"
                    and i.params["endpoint_id"] == ep.id
                    and i.params["full_delete"]
                ]
                if removed:
                    continue
                vpc = estate.vpc(ep.vpc_id)
                rts = ["rtb-" + stable_hex("rtb", vpc.id, s.az_index, n=17) for s in vpc.subnets if not s.public]
                endpoints.append(
                    {
                        "VpcEndpointId": ep.id,
                        "VpcEndpointType": ep.type,
                        "VpcId": ep.vpc_id,
                        "ServiceName": ep.service,
                        "State": "available",
                        "OwnerId": ep.account,
                        "CreationTimestamp": _iso(start_epoch - 300 * 86400),
                        "RouteTableIds": rts if ep.type == "Gateway" else [],
                        "SubnetIds": [estate.eni(x).subnet_id for x in ep.eni_ids],
                        "NetworkInterfaceIds": list(ep.eni_ids),
                        "PrivateDnsEnabled": ep.type == "Interface",
                        "PolicyDocument": json.dumps(
                            {"Statement": [{"Action": "*", "Effect": "Allow", "Principal": "*", "Resource": "*"}]}
                        ),
                    }
                )
            dump(f"{base}/describe_vpc_endpoints.json", {"VpcEndpoints": endpoints})
            dump(
                f"{base}/describe_flow_logs.json",
                {
                    "FlowLogs": [
                        {
                            "FlowLogId": v.flow_log.id,
                            "ResourceId": v.id,
                            "TrafficType": "ALL",
                            "LogDestinationType": "s3",
                            "LogDestination": f"arn:aws:s3:::{v.flow_log.bucket}",
                            "FlowLogStatus": "ACTIVE",
                            "MaxAggregationInterval": 600,
                            "LogFormat": " ".join("${" + f + "}" for f in v.flow_log.fields),
                            "DestinationOptions": {
                                "FileFormat": "parquet" if v.flow_log.delivery == "parquet" else "plain-text",
                                "HiveCompatiblePartitions": v.flow_log.hive,
                                "PerHourPartition": v.flow_log.per_hour_partition,
                            },
                            "CreationTime": _iso(start_epoch - 100 * 86400),
                        }
                        for v in vpcs
                        if v.flow_log.enabled
                    ]
                },
            )
    buckets = []
    for b in estate.buckets:
        entry: dict = {
            "Name": b.name,
            "OwnerAccountId": b.account,
            "CreationDate": _iso(start_epoch - 500 * 86400),
            "GetBucketLocation": {"LocationConstraint": None if b.region == "us-east-1" else b.region},
            "GetBucketTagging": {"TagSet": _tagset(b.tags)},
        }
        if b.purpose in ("public-datasets", "public-downloads"):
            broad = b.purpose == "public-datasets" and any(i.kind == "public_s3_exfiltration" for i in open_at_end)
            entry["GetBucketPolicy"] = {"Policy": public_datasets_policy(b.name, broad)}
            entry["GetPublicAccessBlock"] = {
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": False,
                    "RestrictPublicBuckets": False,
                }
            }
        else:
            entry["GetPublicAccessBlock"] = {
                "PublicAccessBlockConfiguration": dict.fromkeys(
                    ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"], True
                )
            }
        if b.replicate_to:
            extra = [
                (i.params["destination_bucket"], i.params["rule_prefix"])
                for i in open_at_end
                if i.kind == "s3_replication_extra_region" and i.params["source_bucket"] == b.name
            ]
            entry["GetBucketReplication"] = {"ReplicationConfiguration": replication_config(estate, b.name, extra)}
        if b.log_bucket:
            fmt = (
                {"PartitionedPrefix": {"PartitionDateSource": "EventTime"}}
                if b.log_layout == "partitioned"
                else {"SimplePrefix": {}}
            )
            entry["GetBucketLogging"] = {
                "LoggingEnabled": {
                    "TargetBucket": s3_log_target(b),
                    "TargetPrefix": "s3-access-logs/" if b.log_layout == "partitioned" else f"s3-access-logs/{b.name}/",
                    "TargetObjectKeyFormat": fmt,
                }
            }
        else:
            entry["GetBucketLogging"] = {}
        buckets.append(entry)
    dump("s3/buckets.json", {"Buckets": buckets})
    dists = []
    for d in estate.distributions:
        collapsed = any(
            i.kind == "cloudfront_cache_hit_collapse" and i.params["distribution"] == d.id for i in open_at_end
        )
        origin = (
            {
                "Id": "s3-origin",
                "DomainName": f"{d.origin}.s3.us-east-1.amazonaws.com",
                "OriginPath": "",
                "S3OriginConfig": {"OriginAccessIdentity": ""},
                "OriginAccessControlId": "E" + stable_hex("oac", d.id, n=13).upper(),
            }
            if d.origin_kind == "s3"
            else {
                "Id": "alb-origin",
                "DomainName": d.origin,
                "OriginPath": "",
                "CustomOriginConfig": {
                    "HTTPPort": 80,
                    "HTTPSPort": 443,
                    "OriginProtocolPolicy": "https-only",
                    "OriginSslProtocols": {"Quantity": 1, "Items": ["TLSv1.2"]},
                },
            }
        )
        dists.append(
            {
                "Id": d.id,
                "ARN": f"arn:aws:cloudfront::{d.account}:distribution/{d.id}",
                "DomainName": d.domain,
                "Status": "Deployed",
                "OwnerAccountId": d.account,
                "ETag": "E" + stable_hex("etag", d.id, n=13).upper(),
                "Tags": {"Items": _tagset(d.tags)},
                "DistributionConfig": {
                    "CallerReference": stable_hex("caller", d.id, n=12),
                    "Comment": f"{d.aliases[0]}",
                    "Aliases": {"Quantity": len(d.aliases), "Items": d.aliases},
                    "Origins": {"Quantity": 1, "Items": [origin]},
                    "DefaultCacheBehavior": {
                        "TargetOriginId": origin["Id"],
                        "ViewerProtocolPolicy": "redirect-to-https",
                        "CachePolicyId": CACHING_DISABLED if collapsed else CACHING_OPTIMIZED,
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
                    "OriginShield": {"Enabled": False},
                },
            }
        )
    dump("cloudfront/distributions.json", {"DistributionList": {"Items": dists, "Quantity": len(dists)}})
    dump(
        "snapshot.json",
        {
            "collected_at": _iso(end_epoch),
            "seed": estate.seed,
            "scale": estate.scale,
            "accounts": [a.id for a in estate.accounts],
            "payer": estate.payer.id,
        },
    )
    return written
