"""Issue 18: the response state machine, the very ASL file Terraform deploys, run on moto's interpreter with each
Lambda task running the real handler (``lambdas/respond/handler.py``) in-process. Every branch: no action,
approval granted, refused, timed out, a task failing then succeeding on retry, a task failing into the
dead-letter path, a duplicate incident, and a Cost Anomaly Detection anomaly as input."""

from __future__ import annotations

import gzip
import json

import boto3
import pytest

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.notify.alert_content import Extras, email_text
from egress_optimizer.respond.local import LocalWorkflow, load_handlers
from tests.lambda_harness import LAMBDAS

ACCOUNT, REGION, BUCKET = "123456789012", "us-east-1", "data-public-1"
PUBLIC_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Pub",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        }
    ],
}


def incident(entity_kind: str = "s3_bucket", entity: str = BUCKET, destination: str = "internet", **extra) -> dict:
    return {
        "id": extra.pop("id", "inc-test-1"),
        "accounts": [ACCOUNT],
        "region": REGION,
        "window": {
            "start": "2026-11-01T12:00:00Z",
            "end": "2026-11-01T17:00:00Z",
            "detected_at": "2026-11-01T13:00:00Z",
        },
        "severity": "medium",
        "score": 0.99,
        "impact": {
            "expected_usd": 1.0,
            "actual_usd": 11.0,
            "total_usd": 10.0,
            "percentage": 1000.0,
            "per_day_usd": 48.0,
            "max_hourly_usd": 3.0,
        },
        "root_causes": [],
        "destinations": [destination],
        "teams": ["data"],
        "evidence": [],
        "entities": [
            {
                "kind": entity_kind,
                "id": entity,
                "account": ACCOUNT,
                "region": REGION,
                "destination_class": destination,
                "peer": None,
                "bytes": 10**11,
                "dollars": 11.0,
                "expected_dollars": 1.0,
                "impact_dollars": 10.0,
                "share": 1.0,
            }
        ],
        **extra,
    }


def as_event(doc: dict) -> dict:
    return {"version": "0", "source": "egress.optimizer", "detail-type": "Egress Cost Anomaly", "detail": doc}


@pytest.fixture
def trail(tmp_path):
    """An organisation trail's log file: the bucket was made public 40 minutes before the incident."""
    folder = tmp_path / "trail" / "AWSLogs" / ACCOUNT / "CloudTrail" / REGION / "2026" / "11" / "01"
    folder.mkdir(parents=True)
    record = {
        "eventID": "e-1", "eventName": "PutBucketPolicy", "eventTime": "2026-11-01T11:20:00Z", "awsRegion": REGION,
        "recipientAccountId": ACCOUNT, "eventSource": "s3.amazonaws.com",
        "requestParameters": {"bucketName": BUCKET, "policy": json.dumps(PUBLIC_POLICY)},
        "userIdentity": {"arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Contractor/jdoe"},
    }  # fmt: skip
    with gzip.open(folder / f"{ACCOUNT}_CloudTrail_{REGION}_20261101T1200Z_a.json.gz", "wt") as f:
        json.dump({"Records": [record]}, f)
    return tmp_path / "trail"


def run(trail, handlers=None, timeout_seconds: int = 60):
    env = {"TRAIL_LOGS": str(trail), "APPROVAL_TIMEOUT_SECONDS": str(timeout_seconds)}
    return LocalWorkflow(handlers or load_handlers(LAMBDAS / "respond" / "handler.py"), env)


def public_bucket() -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(PUBLIC_POLICY))


def block_of(bucket: str) -> dict:
    try:
        return boto3.client("s3", region_name=REGION).get_public_access_block(Bucket=bucket)[
            "PublicAccessBlockConfiguration"
        ]
    except boto3.client("s3", region_name=REGION).exceptions.ClientError:
        return {}


def output(described: dict) -> dict:
    return json.loads(described.get("output") or "{}")


def test_approved_action_is_applied_verified_and_reported(trail, tmp_path):
    from egress_optimizer.lake import Lake
    from egress_optimizer.tables import EXPLANATIONS, REMEDIATION_AUDIT

    lake = Lake.open(str(tmp_path / "lake"))  # an empty lake: the audit trail's home
    with LocalWorkflow(load_handlers(LAMBDAS / "respond" / "handler.py"),
                       {"TRAIL_LOGS": str(trail), "LAKE_URI": lake.root}) as wf:  # fmt: skip
        public_bucket()
        started = wf.start(as_event(incident()))
        wf.wait(started["execution_arn"], until=lambda: bool(wf.pending_approvals()))
        (pending,) = wf.pending_approvals()
        assert "task_token" not in pending  # the token stays in the table
        token = wf.table().get_item(Key={"approval_id": pending["approval_id"]})["Item"]["task_token"]
        wf.decide(pending["approval_id"], "approved", "alice@example.com")
        done = wf.wait(started["execution_arn"])
        out = output(done)
        assert done["status"] == "SUCCEEDED" and out["outcome"]["outcome"] == "remediated"
        assert out["explained"]["explanation"]["category"] == "public_object_exfiltration"
        assert all(block_of(BUCKET).values()) and len(block_of(BUCKET)) == 4
        notes = wf.notifications()
        assert any(pending["approval_id"] in n for n in notes) and not any(token in n for n in notes)
        assert any("Outcome: remediated" in n for n in notes)
        alert, with_approval = wf.alerts()  # explained (with evidence and diffs), then with the approval waiting
        assert Extras.model_validate(with_approval["extras"]).approval_id == pending["approval_id"]
        extras = Extras.model_validate(alert["extras"])  # what the notify Lambda reads
        assert extras.explanation.category == "public_object_exfiltration" and extras.evidence
        assert {r.action_id for r in extras.recommendations} == {"s3.block-public-access",
                                                                 "s3.remove-public-policy-statements"}  # fmt: skip
        body = email_text(Incident.from_json(alert["incident"]), extras, None)
        assert "public_object_exfiltration (" in body and f"on {BUCKET}:" in body
        # a decision works once
        with pytest.raises(Exception, match="already decided"):
            wf.decide(pending["approval_id"], "refused", "mallory@example.com")
    trail_rows = lake.read_table(REMEDIATION_AUDIT).to_pandas().sort_values(["at", "event"])
    expected = ["planned", "applied", "verified", "egress_not_visible"] * 2  # this lake holds no attributed traffic
    assert sorted(trail_rows["event"]) == sorted(expected)
    (explained,) = lake.read_table(EXPLANATIONS).to_pylist()
    assert explained["incident_id"] == "inc-test-1" and explained["category"] == "public_object_exfiltration"
    applied = trail_rows[trail_rows["event"] == "applied"]
    assert set(applied["actor"]) == {"alice@example.com"} and set(applied["incident_id"]) == {"inc-test-1"}
    assert set(trail_rows["account"]) == {ACCOUNT} and set(trail_rows["region"]) == {REGION}
    assert all(json.loads(b) != json.loads(a) for b, a in zip(applied["before"], applied["after"], strict=True))


def test_refused_action_changes_nothing(trail):
    with run(trail) as wf:
        public_bucket()
        started = wf.start(as_event(incident()))
        wf.wait(started["execution_arn"], until=lambda: bool(wf.pending_approvals()))
        wf.decide(wf.pending_approvals()[0]["approval_id"], "refused", "bob@example.com")
        done = wf.wait(started["execution_arn"])
        assert output(done)["outcome"] == {"outcome": "refused", "detail": "bob@example.com"}
        assert block_of(BUCKET) == {}
        assert not [name for name, _ in wf.invocations if name in ("apply", "verify", "rollback")]


def test_an_approval_nobody_gives_times_out_and_escalates(trail):
    with run(trail, timeout_seconds=1) as wf:
        public_bucket()
        started = wf.start(as_event(incident()))
        done = wf.wait(started["execution_arn"], timeout=30)
        assert done["status"] == "SUCCEEDED" and output(done)["outcome"]["outcome"] == "timed_out"
        assert block_of(BUCKET) == {}
        assert any("Approval expired" in n or "in time" in n for n in wf.notifications())
        (item,) = wf.table().scan()["Items"]
        with pytest.raises(Exception, match="expired"):
            wf.decide(item["approval_id"], "approved", "late@example.com")


def test_no_action_fits_a_cross_az_incident(trail):
    doc = incident("ecs_task", f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/api/abc", "cross-az", id="inc-test-az")
    with run(trail) as wf:
        done = wf.wait(wf.start(as_event(doc))["execution_arn"])
        out = output(done)
        assert done["status"] == "SUCCEEDED" and out["outcome"]["outcome"] == "explained"
        assert out["plan"]["actions"] == [] and not wf.pending_approvals()
        assert any("Outcome: explained" in n for n in wf.notifications())


def test_a_transient_failure_is_retried(trail):
    handlers = load_handlers(LAMBDAS / "respond" / "handler.py")
    real, calls = handlers["collect_resources"], []

    def throttled_once(event, context):
        calls.append(1)
        if len(calls) == 1:
            from egress_optimizer.respond.tasks import TransientError

            raise TransientError("Rate exceeded")
        return real(event, context)

    handlers["collect_resources"] = throttled_once
    with run(trail, handlers) as wf:
        public_bucket()
        started = wf.start(as_event(incident()))
        wf.wait(started["execution_arn"], timeout=30, until=lambda: bool(wf.pending_approvals()))
        assert len(calls) == 2 and wf.pending_approvals()
        assert wf.dead_letters() == []


def test_a_failing_task_lands_in_the_dead_letter_queue_and_is_notified(trail):
    handlers = load_handlers(LAMBDAS / "respond" / "handler.py")

    def broken(event, context):
        raise KeyError("explanation model missing")

    handlers["explain"] = broken
    with run(trail, handlers) as wf:
        public_bucket()
        started = wf.start(as_event(incident()))
        done = wf.wait(started["execution_arn"])
        assert done["status"] == "FAILED"
        (letter,) = wf.dead_letters()
        assert letter["incident"]["id"] == "inc-test-1" and letter["error"]["Error"] == "KeyError"
        assert [name for name, _ in wf.invocations].count("explain") == 1  # not a transient error: no retry
        assert any("failed" in n and "KeyError" in n for n in wf.notifications())


def test_a_duplicate_incident_starts_nothing(trail):
    with run(trail) as wf:
        doc = incident("ecs_task", f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/api/abc", "cross-az", id="inc-dup")
        first = wf.start(as_event(doc))
        second = wf.start(doc)  # the same incident, delivered again in another shape
        assert first["started"] and not second["started"]
        assert second["execution_arn"] == first["execution_arn"]
        wf.wait(first["execution_arn"])
        assert len(wf.sfn.list_executions(stateMachineArn=wf.state_machine_arn)["executions"]) == 1


def test_a_cost_anomaly_detection_event_is_answered_too(trail):
    cad = {
        "version": "0", "id": "x", "source": "aws.ce", "detail-type": "Anomaly Detected", "account": ACCOUNT,
        "region": REGION, "time": "2026-11-02T00:00:00Z", "resources": [],
        "detail": {
            "anomalyId": "1234-abcd", "anomalyStartDate": "2026-11-01T00:00:00Z",
            "anomalyEndDate": "2026-11-01T00:00:00Z", "dimensionValue": "Amazon Elastic Compute Cloud - Compute",
            "anomalyScore": {"currentScore": 0.4, "maxScore": 0.6},
            "impact": {"maxImpact": 40, "totalActualSpend": 140, "totalExpectedSpend": 100, "totalImpact": 40,
                       "totalImpactPercentage": 40},
            "rootCauses": [{"linkedAccount": ACCOUNT, "region": REGION, "service": "AmazonEC2",
                            "usageType": "USE1-NatGateway-Bytes"}],
        },
    }  # fmt: skip
    with run(trail) as wf:
        done = wf.wait(wf.start(cad)["execution_arn"])
        out = output(done)
        assert done["status"] == "SUCCEEDED"
        assert out["incident"]["source"] == "aws-cost-anomaly-detection"
        assert out["incident"]["root_causes"][0]["usageType"] == "USE1-NatGateway-Bytes"
        assert out["explained"]["explanation"]["category"] == "unknown"  # no resources yet: an honest answer


def test_an_action_for_a_resource_that_is_gone_is_not_proposed(trail):
    """A NAT gateway the response cannot find (deleted, or another account's) gets its root cause and no plan."""
    nat = f"arn:aws:ec2:{REGION}:{ACCOUNT}:natgateway/nat-0123456789abcdef0"
    doc = incident("nat_gateway", nat, "aws-service:S3 via NAT", id="inc-gone")
    request = {"DeleteVpcEndpointsRequest": {"VpcEndpointId": {"content": "vpce-1"}}}
    deleted = {"eventID": "e-2", "eventName": "DeleteVpcEndpoints", "eventTime": "2026-11-01T10:00:00Z",
               "awsRegion": REGION, "recipientAccountId": ACCOUNT, "eventSource": "ec2.amazonaws.com",
               "requestParameters": request}  # fmt: skip
    folder = trail / "AWSLogs" / ACCOUNT / "CloudTrail" / REGION / "2026" / "11" / "01"
    with gzip.open(folder / f"{ACCOUNT}_CloudTrail_{REGION}_20261101T1000Z_b.json.gz", "wt") as f:
        json.dump({"Records": [deleted]}, f)
    with run(trail) as wf:
        done = wf.wait(wf.start(as_event(doc))["execution_arn"])
        out = output(done)
        assert done["status"] == "SUCCEEDED" and out["plan"]["actions"] == []
        assert out["explained"]["explanation"]["category"] == "nat_gateway_service_traffic"
