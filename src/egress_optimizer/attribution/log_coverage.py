"""Which resources write the logs attribution reads, from the inventory snapshot.

A VPC is covered when it has an active flow log that records accepted traffic (``ALL`` or ``ACCEPT``: a
``REJECT`` log sees no egress); a bucket when server access logging is on; a distribution when standard
logging is on. Where the snapshot lacks the document that says (no ``describe_flow_logs.json`` for an
account and region, no ``GetBucketLogging`` for a bucket), coverage is unknown and no gap is claimed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from egress_optimizer.attribution.inventory import eni_resource


@dataclass(frozen=True)
class LogSource:
    kind: str  # vpc | bucket | distribution
    id: str
    account: str
    region: str
    logged: bool | None  # None: the snapshot does not say

    @property
    def log(self) -> str:
        return {"vpc": "VPC flow logs", "bucket": "S3 server access logs", "distribution": "CloudFront logs"}[self.kind]


@dataclass
class LogCoverage:
    sources: dict[str, LogSource] = field(default_factory=dict)  # by id
    resource_source: dict[str, str] = field(default_factory=dict)  # CUR resource id / ARN -> source id

    def source_of(self, resource_id: str) -> LogSource | None:
        """The log source that would show a billed resource's traffic: its VPC, or the bucket or distribution."""
        sid = self.resource_source.get(resource_id, resource_id)
        return self.sources.get(sid)

    def unlogged(self) -> list[LogSource]:
        return sorted((s for s in self.sources.values() if s.logged is False), key=lambda s: (s.kind, s.id))

    @classmethod
    def from_documents(cls, files: dict[str, str]) -> LogCoverage:
        cov = cls()
        cov._vpcs(files)
        for b in json.loads(files["s3/buckets.json"])["Buckets"] if "s3/buckets.json" in files else []:
            region = (b.get("GetBucketLocation") or {}).get("LocationConstraint") or "us-east-1"
            logged = None if "GetBucketLogging" not in b else bool((b["GetBucketLogging"] or {}).get("LoggingEnabled"))
            cov.sources[b["Name"]] = LogSource("bucket", b["Name"], b.get("OwnerAccountId", ""), region, logged)
        doc = files.get("cloudfront/distributions.json")
        for d in json.loads(doc)["DistributionList"]["Items"] if doc else []:
            cfg = d.get("DistributionConfig", d)
            logging = cfg.get("Logging")
            logged = None if logging is None else bool(logging.get("Enabled"))
            cov.sources[d["Id"]] = LogSource("distribution", d["Id"], d.get("OwnerAccountId", ""), "global", logged)
            cov.resource_source[d["ARN"]] = d["Id"]
        return cov

    def _vpcs(self, files: dict[str, str]) -> None:
        """A VPC is logged when a flow log covers it, unlogged when no flow log covers it or any subnet or ENI of
        it (one that logs only some of its subnets or ENIs is left unknown), in every account that describes it
        (a VPC shared with other accounts appears in each)."""
        logged_ids: set[str] = set()
        known: set[tuple[str, str]] = set()  # (account, region) snapshots that list their flow logs
        vpcs: dict[str, tuple[str, str]] = {}
        for rel, text in sorted(files.items()):
            account, region = [*rel.split("/"), "", ""][:2]
            if rel.endswith("/ec2/describe_flow_logs.json"):
                known.add((account, region))
                logged_ids |= {
                    f["ResourceId"]
                    for f in json.loads(text).get("FlowLogs", [])
                    if f.get("FlowLogStatus", "ACTIVE") == "ACTIVE" and f.get("TrafficType", "ALL") in ("ALL", "ACCEPT")
                }
            elif rel.endswith("/ec2/describe_vpcs.json"):
                for v in json.loads(text).get("Vpcs", []):
                    vpcs.setdefault(v["VpcId"], (v.get("OwnerId", account), region))
        partly = set()
        for rel, text in files.items():
            if rel.endswith("/ec2/describe_network_interfaces.json"):
                region = rel.split("/")[1]
                for n in json.loads(text).get("NetworkInterfaces", []):
                    if n.get("VpcId") and {n.get("SubnetId"), n["NetworkInterfaceId"]} & logged_ids:
                        partly.add(n["VpcId"])
                    self._resource_in_vpc(n, region)
        for vpc_id, (account, region) in vpcs.items():
            if vpc_id in logged_ids:
                logged = True
            elif vpc_id in partly or (account, region) not in known:  # its owner's flow logs are not listed
                logged = None
            else:
                logged = False
            self.sources[vpc_id] = LogSource("vpc", vpc_id, account, region, logged)

    def _resource_in_vpc(self, n: dict, region: str) -> None:
        if not n.get("VpcId"):
            return
        rid, arn = eni_resource(n, region)
        for key in (rid, arn, n["NetworkInterfaceId"]):
            self.resource_source[key] = n["VpcId"]
