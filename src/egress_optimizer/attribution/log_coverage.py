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
        for rel, text in sorted(files.items()):
            if not rel.endswith("/ec2/describe_vpcs.json"):
                continue
            account, region = rel.split("/")[:2]
            flow_doc = files.get(rel.replace("describe_vpcs.json", "describe_flow_logs.json"))
            logged_vpcs = None
            if flow_doc is not None:
                logged_vpcs = {
                    f["ResourceId"]
                    for f in json.loads(flow_doc).get("FlowLogs", [])
                    if f.get("FlowLogStatus", "ACTIVE") == "ACTIVE" and f.get("TrafficType", "ALL") in ("ALL", "ACCEPT")
                }
            for v in json.loads(text).get("Vpcs", []):
                logged = None if logged_vpcs is None else v["VpcId"] in logged_vpcs
                self.sources[v["VpcId"]] = LogSource("vpc", v["VpcId"], v.get("OwnerId", account), region, logged)
        for rel, text in files.items():
            if rel.endswith("/ec2/describe_network_interfaces.json"):
                self._resources_in_vpcs(rel.split("/")[1], json.loads(text).get("NetworkInterfaces", []))

    def _resources_in_vpcs(self, region: str, interfaces: list[dict]) -> None:
        for n in interfaces:
            if not n.get("VpcId"):
                continue
            rid, arn = eni_resource(n, region)
            for key in (rid, arn, n["NetworkInterfaceId"]):
                self.resource_source[key] = n["VpcId"]
