"""The ingest Lambda end to end against a moto server on loopback: S3 -> SQS (direct or through SNS)
notifications, pyarrow reading the raw bucket and writing the lake bucket, Glue partitions, DynamoDB
idempotency; plus the notification parsing on its own."""

from __future__ import annotations

import io
import json
import urllib.request
import uuid
from dataclasses import dataclass
from types import ModuleType
from urllib.parse import quote_plus

import boto3
import pyarrow.parquet as pq
import pytest

from egress_optimizer.glue_catalog import glue_columns, register_lake
from egress_optimizer.ingest import aws_event
from egress_optimizer.ingest.aws_event import MalformedEvent, S3ObjectRef, s3_objects
from egress_optimizer.ingest.base import SourceObject
from egress_optimizer.ingest.vpc_flow import SCHEMA as VPC_FLOW_SCHEMA
from tests.lambda_harness import context, load_handler

RAW, LAKE_BUCKET, DATABASE, TABLE = "raw-logs", "egress-lake", "egress", "egress-idempotency"
ACCOUNT = "123456789012"
FLOW_KEY = (
    f"AWSLogs/{ACCOUNT}/vpcflowlogs/us-east-1/2026/10/01/"
    f"{ACCOUNT}_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261001T0000Z_abcd1234.log.gz"
)
FLOW_PARTITION = [ACCOUNT, "us-east-1", "2022-11-30"]  # the records' account, the key's region, their day
SAMPLE = "log_samples/vpc_flow/loki_lambda_promtail_s3_delivered_with_header.log.gz"

# Invocations that ingest nothing (test events, replays) have no metrics to publish: expected here.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


# ---- notification parsing ------------------------------------------------------------------------------------
def _notification(key: str, bucket: str = RAW, event: str = "ObjectCreated:Put", **obj) -> dict:
    """An S3 event notification as S3 sends it (AWS's documented shape)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-10-01T00:05:00.000Z",
                "eventName": event,
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "203.0.113.10"},
                "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZ"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "egress-ingest",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    # S3 form-encodes keys but leaves '/' alone.
                    "object": {"key": quote_plus(key, safe="/"), "size": 10, "eTag": "abc", "sequencer": "0A1B"} | obj,
                },
            }
        ]
    }


def _sns(message: dict) -> dict:
    """The envelope SNS puts around a message it delivers to SQS (raw message delivery off)."""
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:raw-logs-events",
        "Subject": "Amazon S3 Notification",
        "Message": json.dumps(message),
        "Timestamp": "2026-10-01T00:05:01.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkO",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
        "UnsubscribeURL": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:{ACCOUNT}:raw-logs-events:1",
    }


def _eventbridge(key: str, detail_type: str = "Object Created") -> dict:
    """An S3 event as EventBridge delivers it (AWS's documented shape)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": "2026-10-01T00:05:00Z",
        "region": "eu-west-1",
        "resources": [f"arn:aws:s3:::{RAW}"],
        "detail": {
            "version": "0",
            "bucket": {"name": RAW},
            "object": {"key": quote_plus(key, safe="/"), "size": 10, "etag": "abc", "sequencer": "0A1B"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": ACCOUNT,
            "source-ip-address": "203.0.113.10",
            "reason": "PutObject",
        },
    }


TEST_EVENT = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-10-01T00:00:00Z", "Bucket": RAW}


def test_key_decoding_plus_and_percent():
    (ref,) = s3_objects(json.dumps(_notification("logs/a b+c%d.log")))
    assert ref.key == "logs/a b+c%d.log"  # '+' was a space, '%2B' a plus, '%25' a percent
    assert json.loads(json.dumps(_notification("x y+z")))["Records"][0]["s3"]["object"]["key"] == "x+y%2Bz"
    assert ref == S3ObjectRef(RAW, "logs/a b+c%d.log", "us-east-1", 10, "abc", "0A1B", "")
    assert ref.uri == f"s3://{RAW}/logs/a b+c%d.log"
    assert S3ObjectRef.from_dict(ref.to_dict()) == ref


def test_envelopes_and_shapes():
    key = "AWSLogs/1/x y+z.gz"
    direct = s3_objects(json.dumps(_notification(key)))
    assert s3_objects(json.dumps(_sns(_notification(key)))) == direct
    assert s3_objects(_notification(key)) == direct  # an already decoded body (direct S3 -> Lambda)
    (eb,) = s3_objects(json.dumps(_eventbridge(key)))
    assert (eb.bucket, eb.key, eb.region, eb.etag, eb.size) == (RAW, key, "eu-west-1", "abc", 10)
    assert s3_objects(json.dumps(_eventbridge(key, "Object Deleted"))) == []
    assert s3_objects(json.dumps(_notification(key, event="ObjectRemoved:Delete"))) == []
    assert s3_objects(json.dumps(TEST_EVENT)) == []
    assert s3_objects(json.dumps(_sns(TEST_EVENT))) == []
    two = _notification("a")
    two["Records"] += _notification("b", event="ObjectCreated:CompleteMultipartUpload")["Records"]
    assert [r.key for r in s3_objects(two)] == ["a", "b"]


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        "{}",
        json.dumps({"Records": []}),
        json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]}),
        json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {}}}]}),
        json.dumps({"Records": [{"eventSource": "aws:sqs", "eventName": "ObjectCreated:Put"}]}),
        json.dumps(_notification("")),
        json.dumps({"Type": "Notification", "Message": "not json"}),
        json.dumps({"source": "aws.s3", "detail-type": "Object Created", "detail": {"object": {"key": "k"}}}),
    ],
)
def test_malformed_bodies_raise(body):
    with pytest.raises(MalformedEvent):
        s3_objects(body)


# ---- the Lambda against a moto server --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class Aws:
    endpoint: str
    handler: ModuleType
    s3: object
    sqs: object
    glue: object
    dynamodb: object
    queue_url: str
    sns_queue_url: str
    test_events: list[dict]  # what S3 (moto) queued when the notifications were configured

    def put(self, key: str, data: bytes) -> str:
        return self.s3.put_object(Bucket=RAW, Key=key, Body=data)["ETag"].strip('"')

    def messages(self, queue_url: str | None = None, expect: int = 1) -> list[dict]:
        """The notifications S3 (moto) queued, as the SQS event records Lambda would deliver."""
        got = self.sqs.receive_message(QueueUrl=queue_url or self.queue_url, MaxNumberOfMessages=10)["Messages"]
        assert len(got) == expect
        return [_sqs_record(m["Body"], m["MessageId"]) for m in got]

    def invoke(self, *records: dict) -> dict:
        return self.handler.lambda_handler({"Records": list(records)}, context("egress-ingest"))

    def lake_keys(self, prefix: str = "lake/") -> dict[str, str]:
        """Lake objects and their ETags (the empty "folder/" markers pyarrow creates on S3 left out)."""
        objs = self.s3.list_objects_v2(Bucket=LAKE_BUCKET, Prefix=prefix).get("Contents", [])
        return {o["Key"]: o["ETag"] for o in objs if not o["Key"].endswith("/")}

    def partitions(self, table: str) -> list[list[str]]:
        return sorted(
            p["Values"] for p in self.glue.get_partitions(DatabaseName=DATABASE, TableName=table)["Partitions"]
        )

    def idempotency_items(self) -> list[dict]:
        return self.dynamodb.scan(TableName=TABLE)["Items"]


def _sqs_record(body: str, message_id: str | None = None) -> dict:
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEB" + uuid.uuid4().hex,
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1790812800000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:{ACCOUNT}:egress-ingest",
        "awsRegion": "us-east-1",
    }


@pytest.fixture()
def aws(moto_endpoint, monkeypatch) -> Aws:
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):  # boto3 and pyarrow respectively
        monkeypatch.setenv(var, moto_endpoint)
    monkeypatch.setenv("LAKE_URI", f"s3://{LAKE_BUCKET}/lake")
    monkeypatch.setenv("IDEMPOTENCY_TABLE", TABLE)
    monkeypatch.setenv("GLUE_DATABASE", DATABASE)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "egress-ingest")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "EgressOptimizerTest")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "egress-ingest")

    s3 = boto3.client("s3", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    sns = boto3.client("sns", region_name="us-east-1")
    glue = boto3.client("glue", region_name="us-east-1")
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    for bucket in (RAW, LAKE_BUCKET):
        s3.create_bucket(Bucket=bucket)
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    glue.create_database(DatabaseInput={"Name": DATABASE})

    # S3 notifies a queue directly for AWSLogs/, and a topic (SNS envelope -> queue) for sns/.
    queue_url = sqs.create_queue(QueueName="egress-ingest")["QueueUrl"]
    sns_queue_url = sqs.create_queue(QueueName="egress-ingest-sns")["QueueUrl"]
    topic = sns.create_topic(Name="raw-logs-events")["TopicArn"]
    sns_queue_arn = sqs.get_queue_attributes(QueueUrl=sns_queue_url, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=sns_queue_arn["QueueArn"])

    def prefix(p: str) -> dict:
        return {"Key": {"FilterRules": [{"Name": "prefix", "Value": p}]}}

    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=RAW,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"], "Filter": prefix("AWSLogs/")}
            ],
            "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"], "Filter": prefix("sns/")}],
        },
    )

    test_events = []
    for url in (queue_url, sns_queue_url):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        test_events += [_sqs_record(m["Body"], m["MessageId"]) for m in got]

    # The handler reads its configuration when imported, as on a Lambda cold start.
    handler = load_handler("ingest")
    return Aws(moto_endpoint, handler, s3, sqs, glue, dynamodb, queue_url, sns_queue_url, test_events)


def _emf(out: str) -> dict[str, float]:
    """Sum of each metric over the EMF documents Powertools printed."""
    totals: dict[str, float] = {}
    for line in out.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        doc = json.loads(line)
        for definition in doc["_aws"]["CloudWatchMetrics"]:
            assert definition["Namespace"] == "EgressOptimizerTest"
            for metric in definition["Metrics"]:
                values = doc[metric["Name"]]
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(
                    values if isinstance(values, list) else [values]
                )
    return totals


def test_ingests_a_flow_log_end_to_end(aws, shared, capsys):
    aws.put(FLOW_KEY, (shared / SAMPLE).read_bytes())
    (record,) = aws.messages()
    assert json.loads(record["body"])["Records"][0]["eventName"] == "ObjectCreated:Put"

    assert aws.invoke(record) == {"batchItemFailures": []}

    keys = aws.lake_keys("lake/vpc_flow/")
    (key,) = keys
    assert key.startswith(f"lake/vpc_flow/account={ACCOUNT}/aws_region=us-east-1/dt=2022-11-30/")
    assert key.endswith(".parquet")
    body = aws.s3.get_object(Bucket=LAKE_BUCKET, Key=key)["Body"].read()
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows == 3
    assert table.schema.equals(VPC_FLOW_SCHEMA)
    assert table.column("bytes").to_pylist() == [21869, 12071, 112]

    assert aws.partitions("vpc_flow") == [FLOW_PARTITION]
    glue_table = aws.glue.get_table(DatabaseName=DATABASE, Name="vpc_flow")["Table"]
    assert glue_table["StorageDescriptor"]["Columns"] == glue_columns(VPC_FLOW_SCHEMA)
    assert glue_table["StorageDescriptor"]["Location"] == f"s3://{LAKE_BUCKET}/lake/vpc_flow/"

    metrics = _emf(capsys.readouterr().out)
    assert metrics["RecordsParsed"] == 3 and metrics["RecordsQuarantined"] == 0
    assert metrics["BytesIngested"] == (shared / SAMPLE).stat().st_size
    assert "ObjectsFailed" not in metrics

    # A full registration of the S3 lake agrees with what the Lambda registered: nothing to change.
    reg = register_lake(boto3.Session(region_name="us-east-1"), DATABASE, f"s3://{LAKE_BUCKET}/lake")
    assert reg.tables["vpc_flow"] == "unchanged" and reg.partitions["vpc_flow"] == 0
    assert aws.partitions("vpc_flow") == [FLOW_PARTITION]


def test_poisoned_message_fails_alone(aws, shared):
    aws.put(FLOW_KEY, (shared / SAMPLE).read_bytes())
    (good,) = aws.messages()
    poisoned = _sqs_record("not json")
    missing_keys = _sqs_record(json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]}))

    assert aws.invoke(poisoned, good) == {"batchItemFailures": [{"itemIdentifier": poisoned["messageId"]}]}
    assert len(aws.lake_keys("lake/vpc_flow/")) == 1
    assert aws.partitions("vpc_flow") == [FLOW_PARTITION]

    # A batch of nothing but bad messages still answers with the failures (no exception, no retry of all).
    assert aws.invoke(missing_keys) == {"batchItemFailures": [{"itemIdentifier": missing_keys["messageId"]}]}


def test_redelivery_is_served_from_the_idempotency_table(aws, shared, monkeypatch, capsys):
    etag = aws.put(FLOW_KEY, (shared / SAMPLE).read_bytes())
    (record,) = aws.messages()
    assert aws.invoke(record) == {"batchItemFailures": []}
    first = aws.lake_keys()
    (item,) = aws.idempotency_items()
    assert item["status"]["S"] == "COMPLETED"
    stored = json.loads(item["data"]["S"])
    assert stored["parsed"] == 3 and stored["uri"] == f"s3://{RAW}/{FLOW_KEY}"
    capsys.readouterr()

    calls: list[SourceObject] = []
    real = aws_event.ingest_object
    monkeypatch.setattr(aws_event, "ingest_object", lambda lake, obj, *a: calls.append(obj) or real(lake, obj, *a))

    # The same message again, and the same object announced through SNS and EventBridge shapes.
    same_object = json.loads(record["body"])
    redeliveries = [record, _sqs_record(json.dumps(_sns(same_object)))]
    eventbridge = _eventbridge(FLOW_KEY)
    eventbridge["detail"]["object"]["etag"] = etag
    redeliveries.append(_sqs_record(json.dumps(eventbridge)))
    assert aws.invoke(*redeliveries) == {"batchItemFailures": []}

    assert calls == []  # answered from DynamoDB: the lake was not touched
    assert aws.lake_keys() == first  # same files, same content
    assert len(aws.idempotency_items()) == 1
    assert aws.partitions("vpc_flow") == [FLOW_PARTITION]
    assert "RecordsParsed" not in _emf(capsys.readouterr().out)  # a replay is not counted twice

    # The object uploaded again with the same bytes: a new notification, but the same ETag, so a no-op.
    aws.put(FLOW_KEY, (shared / SAMPLE).read_bytes())
    assert aws.invoke(*aws.messages()) == {"batchItemFailures": []}
    assert calls == []
    assert aws.lake_keys() == first


def test_s3_test_event_is_ignored(aws):
    assert aws.test_events, "S3 sends s3:TestEvent when a notification is configured"
    assert all("s3:TestEvent" in r["body"] for r in aws.test_events)
    direct = _sqs_record(json.dumps(TEST_EVENT))
    via_sns = _sqs_record(json.dumps(_sns(TEST_EVENT)))
    assert aws.invoke(*aws.test_events, direct, via_sns) == {"batchItemFailures": []}
    assert aws.idempotency_items() == []
    assert [k for k in aws.lake_keys() if not k.endswith("_egress_lake.json")] == []


def test_sns_wrapped_notification_and_encoded_key(aws, shared):
    key = "sns/" + FLOW_KEY.replace("/2026/10/01/", "/2026/10/01/a b+c/")  # announced as a+b%2Bc
    aws.put(key, (shared / SAMPLE).read_bytes())
    (record,) = aws.messages(aws.sns_queue_url)
    envelope = json.loads(record["body"])
    assert envelope["Type"] == "Notification"  # moto delivered it through the topic
    assert aws.invoke(record) == {"batchItemFailures": []}
    assert aws.partitions("vpc_flow") == [FLOW_PARTITION]
    (item,) = aws.idempotency_items()
    assert key in json.loads(item["data"]["S"])["uri"]


def test_unrecognised_object_is_acknowledged(aws):
    aws.put("AWSLogs/notes/readme.txt", b"these are not the logs you are looking for\n")
    (record,) = aws.messages()
    assert aws.invoke(record) == {"batchItemFailures": []}
    (item,) = aws.idempotency_items()
    assert json.loads(item["data"]["S"])["skipped"] is True
    assert [k for k in aws.lake_keys() if not k.endswith("_egress_lake.json")] == []


def test_unparseable_object_is_quarantined_not_failed(aws, capsys):
    key = FLOW_KEY.replace("abcd1234.log.gz", "bad.log")
    aws.put(key, b"this is not\na flow log\n")
    (record,) = aws.messages()
    assert aws.invoke(record) == {"batchItemFailures": []}
    (qkey,) = aws.lake_keys("lake/quarantine/")
    assert qkey.startswith("lake/quarantine/source=vpc-flow/")
    rows = pq.read_table(io.BytesIO(aws.s3.get_object(Bucket=LAKE_BUCKET, Key=qkey)["Body"].read())).to_pylist()
    assert rows[0]["source_object"] == f"s3://{RAW}/{key}" and "unreadable" in rows[0]["reason"]
    assert aws.partitions("quarantine") == [["vpc-flow"]]  # the table was created on first use
    assert aws.lake_keys("lake/vpc_flow/") == {}
    assert _emf(capsys.readouterr().out)["ObjectsFailed"] == 1


def test_unreadable_s3_object_is_a_batch_failure_and_retries_cleanly(aws, shared, caplog):
    record = _sqs_record(json.dumps(_notification(FLOW_KEY)))  # announced, but not (or no longer) there
    assert aws.invoke(record) == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    assert "does not exist" in caplog.text  # the reason is in the structured log
    assert aws.idempotency_items() == []  # a failure leaves no record, so SQS's retry is processed

    aws.s3.put_object(Bucket=RAW, Key=FLOW_KEY, Body=(shared / SAMPLE).read_bytes())
    aws.messages()  # drain the queue: the retry below is the same message as before
    assert aws.invoke(record) == {"batchItemFailures": []}
    assert aws.partitions("vpc_flow") == [FLOW_PARTITION]
