"""CloudTrail management events: the changes that caused incidents plus everyday noise.

Written twice, as AWS offers them: the ``lookup_events`` response shape (what the evidence gatherer
reads through the API) and CloudTrail log files delivered to S3 (``{"Records": [...]}``, gzipped).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from egress_optimizer.estate.incidents import Incident
from egress_optimizer.estate.topology import Estate
from egress_optimizer.estate.writers.files import stable_hex, write_bytes, write_gzip
from egress_optimizer.estate.writers.inventory import (
    CACHING_DISABLED,
    CACHING_OPTIMIZED,
    public_datasets_policy,
    replication_config,
)

SOURCES = {
    "s3": "s3.amazonaws.com",
    "ec2": "ec2.amazonaws.com",
    "ecs": "ecs.amazonaws.com",
    "cloudfront": "cloudfront.amazonaws.com",
}


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _uuid(*parts: object) -> str:
    h = stable_hex("ct", *parts, n=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _record(
    account: str,
    region: str,
    service: str,
    name: str,
    t: int,
    actor: str,
    params: dict,
    resources: list[tuple[str, str]],
    ip: str = "198.51.100.24",
    ua: str = "console.amazonaws.com",
) -> dict:
    event_id = _uuid(account, name, t, actor)
    arn = f"arn:aws:sts::{account}:assumed-role/{actor}"
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": f"AROA{stable_hex('p', actor, n=16).upper()}:{actor.split('/')[-1]}",
            "arn": arn,
            "accountId": account,
            "accessKeyId": f"ASIA{stable_hex('k', actor, t, n=16).upper()}",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "userName": actor.split("/")[0],
                    "arn": f"arn:aws:iam::{account}:role/{actor.split('/')[0]}",
                    "accountId": account,
                },
                "attributes": {"creationDate": _iso(t - 600), "mfaAuthenticated": "false"},
            },
        },
        "eventTime": _iso(t),
        "eventSource": SOURCES[service],
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": ua,
        "requestParameters": params,
        "responseElements": None,
        "requestID": stable_hex("req", event_id, n=16).upper(),
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
        "resources": [{"type": rt, "ARN": rn} for rt, rn in resources],
    }


def _incident_events(estate: Estate, inc: Incident, start_epoch: int, rng: np.random.Generator) -> list[dict]:
    t0 = start_epoch + inc.start_hour * 3600
    t1 = start_epoch + inc.end_hour * 3600
    ev: list[dict] = []
    if inc.kind == "public_s3_exfiltration":
        b = estate.bucket(inc.resources[0])
        arn = f"arn:aws:s3:::{b.name}"
        lead = int(rng.integers(1800, 6 * 3600))
        ev.append(
            _record(
                b.account,
                b.region,
                "s3",
                "PutBucketPolicy",
                t0 - lead,
                "DataContractor/jdoe",
                {"bucketName": b.name, "policy": public_datasets_policy(b.name, True)},
                [("AWS::S3::Bucket", arn)],
            )
        )
        ev.append(
            _record(
                b.account,
                b.region,
                "s3",
                "PutBucketPolicy",
                t1 + 1800,
                "SecOpsAutomation/guardrail",
                {"bucketName": b.name, "policy": public_datasets_policy(b.name, False)},
                [("AWS::S3::Bucket", arn)],
                ua="Boto3/1.35.10",
            )
        )
    elif inc.kind == "nat_gateway_s3_no_endpoint":
        vpc = estate.vpc(inc.params["vpc_id"])
        ep = inc.params["endpoint_id"]
        arn = f"arn:aws:ec2:{vpc.region}:{vpc.account}:vpc-endpoint/{ep}"
        if inc.params["full_delete"]:
            ev.append(
                _record(
                    vpc.account,
                    vpc.region,
                    "ec2",
                    "DeleteVpcEndpoints",
                    t0 - 300,
                    "TerraformCI/run-8812",
                    {"DeleteVpcEndpointsRequest": {"VpcEndpointId": {"content": ep, "tag": 1}}},
                    [("AWS::EC2::VPCEndpoint", arn)],
                    ua="APN/1.0 HashiCorp/1.0 Terraform/1.9.5",
                )
            )
            ev.append(
                _record(
                    vpc.account,
                    vpc.region,
                    "ec2",
                    "CreateVpcEndpoint",
                    t1,
                    "TerraformCI/run-8840",
                    {
                        "CreateVpcEndpointRequest": {
                            "VpcId": vpc.id,
                            "ServiceName": f"com.amazonaws.{vpc.region}.s3",
                            "VpcEndpointType": "Gateway",
                        }
                    },
                    [("AWS::EC2::VPC", f"arn:aws:ec2:{vpc.region}:{vpc.account}:vpc/{vpc.id}")],
                    ua="APN/1.0 HashiCorp/1.0 Terraform/1.9.5",
                )
            )
        else:
            rts = ["rtb-" + stable_hex("rtb", vpc.id, s, n=17) for s in inc.params["subnets"]]
            for name, t, key in (
                ("ModifyVpcEndpoint", t0 - 300, "RemoveRouteTableId"),
                ("ModifyVpcEndpoint", t1, "AddRouteTableId"),
            ):
                ev.append(
                    _record(
                        vpc.account,
                        vpc.region,
                        "ec2",
                        name,
                        t,
                        "TerraformCI/run-8812",
                        {"ModifyVpcEndpointRequest": {"VpcEndpointId": ep, key: rts}},
                        [("AWS::EC2::VPCEndpoint", arn)],
                        ua="APN/1.0 HashiCorp/1.0 Terraform/1.9.5",
                    )
                )
    elif inc.kind == "cross_az_chatty_deployment":
        acct, region = inc.accounts[0], inc.regions[0]
        svc = f"arn:aws:ecs:{region}:{acct}:service/{inc.params['cluster']}/{inc.params['service']}"
        ev.append(
            _record(
                acct,
                region,
                "ecs",
                "UpdateService",
                t0 - 600,
                "DeployPipeline/checkout-release",
                {
                    "cluster": inc.params["cluster"],
                    "service": inc.params["service"],
                    "taskDefinition": inc.params["task_definition"],
                    "placementStrategy": [{"type": "random"}],
                },
                [("AWS::ECS::Service", svc)],
                ua="aws-sdk-go-v2/1.30.4",
            )
        )
        ev.append(
            _record(
                acct,
                region,
                "ecs",
                "UpdateService",
                t1,
                "DeployPipeline/checkout-rollback",
                {
                    "cluster": inc.params["cluster"],
                    "service": inc.params["service"],
                    "taskDefinition": "checkout-api:41",
                    "placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}],
                },
                [("AWS::ECS::Service", svc)],
                ua="aws-sdk-go-v2/1.30.4",
            )
        )
    elif inc.kind == "cloudfront_cache_hit_collapse":
        d = next(x for x in estate.distributions if x.id == inc.params["distribution"])
        arn = f"arn:aws:cloudfront::{d.account}:distribution/{d.id}"
        for t, policy, actor in (
            (t0 - 900, CACHING_DISABLED, "WebTeam/asmith"),
            (t1, CACHING_OPTIMIZED, "WebTeam/oncall"),
        ):
            ev.append(
                _record(
                    d.account,
                    "us-east-1",
                    "cloudfront",
                    "UpdateDistribution",
                    t,
                    actor,
                    {"id": d.id, "distributionConfig": {"defaultCacheBehavior": {"cachePolicyId": policy}}},
                    [("AWS::CloudFront::Distribution", arn)],
                )
            )
    elif inc.kind == "s3_replication_extra_region":
        src = inc.params["source_bucket"]
        b = estate.bucket(src)
        arn = f"arn:aws:s3:::{src}"
        bad = replication_config(estate, src, [(inc.params["destination_bucket"], inc.params["rule_prefix"])])
        ev.append(
            _record(
                b.account,
                b.region,
                "s3",
                "PutBucketReplication",
                t0 - 600,
                "DataPlatform/mlee",
                {"bucketName": src, "ReplicationConfiguration": bad},
                [("AWS::S3::Bucket", arn)],
            )
        )
        ev.append(
            _record(
                b.account,
                b.region,
                "s3",
                "PutBucketReplication",
                t1,
                "DataPlatform/oncall",
                {"bucketName": src, "ReplicationConfiguration": replication_config(estate, src, [])},
                [("AWS::S3::Bucket", arn)],
            )
        )
    return ev


NOISE = [
    ("ec2", "CreateTags"),
    ("ec2", "AuthorizeSecurityGroupIngress"),
    ("ec2", "RunInstances"),
    ("ec2", "TerminateInstances"),
    ("ecs", "UpdateService"),
    ("s3", "PutBucketTagging"),
]


def write_cloudtrail(
    out: Path, estate: Estate, incidents: list[Incident], start_epoch: int, hours: int, rng: np.random.Generator
) -> list[dict]:
    records: list[dict] = []
    for inc in incidents:
        evs = _incident_events(estate, inc, start_epoch, rng)
        inc.change_events = [e["eventID"] for e in evs]
        records += evs
    for day in range(max(1, hours // 24)):
        for _ in range(int(rng.integers(2, 7))):
            acct = estate.accounts[int(rng.integers(0, len(estate.accounts)))]
            svc, name = NOISE[int(rng.integers(0, len(NOISE)))]
            t = start_epoch + day * 86400 + int(rng.integers(8 * 3600, 19 * 3600))
            region = ["us-east-1", "eu-west-1", "us-west-2"][int(rng.integers(0, 3))]
            records.append(
                _record(
                    acct.id,
                    region,
                    svc,
                    name,
                    t,
                    f"{acct.team.title()}Engineer/dev{int(rng.integers(1, 9))}",
                    {"note": "routine change"},
                    [],
                )
            )
    records.sort(key=lambda r: (r["eventTime"], r["eventID"]))
    lookup = {
        "Events": [
            {
                "EventId": r["eventID"],
                "EventName": r["eventName"],
                "ReadOnly": "false",
                "AccessKeyId": r["userIdentity"]["accessKeyId"],
                "EventTime": r["eventTime"],
                "EventSource": r["eventSource"],
                "Username": r["userIdentity"]["arn"].rsplit("/", 1)[-1],
                "Resources": [{"ResourceType": x["type"], "ResourceName": x["ARN"]} for x in r["resources"]],
                "CloudTrailEvent": json.dumps(r, sort_keys=True),
            }
            for r in records
        ]
    }
    write_bytes(
        out / "inventory" / "cloudtrail" / "lookup_events.json",
        (json.dumps(lookup, indent=1, sort_keys=True) + "\n").encode(),
    )
    # S3 delivery: one object per account, region and day.
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in records:
        groups.setdefault((r["recipientAccountId"], r["awsRegion"], r["eventTime"][:10]), []).append(r)
    for (acct, region, day), recs in sorted(groups.items()):
        y, m, d = day.split("-")
        key = (
            f"AWSLogs/{acct}/CloudTrail/{region}/{y}/{m}/{d}/{acct}_CloudTrail_{region}_{y}{m}{d}T2355Z_"
            f"{stable_hex('ctfile', acct, region, day, n=16)}.json.gz"
        )
        write_gzip(out / f"org-logs-{acct}" / key, json.dumps({"Records": recs}, sort_keys=True).encode())
    return records
