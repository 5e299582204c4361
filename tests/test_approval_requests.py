"""Issue 19: how approvers are asked and how their answer resumes the workflow, on the deployed state machine
run locally (moto, the real handlers in-process). Slack is a loopback HTTP server standing in for its Web API
and for an interaction's ``response_url``; email goes through an SNS topic whose subscriptions filter on the
approver. Also: actions the policy lets apply by themselves, and whether the targeted egress fell."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import boto3
import pandas as pd
import pyarrow as pa
import pytest

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.lake import Lake
from egress_optimizer.respond import approval_messages, approval_tokens, egress_check, tasks
from egress_optimizer.respond.actions import Plan, Target
from egress_optimizer.respond.policy import Policy
from egress_optimizer.tables import ATTRIBUTED, REMEDIATION_AUDIT
from tests.lambda_harness import context
from tests.loopback import serving
from tests.test_approvals import ALICE, KEY, http, pending, slack_body, slack_request, workflow  # noqa: F401
from tests.test_respond_workflow import ACCOUNT, BUCKET, as_event, block_of, incident, public_bucket

REGION = "us-east-1"


@pytest.fixture
def fake_slack():
    with serving() as server:
        yield server


def eventually(read, timeout: float = 10.0):
    """``read()`` once it returns something: the approval is stored before the request step sends its messages."""
    deadline = time.monotonic() + timeout
    while not (got := read()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return got


def sqs_event(queue_url: str) -> dict:
    sqs = boto3.client("sqs", region_name=REGION)
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    arn = f"arn:aws:sqs:{REGION}:123456789012:{queue_url.rsplit('/', 1)[-1]}"
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": REGION,
            }
            for m in got
        ]
    }


def test_slack_asks_with_buttons_and_a_click_resumes_the_workflow_through_the_queue(
    workflow,  # noqa: F811 - the fixture imported above
    fake_slack,
    monkeypatch,
):
    wf, approval = workflow
    sm = boto3.client("secretsmanager", region_name=REGION)
    token_arn = sm.create_secret(Name="slack-bot", SecretString="xoxb-test-token")["ARN"]
    queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName="approval-resume")["QueueUrl"]
    for k, v in {"SLACK_BOT_TOKEN_SECRET_ARN": token_arn, "SLACK_APPROVAL_CHANNEL": "C0APPROVALS",
                 "SLACK_API_URL": f"{fake_slack.url}/api/", "RESUME_QUEUE_URL": queue,
                 "SLACK_RESPONSE_HOSTS": "127.0.0.1"}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    item = pending(wf)
    first, *_ = eventually(lambda: list(fake_slack.requests))
    posted = first.body
    assert first.path == "/api/chat.postMessage" and first.headers["Authorization"] == "Bearer xoxb-test-token"
    assert posted["channel"] == "C0APPROVALS"
    buttons = next(b for b in posted["blocks"] if b["type"] == "actions")["elements"]
    assert [b["value"] for b in buttons] == [f"{k}:{item['approval_id']}" for k in ("approve", "reject", "snooze")]
    task_token = wf.table().get_item(Key={"approval_id": item["approval_id"]})["Item"]["task_token"]
    assert task_token not in json.dumps(posted)
    assert "BlockPublicAcls" in json.dumps(posted["blocks"])  # the dry-run diff is in the message

    body = slack_body(f"approve:{item['approval_id']}")
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    payload["response_url"] = f"{fake_slack.url}/actions/T1/1/xyz"
    body = f"payload={json.dumps(payload)}".encode()
    answer = approval.handler(http("POST", "/slack/actions", body, slack_request(body)), context("approval"))
    assert answer["statusCode"] == 200 and "approved" in answer["body"]
    execution = wf.sfn.describe_execution(executionArn=item["execution_arn"])
    assert execution["status"] == "RUNNING"  # recorded; resuming waits for the queue

    event = sqs_event(queue)
    assert approval.handler(event, context("approval")) == {"batchItemFailures": []}
    assert json.loads(wf.wait(item["execution_arn"])["output"])["outcome"]["outcome"] == "remediated"
    (update,) = (r.body for r in fake_slack.calls("/actions/T1/1/xyz"))
    assert update["replace_original"] is True and "approved by U0ALICE" in update["text"]
    # SQS delivers at least once: the same message again resumes nothing and fails nothing
    assert approval.handler(event, context("approval")) == {"batchItemFailures": []}


def test_each_email_approver_gets_only_their_own_link(workflow, tmp_path, monkeypatch):  # noqa: F811 - fixture
    wf, approval = workflow
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="egress-approvals")["TopicArn"]
    inbox = {}
    for who in ("alice@example.com", "bob@example.com"):
        name = who.split("@")[0]
        inbox[who] = sqs.create_queue(QueueName=f"mail-{name}")["QueueUrl"]
        attributes = {"RawMessageDelivery": "true", "FilterPolicy": json.dumps({"approver": [who]})}
        endpoint = f"arn:aws:sqs:{REGION}:123456789012:mail-{name}"
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=endpoint, Attributes=attributes)
    policy = tmp_path / "policy.yaml"
    policy.write_text("actions:\n  s3.block-public-access:\n    approvers: [alice@example.com, U0ALICE]\n")
    monkeypatch.setenv("APPROVALS_TOPIC_ARN", topic)
    monkeypatch.setenv("APPROVAL_URL", "https://approvals.example.com/")
    monkeypatch.setenv("APPROVER_EMAILS", "alice@example.com,bob@example.com")
    monkeypatch.setenv("REMEDIATION_POLICY", str(policy))
    item = pending(wf)
    (mail,) = eventually(lambda: sqs.receive_message(QueueUrl=inbox["alice@example.com"]).get("Messages", []))
    assert sqs.receive_message(QueueUrl=inbox["bob@example.com"]).get("Messages", []) == []  # bob may not approve
    link = next(line for line in mail["Body"].splitlines() if line.startswith("https://approvals.example.com/approve?"))
    token = parse_qs(urlsplit(link).query)["token"][0]
    claims = approval_tokens.verify(KEY, token)
    assert claims.approver == "alice@example.com" and claims.approval_id == item["approval_id"]
    assert "BlockPublicAcls" in mail["Body"]
    done = approval.handler(http("POST", "/approve", f"token={token}&decision=approved".encode()), context("approval"))
    assert done["statusCode"] == 200 and "approved by alice@example.com" in done["body"]
    assert json.loads(wf.wait(item["execution_arn"])["output"])["outcome"]["outcome"] == "remediated"


def test_slack_text_from_resources_is_escaped():
    inc = Incident.from_json({**incident(), "id": "inc-<!channel>"})
    target = Target(id="bucket<@U0BOSS>", account=ACCOUNT, region=REGION)
    plan = Plan(action_id="s3.block-public-access", target=target, current={}, proposed={"x": "<https://evil|ok>"},
                changes=['x: null -> "<https://evil|ok>"'], hash="h" * 64)  # fmt: skip
    blocks = approval_messages.slack_blocks("apr-1", inc, [plan], 1_800_000_000)
    # mrkdwn turns <...> into pings and links; plain_text shows it as it is
    text = json.dumps([b["text"] for b in blocks if b.get("text", {}).get("type") == "mrkdwn"])
    assert "<!channel>" not in text and "<@U0BOSS>" not in text and "<https://evil" not in text
    assert "&lt;@U0BOSS&gt;" in text


def auto_policy(tmp_path, *actions: str) -> str:
    path = tmp_path / "auto.yaml"
    path.write_text("actions:\n" + "".join(f"  {a}:\n    auto_apply: true\n" for a in actions))
    return str(path)


def test_actions_the_policy_lets_apply_by_themselves_need_no_person(tmp_path, monkeypatch):
    from egress_optimizer.respond.local import LocalWorkflow, load_handlers
    from tests.lambda_harness import LAMBDAS

    lake_dir = str(tmp_path / "lake")
    Lake.open(lake_dir)
    policy = auto_policy(tmp_path, "s3.block-public-access", "s3.remove-public-policy-statements")
    env = {"TRAIL_LOGS": str(tmp_path), "REMEDIATION_POLICY": policy, "LAKE_URI": lake_dir}
    with LocalWorkflow(load_handlers(LAMBDAS / "respond" / "handler.py"), env) as wf:
        public_bucket()
        started = wf.start(as_event(incident()))
        out = json.loads(wf.wait(started["execution_arn"])["output"])
        assert out["outcome"]["outcome"] == "remediated" and wf.table().scan()["Items"] == []
        assert all(block_of(BUCKET).values())
    actors = Lake.open(lake_dir, create=False).read_table(REMEDIATION_AUDIT).to_pandas()
    assert set(actors.loc[actors["event"] == "applied", "actor"]) == {"policy:auto-apply"}


def test_one_action_without_auto_apply_sends_the_whole_incident_to_a_person(tmp_path):
    from egress_optimizer.respond.local import LocalWorkflow, load_handlers
    from tests.lambda_harness import LAMBDAS

    env = {"TRAIL_LOGS": str(tmp_path), "REMEDIATION_POLICY": auto_policy(tmp_path, "s3.block-public-access")}
    with LocalWorkflow(load_handlers(LAMBDAS / "respond" / "handler.py"), env) as wf:
        public_bucket()
        started = wf.start(as_event(incident()))
        wf.wait(started["execution_arn"], until=lambda: bool(wf.pending_approvals()))
        assert wf.pending_approvals() and not any(block_of(BUCKET).values())


def test_apply_refuses_an_automatic_approval_the_policy_does_not_grant():
    plan = Plan(action_id="s3.block-public-access", target=Target(id=BUCKET, account=ACCOUNT, region=REGION),
                current={}, proposed={}, changes=[], hash="h")  # fmt: skip
    forged = {"decision": "approved", "approver": "policy:auto-apply", "plan_hashes": ["h"]}
    settings = tasks.Settings(None, None, None, 60, None, policy=Policy())
    with pytest.raises(PermissionError, match="may not approve"):
        tasks.apply([plan], forged, settings)
    assert tasks.auto_approval([plan], Policy()) is None


def attributed_lake(tmp_path, usd_by_hour: dict[str, float]) -> Lake:
    same = {
        "account": ACCOUNT,
        "region": REGION,
        "product": "AmazonS3",
        "usage_type": "DataTransfer-Out-Bytes",
        "resource_id": BUCKET,
        "team": "data",
        "app": "x",
        "destination": "internet",
        "peer_region": "",
        "peer": "203.0.113.9",
        "bytes": 10**9,
        "packets": 0,
        "records": 1,
        "gb": 1.0,
        "cache_misses": None,
    }
    rows = [{"hour": pd.Timestamp(h).to_pydatetime(), **same, "usd": usd} for h, usd in usd_by_hour.items()]
    lake = Lake.open(str(tmp_path / f"lake-{uuid.uuid4().hex[:6]}"))
    lake.write_hours(ATTRIBUTED, pa.Table.from_pylist(rows, schema=ATTRIBUTED.schema), sorted(r["hour"] for r in rows))
    return lake


@pytest.mark.parametrize(
    ("after_usd", "hours", "status"),
    [(0.25, 5, "fell"), (2.0, 5, "did_not_fall"), (0.25, 2, "not_yet_visible")],
)
def test_whether_the_targeted_egress_fell(tmp_path, after_usd, hours, status):
    # The incident: $11 over 5 h where $1 was expected, i.e. 2.2 $/h against 0.2 $/h.
    applied = datetime(2026, 11, 1, 17, 10, tzinfo=UTC)
    after = {f"2026-11-01T{18 + i}:00Z": after_usd for i in range(hours)}
    lake = attributed_lake(tmp_path, after)
    result = egress_check.check(lake, Incident.from_json(incident()), applied, datetime(2026, 11, 2, 6, tzinfo=UTC))
    assert result.status == status


def test_hours_without_traffic_count_as_none_once_the_lake_has_moved_past_them(tmp_path):
    lake = attributed_lake(tmp_path, {"2026-11-01T18:00Z": 0.1, "2026-11-01T23:00Z": 0.1})
    result = egress_check.check(lake, Incident.from_json(incident()), datetime(2026, 11, 1, 17, 10, tzinfo=UTC),
                                datetime(2026, 11, 2, 6, tzinfo=UTC))  # fmt: skip
    assert result.status == "fell" and result.after_usd_per_hour == pytest.approx(0.2 / 6)


def test_snooze_puts_the_approval_off_and_reminds_the_one_who_snoozed_it(
    workflow,  # noqa: F811 - the fixture imported above
    fake_slack,
    monkeypatch,
):
    wf, approval = workflow
    queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName="approval-resume")["QueueUrl"]
    monkeypatch.setenv("RESUME_QUEUE_URL", queue)
    monkeypatch.setenv("SLACK_RESPONSE_HOSTS", "127.0.0.1")
    monkeypatch.setenv("APPROVAL_SNOOZE_SECONDS", "0")  # the reminder at once (deployed: 15 minutes)
    item = pending(wf)
    payload = json.loads(parse_qs(slack_body(f"snooze:{item['approval_id']}").decode())["payload"][0])
    payload["response_url"] = f"{fake_slack.url}/actions/T1/2/snooze"
    body = f"payload={json.dumps(payload)}".encode()
    answer = approval.handler(http("POST", "/slack/actions", body, slack_request(body)), context("approval"))
    assert answer["statusCode"] == 200 and "snoozed" in answer["body"]
    stored = wf.table().get_item(Key={"approval_id": item["approval_id"]})["Item"]
    assert stored["status"] == "pending" and stored["snoozed_by"] == ALICE  # nothing decided
    assert approval.handler(sqs_event(queue), context("approval")) == {"batchItemFailures": []}
    (reminder,) = (r.body for r in fake_slack.calls("/actions/T1/2/snooze"))
    assert reminder["response_type"] == "ephemeral" and "still waits for a decision" in reminder["text"]
    # a reminder of an approval decided meanwhile says nothing; a decided approval cannot be snoozed
    approval.handler(http("POST", "/slack/actions", body, slack_request(body)), context("approval"))
    wf.decide(item["approval_id"], "refused", "bob@example.com")
    assert approval.handler(sqs_event(queue), context("approval")) == {"batchItemFailures": []}
    assert len(fake_slack.calls("/actions/T1/2/snooze")) == 1
    late = approval.handler(http("POST", "/slack/actions", body, slack_request(body)), context("approval"))
    assert "already decided" in late["body"] and sqs_event(queue)["Records"] == []
