"""The detect Lambda: hourly scoring against a lake, one EventBridge event per new incident whose detail is the
incident contract (moto; validated against the shipped JSON Schema), no repeats on the next run, and a failed
delivery retried instead of lost (botocore Stubber); a "Model Trained" event installs the model a SageMaker training
job wrote (sagemaker/train.py's output, tarred as SageMaker does) from the configured prefix only."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import boto3
import jsonschema
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from egress_optimizer.contracts import shipped_schema
from egress_optimizer.detection import model_store
from egress_optimizer.detection.detector import DetectorParams
from egress_optimizer.detection.lake_runs import train
from egress_optimizer.detection.signals import SIGNALS
from egress_optimizer.lake import Lake
from tests.lambda_harness import context, load_handler
from tests.scripts import load_script

ROOT = Path(__file__).resolve().parents[1]

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


# ---- trained models ------------------------------------------------------------------------------------------------
ARTEFACTS = "egress-artefacts"
MODELS = f"s3://{ARTEFACTS}/egress-optimizer/models/"  # what infra/modules/ml sets MODEL_ARTIFACTS_PREFIX to
LATEST = f"{model_store.PREFIX}/latest.json"


def model_trained_event(uri: str, job: str | None = "egress-detector-0f3c") -> dict:
    """What the training state machine's AnnounceModel state puts on the bus (infra/modules/ml)."""
    detail = {"model_artifacts": uri} if job is None else {"model_artifacts": uri, "training_job_name": job}
    return dict(
        scheduled_event(),
        id="7f0a2f4e-6d1b-4c55-9f3e-2b1c0c9d8e11",
        source="egress.optimizer",
        resources=[],
        detail=detail,
        **{"detail-type": "Model Trained"},
    )


def sagemaker_model(features_lake: Path, tmp_path: Path, monkeypatch) -> bytes:
    """sagemaker/train.py on the lake's egress_hourly files, its model directory tarred as SageMaker uploads it."""
    channel, model_dir = tmp_path / "sm/train", tmp_path / "sm/model"
    shutil.copytree(features_lake / "egress_hourly", channel)
    monkeypatch.setenv("SM_INPUT_CONFIG_DIR", str(tmp_path / "sm/config"))  # no hyperparameters.json
    monkeypatch.setenv("SM_OUTPUT_DIR", str(tmp_path / "sm/output"))
    script = load_script(ROOT / "sagemaker" / "train.py", "sagemaker_train")
    args = ["--mode", "baseline", "--seed", "7", "--train", str(channel), "--model-dir", str(model_dir)]
    assert script.main(args) == 0
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for f in sorted(model_dir.iterdir()):
            tar.add(f, arcname=f.name)
    return buf.getvalue()


def test_model_trained_installs_the_sagemaker_model_and_scoring_uses_it(
    trained_lake, features_lake, tmp_path, monkeypatch
):
    archive = sagemaker_model(Path(features_lake), tmp_path, monkeypatch)
    lake = Lake.open(str(trained_lake), create=False)
    before = lake.read_json(LATEST)
    current, _ = model_store.load(lake)
    monkeypatch.setenv("LAKE_URI", str(trained_lake))
    monkeypatch.setenv("EVENT_BUS_NAME", "egress")
    monkeypatch.setenv("MODEL_ARTIFACTS_PREFIX", MODELS)
    good = f"{MODELS}egress-detector-0f3c/output/model.tar.gz"
    with mock_aws():
        boto3.client("events").create_event_bus(Name="egress")
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=ARTEFACTS)
        objects = {
            good: archive,
            f"{MODELS}truncated/output/model.tar.gz": archive[: len(archive) // 2],
            f"{MODELS}garbage/output/model.tar.gz": b"not a tarball",
            f"{MODELS}other-signals/output/model.tar.gz": model_store.pack(current, {"signals": ["bytes_out"]}),
            f"{MODELS}no-metadata/output/model.tar.gz": _without_metadata(archive),
            f"s3://{ARTEFACTS}/elsewhere/model.tar.gz": archive,
            f"s3://{ARTEFACTS}/egress-optimizer/models-evil/model.tar.gz": archive,
        }
        for uri, body in objects.items():
            s3.put_object(Bucket=ARTEFACTS, Key=uri.removeprefix(f"s3://{ARTEFACTS}/"), Body=body)
        handler = load_handler("detect")

        refused = [u for u in objects if u != good] + [
            f"{MODELS}../elsewhere/model.tar.gz",  # a key that only looks like it is under the prefix
            "s3://other-bucket/egress-optimizer/models/egress-detector-0f3c/output/model.tar.gz",
        ]
        for uri in refused:
            with pytest.raises(handler.ModelNotInstalled):
                handler.handler(model_trained_event(uri), context("egress-detect"))
            assert lake.read_json(LATEST) == before, uri

        installed = handler.handler(model_trained_event(good), context("egress-detect"))
        assert "new_incidents" not in installed  # installing scores nothing
        version = lake.read_json(LATEST)["version"]
        assert installed["installed"] == version != before["version"]
        meta = lake.read_json(f"{model_store.PREFIX}/{version}/metadata.json")
        assert meta["source"] == good
        assert meta["training_job_name"] == "egress-detector-0f3c"
        assert meta["signals"] == list(SIGNALS) and meta["params"]["seed"] == 7
        assert model_store.load(lake)[1]["version"] == version  # the checksum discipline holds

        again = handler.handler(model_trained_event(good), context("egress-detect"))
        assert again["installed"] == version  # a redelivered event makes no second version

        scored = handler.handler(scheduled_event(), context("egress-detect"))
        assert scored["model_version"] == version


def _without_metadata(archive: bytes) -> bytes:
    """The archive with model.joblib only: nothing says which signals it was trained on."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as src, tarfile.open(fileobj=out, mode="w:gz") as dst:
        member = src.getmember(model_store.MODEL_FILE)
        dst.addfile(member, src.extractfile(member))
    return out.getvalue()


def test_model_trained_is_refused_without_a_configured_prefix(trained_lake, monkeypatch):
    lake = Lake.open(str(trained_lake), create=False)
    before = lake.read_json(LATEST)
    monkeypatch.setenv("LAKE_URI", str(trained_lake))
    monkeypatch.setenv("EVENT_BUS_NAME", "egress")
    monkeypatch.delenv("MODEL_ARTIFACTS_PREFIX", raising=False)
    with mock_aws():
        handler = load_handler("detect")
        with pytest.raises(handler.ModelNotInstalled, match="MODEL_ARTIFACTS_PREFIX"):
            handler.handler(model_trained_event(f"{MODELS}job/output/model.tar.gz"), context("egress-detect"))
    assert lake.read_json(LATEST) == before
