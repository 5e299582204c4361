"""The process Lambda: sizes the backlog from the journal, attributes and featurizes a small one in place and
announces it to the detect Lambda (moto EventBridge -> SQS), hands a large one to the Glue job (moto Glue), and
starts nothing while a Glue run is in progress."""

from __future__ import annotations

import json
import os
import shutil

import boto3
import pandas as pd
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.moto_api import state_manager

from egress_optimizer import processing, stages
from egress_optimizer.lake import Lake
from egress_optimizer.tables import ATTRIBUTED, EGRESS_HOURLY, VPC_FLOW
from tests.lakes import first_days
from tests.lambda_harness import context, load_handler

JOB = "egress-attribute"
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


SCHEDULED = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-10-02T00:15:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/egress-process"],
    "detail": {},
}


def _bus_to_queue() -> tuple:
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name="egress")
    url = sqs.create_queue(QueueName="features-updated")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["egress.optimizer"], "detail-type": ["Features Updated"]}
    events.put_rule(Name="detect", EventBusName="egress", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="detect", EventBusName="egress", Targets=[{"Id": "q", "Arn": arn}])
    return sqs, url


def _drain(sqs, url: str) -> list[dict]:
    out = []
    while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        out += [json.loads(m["Body"]) for m in msgs]
        for m in msgs:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def _create_job() -> None:
    boto3.client("glue").create_job(
        Name=JOB,
        Role="arn:aws:iam::123456789012:role/egress-glue",
        Command={"Name": "glueetl", "ScriptLocation": "s3://artifacts/glue_jobs/attribute.py"},
        ExecutionProperty={"MaxConcurrentRuns": 1},
    )


@pytest.fixture()
def env(ingested_lake, tmp_path, monkeypatch) -> Lake:
    lake = first_days(ingested_lake, tmp_path / "lake", 1)
    monkeypatch.setenv("LAKE_URI", lake.root)
    monkeypatch.setenv("GLUE_JOB_NAME", JOB)
    monkeypatch.setenv("EVENT_BUS_NAME", "egress")
    return lake


def test_a_small_backlog_runs_in_the_lambda_then_a_large_one_goes_to_glue(env, estate_dir, tmp_path, monkeypatch):
    reference = Lake.open(str(shutil.copytree(env.root, tmp_path / "reference")), create=False)
    with mock_aws():
        _create_job()
        sqs, url = _bus_to_queue()
        handler = load_handler("process")

        first = handler.handler(SCHEDULED, context("egress-process"))
        assert first["runner"] == "lambda" and first["backlog"]["rebuild"]
        stages.build_features(reference)  # the stage run directly writes the same tables
        for table in (ATTRIBUTED, EGRESS_HOURLY):
            assert env.read_table(table).sort_by("hour").equals(reference.read_table(table).sort_by("hour"))
        (event,) = _drain(sqs, url)
        assert event["source"] == "egress.optimizer" and event["detail-type"] == "Features Updated"
        assert event["detail"]["lake"] == env.root and event["detail"]["features"]["hours"] == 24

        quiet = handler.handler(SCHEDULED, context("egress-process"))
        assert quiet["runner"] == "none" and quiet["backlog"]["log_hours"] == 0 and not _drain(sqs, url)

        # a day of flow logs arrives: more bytes than this deployment lets a Lambda take
        day2 = (pd.Timestamp(max(env.days(VPC_FLOW))) + pd.Timedelta(days=1)).strftime("%Y%m%d")
        flows = [p for p in estate_dir.rglob("*.log.gz") if "vpcflowlogs" in p.as_posix() and f"_{day2}T" in p.name]
        report = stages.ingest(env, [str(p) for p in flows], key_base=str(estate_dir))
        written = sum(os.path.getsize(f) for o in report.objects for f in o.files if f"/{VPC_FLOW.name}/" in f)
        work = stages.processing_backlog(env)
        assert work.log_bytes == written and work.log_hours >= 24 and not work.rebuild
        monkeypatch.setenv("LAMBDA_MAX_PENDING_BYTES", str(written - 1))
        state_manager.set_transition(model_name="glue::job_run", transition={"progression": "manual", "times": 99})
        try:
            started = handler.handler(SCHEDULED, context("egress-process"))
            assert started["runner"] == "glue" and started["started"]
            runs = boto3.client("glue").get_job_runs(JobName=JOB)["JobRuns"]
            assert [r["Id"] for r in runs] == [started["job_run_id"]]
            assert runs[0]["Arguments"]["--LAKE_URI"] == env.root
            # the next tick finds the run in progress: it starts nothing and leaves the backlog to it
            waiting = handler.handler(SCHEDULED, context("egress-process"))
            assert waiting == {**waiting, "runner": "glue", "started": False, "job_run_id": started["job_run_id"]}
            assert len(boto3.client("glue").get_job_runs(JobName=JOB)["JobRuns"]) == 1
        finally:
            state_manager.unset_transition("glue::job_run")
        assert stages.processing_backlog(env) == work  # the Lambda consumed nothing
        assert not _drain(sqs, url)


def test_a_concurrent_run_refusal_counts_as_a_run_in_progress():
    glue = boto3.client("glue", region_name="us-east-1")
    stub = Stubber(glue)
    stub.add_response("get_job_runs", {"JobRuns": []}, {"JobName": JOB, "MaxResults": 10})
    stub.add_client_error("start_job_run", "ConcurrentRunsExceededException", "Job egress-attribute already running")
    with stub:
        assert processing.start_glue_job(glue, JOB, "s3://lake/prefix") is None
    stub.assert_no_pending_responses()


def test_a_refused_announcement_fails_the_run():
    events = boto3.client("events", region_name="us-east-1")
    stub = Stubber(events)
    failed = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow"}]}
    stub.add_response("put_events", failed)
    with stub, pytest.raises(RuntimeError, match="ThrottlingException"):
        processing.announce_features(events, "egress", "s3://lake/prefix", {"features": {"hours": 1}})


def test_the_runner_follows_the_backlog():
    empty = processing.Backlog(0, 0, 0, 0, rebuild=False)
    small = processing.Backlog(3, 10_000, 3, 0, rebuild=False)
    assert processing.choose_runner(empty) is processing.Runner.NONE
    assert processing.choose_runner(small, lambda_max_bytes=10_000) is processing.Runner.LAMBDA
    assert processing.choose_runner(small, lambda_max_bytes=9_999) is processing.Runner.GLUE
    features_only = processing.Backlog(0, 0, 5, 0, rebuild=False)
    assert processing.choose_runner(features_only) is processing.Runner.LAMBDA
