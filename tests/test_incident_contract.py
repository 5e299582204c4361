"""The incident contract: its shipped JSON Schema, what `egress detect --json` prints, the size limit of an
EventBridge entry, and how an entity's kind is told from its id."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
from botocore.stub import Stubber

from egress_optimizer.cli import run
from egress_optimizer.contracts import generated_schema, shipped_schema
from egress_optimizer.contracts.incident import (
    Entity,
    EntityKind,
    EvidenceRef,
    Impact,
    Incident,
    RootCause,
    RootCauseImpact,
    Window,
)
from egress_optimizer.detection.incidents import entity_kind
from egress_optimizer.notify.eventbridge import MAX_ENTRY_BYTES, entry, put_incidents

T0 = datetime(2026, 10, 5, 14, tzinfo=UTC)


def _incident(n_entities: int = 2, label: str = "x") -> Incident:
    entities = [
        Entity(
            kind=EntityKind.nat_gateway,
            id=f"arn:aws:ec2:us-east-1:111122223333:natgateway/nat-{i:017x}",
            account="111122223333",
            region="us-east-1",
            destination_class="aws-service:S3 via NAT",
            peer=None,
            team=label,
            bytes=10**9 * (n_entities - i),
            dollars=0.045 * (n_entities - i),
            expected_dollars=0.0,
            impact_dollars=0.045 * (n_entities - i),
            share=1 / n_entities,
        )
        for i in range(n_entities)
    ]
    return Incident(
        id="evt-0123456789abcdef",
        accounts=["111122223333"],
        region="us-east-1",
        window=Window(start=T0, end=T0 + timedelta(hours=5), detected_at=T0 + timedelta(hours=1)),
        severity="medium",
        score=0.93,
        impact=Impact(
            expected_usd=1.0, actual_usd=4.0, total_usd=3.0, percentage=300.0, per_day_usd=14.4, max_hourly_usd=0.9
        ),
        root_causes=[
            RootCause(
                linked_account="111122223333",
                region="us-east-1",
                service="AmazonEC2",
                usage_type="USE1-NatGateway-Bytes",
                impact=RootCauseImpact(contribution=3.0),
            )
        ],
        entities=entities,
        destinations=["aws-service:S3 via NAT"],
        teams=[label],
        evidence=[EvidenceRef(id="ev-1", kind="anomalous_series", source="anomalies", summary="5 anomalous hours")],
    )


def test_the_shipped_schema_is_the_models_and_the_cli_prints_it(capsys):
    assert shipped_schema("incident") == generated_schema("incident"), "run `python -m egress_optimizer.contracts`"
    assert run(["schema", "incident"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == shipped_schema("incident")
    jsonschema.Draft202012Validator.check_schema(printed)
    assert run(["schema", "alert"]) == 2


def test_root_causes_use_cost_anomaly_detections_names():
    doc = _incident().to_json()
    jsonschema.validate(doc, shipped_schema("incident"))
    (cause,) = doc["root_causes"]
    assert cause == {
        "linkedAccount": "111122223333",
        "linkedAccountName": None,
        "region": "us-east-1",
        "service": "AmazonEC2",
        "usageType": "USE1-NatGateway-Bytes",
        "impact": {"contribution": 3.0},
    }
    assert doc["schema_version"] == "1.1" and doc["status"] == "open"
    assert Incident.from_json(json.dumps(doc)) == _incident()


def test_a_reader_of_version_1_1_reads_what_1_0_wrote():
    """1.1 added ``Entity.via`` (optional): a stored 1.0 incident, which has no such field, validates and reads."""
    doc = _incident().to_json()
    entities = [{k: v for k, v in e.items() if k != "via"} for e in doc["entities"]]
    old = {**doc, "schema_version": "1.0", "entities": entities}
    jsonschema.validate(old, shipped_schema("incident"))
    assert Incident.from_json(json.dumps(old)).entities[0].via is None
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**doc, "schema_version": "2.0"}, shipped_schema("incident"))


def test_the_schema_refuses_what_the_contract_does_not_allow():
    schema = shipped_schema("incident")
    doc = _incident().to_json()
    for broken in (
        {**doc, "severity": "apocalyptic"},
        {**doc, "status": "closed"},
        {**doc, "accounts": []},
        {**doc, "surprise": 1},
        {k: v for k, v in doc.items() if k != "window"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)


def test_a_large_incident_is_cut_to_fit_an_eventbridge_entry_and_says_what_was_cut():
    big = _incident(n_entities=3000, label="t" * 40)
    assert len(big.model_dump_json(by_alias=True)) > MAX_ENTRY_BYTES
    e = entry(big, "egress")
    size = sum(len(e[k].encode()) for k in ("Source", "DetailType", "Detail")) + 14
    assert size <= MAX_ENTRY_BYTES
    detail = json.loads(e["Detail"])
    jsonschema.validate(detail, shipped_schema("incident"))
    kept, cut = len(detail["entities"]), detail["truncated"]["entities"]
    assert kept + cut == 3000 and cut > 0
    # the largest entities stay: they were sorted by impact, the cut takes the smallest
    assert detail["entities"][0]["id"] == big.entities[0].id
    small = entry(_incident(), "egress")
    assert json.loads(small["Detail"])["truncated"] == {"entities": 0, "root_causes": 0, "evidence": 0}


def test_delivery_batches_and_reports_what_eventbridge_refused():
    import boto3

    client = boto3.client("events", region_name="us-east-1")
    incidents = [_incident().model_copy(update={"id": f"evt-{i:016x}"}) for i in range(13)]
    stub = Stubber(client)
    stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": f"e{i}"} for i in range(10)]})
    refused = {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}
    stub.add_response(
        "put_events", {"FailedEntryCount": 1, "Entries": [{"EventId": "e10"}, refused, {"EventId": "e12"}]}
    )
    with stub:
        delivery = put_incidents(client, "egress", incidents)
    stub.assert_no_pending_responses()
    assert [i.id for i in delivery.delivered] == [i.id for i in incidents[:11] + incidents[12:]]
    assert [(i.id, code) for i, code in delivery.refused] == [(incidents[11].id, "ThrottlingException")]
    assert not delivery.complete


@pytest.mark.parametrize(
    ("entity", "product", "kind"),
    [
        ("arn:aws:ec2:us-east-1:463983700546:natgateway/nat-df28bde88f302afa3", None, EntityKind.nat_gateway),
        ("arn:aws:ec2:eu-west-1:463983700546:instance/i-0abc", None, EntityKind.instance),
        ("arn:aws:ec2:us-east-1:463983700546:vpc-endpoint/vpce-0abc", None, EntityKind.vpc_endpoint),
        ("arn:aws:ecs:us-east-1:463983700546:task/web/0abc", None, EntityKind.ecs_task),
        ("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/web/50dc", None, EntityKind.load_balancer),
        ("arn:aws:cloudfront::463983700546:distribution/E2QWRUHEXAMPLE", None, EntityKind.cloudfront_distribution),
        ("arn:aws:s3:::prod-data-exports", None, EntityKind.s3_bucket),
        ("i-0123456789abcdef0", None, EntityKind.instance),
        ("eni-0123456789abcdef0", None, EntityKind.network_interface),
        ("prod-web-static-assets-1607", "AmazonS3", EntityKind.s3_bucket),
        ("prod-web-static-assets-1607", "AmazonEC2", EntityKind.other),
        ("arn:aws:lambda:us-east-1:1:function:x", None, EntityKind.other),
    ],
)
def test_entity_kinds(entity, product, kind):
    assert entity_kind(entity, product) is kind


def test_detect_json_prints_incidents_that_validate(lake_copy, capsys):
    """Every incident `egress detect --json` prints is a valid incident (the acceptance check)."""
    schema = shipped_schema("incident")
    assert run(["train", "--lake", str(lake_copy), "--mode", "baseline", "--json"]) == 0
    capsys.readouterr()
    assert run(["detect", "--lake", str(lake_copy), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["incidents"] and set(out["new_incident_ids"]) == {i["id"] for i in out["incidents"]}
    for doc in out["incidents"]:
        jsonschema.validate(doc, schema)
        assert doc["root_causes"] and doc["entities"] and doc["evidence"]
        contributions = sum(c["impact"]["contribution"] for c in doc["root_causes"])
        assert contributions == pytest.approx(doc["impact"]["total_usd"], abs=0.01)
        assert {e["id"] for e in doc["evidence"]} and all(e["source"] == "anomalies" for e in doc["evidence"])
        assert all(e["kind"] != "other" for e in doc["entities"])
    # the stored incident is the printed one, and feedback finds it by id
    first = out["incidents"][0]["id"]
    assert run(["feedback", first, "--verdict", "planned", "--lake", str(lake_copy)]) == 0
