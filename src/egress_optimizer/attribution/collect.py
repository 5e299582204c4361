"""Collect the inventory from AWS with boto3, in the same document shapes as a snapshot.

One account's view: the describe calls of each region, the account's buckets and its CloudFront
distributions. Run it per account (for example with an assumed role per member account) and merge the
folders; ``egress inventory collect --out DIR`` writes the snapshot that ``egress ingest`` copies into the lake.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

EC2_CALLS = {
    "describe_network_interfaces": "NetworkInterfaces",
    "describe_subnets": "Subnets",
    "describe_vpcs": "Vpcs",
    "describe_nat_gateways": "NatGateways",
    "describe_vpc_endpoints": "VpcEndpoints",
    "describe_flow_logs": "FlowLogs",
    "describe_instances": "Reservations",
}
# Routing facts: which private destinations are on-premises (VGW, TGW with DX/VPN attachments). Optional: a
# role that may not read them still collects the rest, and attribution then relies on the networks file.
ROUTING_CALLS = {
    "describe_route_tables": "RouteTables",
    "describe_vpn_connections": "VpnConnections",
    "describe_transit_gateway_attachments": "TransitGatewayAttachments",
}


def _paginate(client: Any, op: str, key: str) -> list:
    if client.can_paginate(op):
        return [x for page in client.get_paginator(op).paginate() for x in page.get(key, [])]
    return client.__getattribute__(op)().get(key, [])


def _optional(call, *args, **kwargs) -> dict | None:
    """Bucket settings that are simply absent (no policy, no replication) are not errors."""
    try:
        resp = call(*args, **kwargs)
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code.startswith("NoSuch") or code in (
            "ReplicationConfigurationNotFoundError",
            "ServerSideEncryptionConfigurationNotFoundError",
        ):
            return None
        raise
    resp.pop("ResponseMetadata", None)
    return resp


def collect(session: Any, regions: list[str]) -> dict[str, str]:
    """Snapshot documents keyed by their path in a snapshot folder."""
    docs: dict[str, str] = {}
    sts = session.client("sts")
    account = sts.get_caller_identity()["Account"]
    try:
        org = session.client("organizations").describe_organization()["Organization"]
        management = org.get("MasterAccountId", account)
    except ClientError:
        management = account  # not in an organization, or not allowed to ask: the account pays for itself
    docs["organization.json"] = json.dumps({"Accounts": [{"Id": account}], "ManagementAccountId": management})
    for region in regions:
        ec2 = session.client("ec2", region_name=region)
        for op, key in EC2_CALLS.items():
            docs[f"{account}/{region}/ec2/{op}.json"] = json.dumps({key: _paginate(ec2, op, key)}, default=str)
        for op, key in ROUTING_CALLS.items():
            try:
                items = _paginate(ec2, op, key)
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") not in ("UnauthorizedOperation", "AccessDenied"):
                    raise
                continue
            docs[f"{account}/{region}/ec2/{op}.json"] = json.dumps({key: items}, default=str)
    s3 = session.client("s3")
    buckets = []
    for b in s3.list_buckets().get("Buckets", []):
        name = b["Name"]
        entry: dict[str, Any] = {"Name": name, "OwnerAccountId": account, "CreationDate": str(b.get("CreationDate"))}
        for label, call in (
            ("GetBucketLocation", s3.get_bucket_location),
            ("GetBucketPolicy", s3.get_bucket_policy),
            ("GetBucketReplication", s3.get_bucket_replication),
            ("GetBucketLogging", s3.get_bucket_logging),
            ("GetBucketTagging", s3.get_bucket_tagging),
            ("GetPublicAccessBlock", s3.get_public_access_block),
        ):
            value = _optional(call, Bucket=name)
            if value is not None:
                entry[label] = value
        buckets.append(entry)
    docs["s3/buckets.json"] = json.dumps({"Buckets": buckets}, default=str)
    cf = session.client("cloudfront")
    items = []
    for d in cf.list_distributions().get("DistributionList", {}).get("Items", []) or []:
        cfg = cf.get_distribution_config(Id=d["Id"])
        tags = cf.list_tags_for_resource(Resource=d["ARN"]).get("Tags", {})
        items.append(
            {
                "Id": d["Id"],
                "ARN": d["ARN"],
                "DomainName": d["DomainName"],
                "OwnerAccountId": account,
                "DistributionConfig": cfg["DistributionConfig"],
                "ETag": cfg.get("ETag"),
                "Tags": tags,
            }
        )
    docs["cloudfront/distributions.json"] = json.dumps(
        {"DistributionList": {"Items": items, "Quantity": len(items)}}, default=str
    )
    return docs
