"""The inventory attribution needs: ENIs (who owns an address, in which AZ), buckets and their replication.

Read from an inventory snapshot folder in the response shapes of the EC2/S3 describe calls (what
``egress generate`` writes and a collector saves), so the same code reads a snapshot or live API output.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from egress_optimizer.attribution.topology import Topology
from egress_optimizer.attribution.up_to_date import documents_digest
from egress_optimizer.errors import InputError


def _kind(n: dict) -> str:
    itype = n.get("InterfaceType", "interface")
    if itype == "nat_gateway":
        return "nat"
    if itype == "vpc_endpoint":
        return "vpce"
    if itype == "transit_gateway":
        return "tgw"  # a transit gateway attachment's ENI in the VPC
    if n.get("RequesterId") == "amazon-elb" or str(n.get("Description", "")).startswith("ELB "):
        return "alb"
    if str(n.get("Description", "")).startswith("arn:aws:ecs:"):
        return "ecs"
    return "ec2" if n.get("Attachment", {}).get("InstanceId") else "other"


def eni_resource(n: dict, region: str) -> tuple[str, str]:
    """(resource id, ARN-or-id as the CUR names it) of the resource that owns an ENI (a describe response)."""
    return _resource(n, _kind(n), region)


def _resource(n: dict, kind: str, region: str) -> tuple[str, str]:
    """(resource id, ARN-or-id as the CUR names it) for an ENI's owning resource."""
    acct = n["OwnerId"]
    desc = str(n.get("Description", ""))
    if kind == "nat":
        nat = desc.rsplit(" ", 1)[-1]
        return nat, f"arn:aws:ec2:{region}:{acct}:natgateway/{nat}"
    if kind == "vpce":
        vpce = desc.rsplit(" ", 1)[-1]
        return vpce, f"arn:aws:ec2:{region}:{acct}:vpc-endpoint/{vpce}"
    if kind == "tgw":
        # AWS describes these ENIs as "Network Interface for Transit Gateway Attachment tgw-attach-..."
        m = re.search(r"tgw-attach-[0-9a-f]+", desc)
        att = m.group(0) if m else n["NetworkInterfaceId"]
        return att, f"arn:aws:ec2:{region}:{acct}:transit-gateway-attachment/{att}"
    if kind == "alb":
        lb = desc.split(" ", 1)[-1]
        return lb, f"arn:aws:elasticloadbalancing:{region}:{acct}:loadbalancer/{lb}"
    if kind == "ecs":
        task = next((t["Value"] for t in n.get("TagSet", []) if t["Key"] == "aws:ecs:taskArn"), n["NetworkInterfaceId"])
        return task, task
    instance = n.get("Attachment", {}).get("InstanceId") or n["NetworkInterfaceId"]
    return instance, instance


@dataclass
class Inventory:
    enis: pd.DataFrame
    buckets: pd.DataFrame  # name, account, region, team, replication role names -> destinations
    replication: pd.DataFrame  # source bucket, role name, destination bucket
    distributions: pd.DataFrame  # id, account, team
    payer: str
    # VPC CIDRs, route tables, VPN connections and TGW attachments (empty for snapshots without them)
    topology: Topology = field(default_factory=Topology)
    digest: str = ""  # of the snapshot's documents: attribution redone when the inventory changes
    documents: dict[str, str] = field(default_factory=dict, repr=False, compare=False)  # the snapshot itself

    @classmethod
    def from_snapshot(cls, root: str | Path) -> Inventory:
        """From a snapshot folder (``<account>/<region>/ec2/describe_*.json``, ``s3/``, ``cloudfront/``)."""
        root = Path(root)
        if not (root / "organization.json").exists():
            raise InputError(f"{root} is not an inventory snapshot (no organization.json)")
        files = {str(p.relative_to(root)): p.read_text() for p in root.rglob("*.json")}
        return cls.from_documents(files)

    @classmethod
    def from_lake(cls, lake) -> Inventory:
        """The snapshot `egress ingest` copied into the lake (``lake.INVENTORY_DIR``)."""
        from egress_optimizer.lake import INVENTORY_DIR

        files = lake.documents(INVENTORY_DIR)
        if "organization.json" not in files:
            raise InputError(
                f"lake {lake.root!r} has no inventory; ingest a folder that contains one, or pass --inventory DIR"
            )
        return cls.from_documents(files)

    @classmethod
    def from_documents(cls, files: dict[str, str]) -> Inventory:
        """From snapshot documents keyed by their path in the snapshot."""
        payer = json.loads(files["organization.json"]).get("ManagementAccountId", "")
        # Zone ids come from the subnets (ENI responses may carry only the zone name, which differs between
        # accounts), and an instance's tags from describe_instances (ENIs do not inherit them).
        subnet_az: dict[str, str] = {}
        instance_tags: dict[str, dict[str, str]] = {}
        for rel, text in files.items():
            if rel.endswith("/ec2/describe_subnets.json"):
                for sn in json.loads(text).get("Subnets", []):
                    if sn.get("AvailabilityZoneId"):
                        subnet_az[sn["SubnetId"]] = sn["AvailabilityZoneId"]
            elif rel.endswith("/ec2/describe_instances.json"):
                for res in json.loads(text).get("Reservations", []):
                    for inst in res.get("Instances", []):
                        instance_tags[inst["InstanceId"]] = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
        rows = []
        for rel in sorted(k for k in files if k.endswith("/ec2/describe_network_interfaces.json")):
            region = rel.split("/")[1]
            for n in json.loads(files[rel])["NetworkInterfaces"]:
                kind = _kind(n)
                rid, arn = _resource(n, kind, region)
                tags = {**instance_tags.get(rid, {}), **{t["Key"]: t["Value"] for t in n.get("TagSet", [])}}
                rows.append(
                    {
                        "interface_id": n["NetworkInterfaceId"],
                        "account": n["OwnerId"],
                        "region": region,
                        "az_id": n.get("AvailabilityZoneId")
                        or subnet_az.get(n.get("SubnetId"))
                        or n.get("AvailabilityZone"),
                        "vpc_id": n.get("VpcId"),
                        "subnet_id": n.get("SubnetId"),
                        "ip": n.get("PrivateIpAddress"),
                        "ipv6": [a["Ipv6Address"] for a in n.get("Ipv6Addresses", [])],
                        "public_ip": (n.get("Association") or {}).get("PublicIp"),
                        "kind": kind,
                        "resource_id": rid,
                        "resource_arn": arn,
                        "team": tags.get("team"),
                        "owner": tags.get("owner"),
                        "app": tags.get("app"),
                    }
                )
        enis = pd.DataFrame(rows)
        buckets, repl = [], []
        for b in json.loads(files["s3/buckets.json"])["Buckets"] if "s3/buckets.json" in files else []:
            region = (b.get("GetBucketLocation") or {}).get("LocationConstraint") or "us-east-1"
            tags = {t["Key"]: t["Value"] for t in (b.get("GetBucketTagging") or {}).get("TagSet", [])}
            buckets.append(
                {
                    "bucket": b["Name"],
                    "account": b.get("OwnerAccountId"),
                    "region": region,
                    "team": tags.get("team"),
                    "owner": tags.get("owner"),
                    "app": tags.get("app"),
                }
            )
            cfg = (b.get("GetBucketReplication") or {}).get("ReplicationConfiguration")
            if cfg:
                role = cfg["Role"].rsplit("/", 1)[-1]
                for rule in cfg.get("Rules", []):
                    dest = rule["Destination"]["Bucket"].rsplit(":", 1)[-1]
                    repl.append({"source_bucket": b["Name"], "role": role, "destination_bucket": dest})
        dists = []
        doc = files.get("cloudfront/distributions.json")
        for d in json.loads(doc)["DistributionList"]["Items"] if doc else []:
            tags = {t["Key"]: t["Value"] for t in d.get("Tags", {}).get("Items", [])}
            dists.append(
                {
                    "distribution_id": d["Id"],
                    "account": d.get("OwnerAccountId"),
                    "arn": d["ARN"],
                    "team": tags.get("team"),
                    "owner": tags.get("owner"),
                    "app": tags.get("app"),
                }
            )
        return cls(
            enis,
            pd.DataFrame(buckets),
            pd.DataFrame(repl, columns=["source_bucket", "role", "destination_bucket"]),
            pd.DataFrame(dists),
            payer,
            Topology.from_documents(files),
            documents_digest(files),
            dict(files),
        )
