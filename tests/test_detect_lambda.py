"""The detect Lambda: hourly scoring against a lake, one EventBridge event per new incident whose detail is the
incident contract (moto; validated against the shipped JSON Schema), no repeats on the next run, and a failed
delivery retried instead of lost (botocore Stubber)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import jsonschema
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from egress_optimizer.contracts import shipped_schema
from egress_optimizer.detection.detector import DetectorParams
from egress_optimizer.detection.lake_runs import train
from egress_optimizer.lake import Lake
from tests.lambda_harness import context, load_handler

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def scheduled_event() -> dict:
    """What an EventBridge schedule sends the function (the shape AWS documents)."""
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-10-08T01:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/egress-detect-hourly"],
        "detail": {},
    }


@pytest.fixture()
def trained_lake(features_lake, tmp_path) -> Path:
    root = tmp_path / "lake"
    shutil.copytree(features_lake, root)
    train(Lake.open(str(root), create=False), DetectorParams(mode="baseline"))
    return root


def test_detect_lambda_emits_each_incident_once(trained_lake, monkeypatch):
    monkeypatch.setenv("LAKE_URI", str(trained_lake))
    monkeypatch.setenv("EVENT_BUS_NAME", "egress")
    with mock_aws():
        events = boto3.client("events")
        sqs = boto3.client("sqs")
        events.create_event_bus(Name="egress")
        q = sqs.create_queue(QueueName="incidents")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(
            Name="incidents", EventBusName="egress", EventPattern=json.dumps({"source": ["egress.optimizer"]})
        )
        events.put_targets(Rule="incidents", EventBusName="egress", Targets=[{"Id": "q", "Arn": arn}])
        handler = load_handler("detect")

        first = handler.handler(scheduled_event(), context("egress-detect"))
        assert first["new_incidents"]
        received = []
        while True:
            msgs = sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10).get("Messages", [])
            if not msgs:
                break
            received += [json.loads(m["Body"]) for m in msgs]
            for m in msgs:
                sqs.delete_message(QueueUrl=q, ReceiptHandle=m["ReceiptHandle"])
        assert sorted(r["detail"]["id"] for r in received) == sorted(first["new_incidents"])
        assert all(r["detail-type"] == "Egress Cost Anomaly" for r in received)
        detail = received[0]["detail"]
        assert {"impact", "window", "root_causes", "entities", "severity", "schema_version"} <= set(detail)
        assert {"total_usd", "per_day_usd", "expected_usd"} <= set(detail["impact"])
        schema = shipped_schema("incident")
        for r in received:
            jsonschema.validate(r["detail"], schema)

        second = handler.handler(scheduled_event(), context("egress-detect"))
        assert second["new_incidents"] == []
        assert sqs.receive_message(QueueUrl=q).get("Messages", []) == []


def test_refused_entries_fail_the_run_and_are_retried(trained_lake, tmp_path, monkeypatch):
    from egress_optimizer.detection.lake_runs import detect

    probe = tmp_path / "probe"
    shutil.copytree(trained_lake, probe)
    first_batch = min(10, len(detect(Lake.open(str(probe), create=False), record_emitted=False).new_incidents))
    monkeypatch.setenv("LAKE_URI", str(trained_lake))
    monkeypatch.setenv("EVENT_BUS_NAME", "egress")
    handler = load_handler("detect")
    stub = Stubber(handler.events_client)
    refused = {"ErrorCode": "InternalFailure", "ErrorMessage": "throttled"}
    stub.add_response("put_events", {"FailedEntryCount": first_batch, "Entries": [refused] * first_batch})
    stub.activate()
    with pytest.raises(handler.DeliveryError):
        handler.handler(scheduled_event(), context("egress-detect"))
    stub.deactivate()
    # nothing was marked as delivered, so the next run sends them (accepted this time)
    retry = detect(Lake.open(str(trained_lake), create=False), record_emitted=False)
    assert retry.new_incidents
