"""Issue 19's approval path: signed single-use email links and verified Slack buttons reach
``lambdas/approval/handler.py``, which resumes the response workflow (run locally: the deployed state machine on
moto, the real handlers in-process). Forged, expired, replayed, wrong-approver, plan-changed and wrong-signature
requests are refused; a decision on a workflow that stopped waiting is handled."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import boto3
import pytest
from botocore.stub import ANY, Stubber

from egress_optimizer.respond import approval_tokens, approvals
from egress_optimizer.respond.approval_tokens import Claims, Refused
from egress_optimizer.respond.local import LocalWorkflow, load_handlers
from tests.lambda_harness import LAMBDAS, context, load_handler
from tests.test_respond_workflow import as_event, incident, public_bucket

KEY, SLACK_SECRET, ALICE, MALLORY = b"k" * 32, b"slack-signing-secret", "U0ALICE", "U0MALLORY"


def claims(**change) -> Claims:
    base = {"approval_id": "apr-1", "incident_id": "inc-1", "plan_hashes": ("h1",), "approver": "alice@example.com",
            "expires_at": int(time.time()) + 600}  # fmt: skip
    return Claims(**{**base, **change})


def test_tokens_bind_and_expire():
    token = approval_tokens.sign(KEY, claims())
    assert approval_tokens.verify(KEY, token).approver == "alice@example.com"
    _payload, signature = token.split(".")
    forged = approval_tokens.sign(b"x" * 32, claims(approver="mallory@example.com")).split(".")[0] + "." + signature
    for bad, reason in (
        (forged, "signature"),
        (approval_tokens.sign(b"other-key", claims()), "signature"),
        (approval_tokens.sign(KEY, claims(expires_at=int(time.time()) - 1)), "expired"),
        ("not-a-token", "malformed"),
    ):
        with pytest.raises(Refused, match=reason):
            approval_tokens.verify(KEY, bad)
    item = {"approval_id": "apr-1", "incident_id": "inc-1", "plan_hashes": ["h2"]}
    with pytest.raises(Refused, match="plans changed"):
        approval_tokens.check_binding(claims(), item)


def slack_request(body: bytes, secret: bytes = SLACK_SECRET, age: int = 0) -> dict:
    stamp = str(int(time.time()) - age)
    sig = "v0=" + hmac.new(secret, b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sig}


def slack_body(value: str, user: str = ALICE) -> bytes:
    payload = {"type": "block_actions", "user": {"id": user}, "actions": [{"action_id": "a", "value": value}]}
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_slack_requests_are_verified_as_slack_specifies():
    body = slack_body("approve:apr-1")
    approval_tokens.verify_slack(SLACK_SECRET, slack_request(body), body)
    for headers, reason in (
        (slack_request(body, age=301), "older"),
        (slack_request(body, secret=b"wrong"), "signature"),
        (slack_request(body + b"&x=1"), "signature"),
        ({}, "not a signed"),
    ):
        with pytest.raises(Refused, match=reason):
            approval_tokens.verify_slack(SLACK_SECRET, headers, body)
    assert approval_tokens.slack_decision(body, {ALICE}).decision == "approved"
    with pytest.raises(Refused, match="not an approver"):
        approval_tokens.slack_decision(slack_body("approve:apr-1", MALLORY), {ALICE})
    with pytest.raises(Refused, match="unknown approval button"):
        approval_tokens.slack_decision(slack_body("delete:apr-1"), {ALICE})


def test_a_decision_the_workflow_no_longer_waits_for_is_handled():
    from moto import mock_aws

    with mock_aws():
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        table = ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "approval_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "approval_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        approval_id = approvals.request(table, "TOKEN", "exec", "inc-1", ["h1"], 600)
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        with Stubber(sfn) as stub:
            stub.add_client_error("send_task_success", "TaskTimedOut", "timed out", 400,
                                  expected_params={"taskToken": "TOKEN", "output": ANY})  # fmt: skip
            with pytest.raises(Exception, match="no longer waits"):
                approvals.decide(table, sfn, approval_id, "approved", "alice")
        assert table.get_item(Key={"approval_id": approval_id})["Item"]["status"] == "expired"


def http(method: str, path: str, body: bytes = b"", headers: dict | None = None, query: dict | None = None) -> dict:
    return {"version": "2.0", "rawPath": path, "requestContext": {"http": {"method": method}}, "headers": headers or {},
            "body": body.decode(), "isBase64Encoded": False, "queryStringParameters": query}  # fmt: skip


@pytest.fixture
def workflow(tmp_path):
    with LocalWorkflow(load_handlers(LAMBDAS / "respond" / "handler.py"), {"TRAIL_LOGS": str(tmp_path)}) as wf:
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        key_arn = sm.create_secret(Name="approval-key", SecretString=KEY.decode())["ARN"]
        slack_arn = sm.create_secret(Name="slack", SecretString=SLACK_SECRET.decode())["ARN"]
        with pytest.MonkeyPatch.context() as mp:
            for k, v in {"APPROVAL_KEY_SECRET_ARN": key_arn, "SLACK_SIGNING_SECRET_ARN": slack_arn,
                         "APPROVER_SLACK_IDS": f"{ALICE},U0BOB", "APPROVALS_TABLE": wf.table_name}.items():  # fmt: skip
                mp.setenv(k, v)
            yield wf, load_handler("approval")


def pending(wf) -> dict:
    public_bucket()
    started = wf.start(as_event(incident()))
    wf.wait(started["execution_arn"], until=lambda: bool(wf.pending_approvals()))
    (item,) = wf.pending_approvals()
    return {**item, "execution_arn": started["execution_arn"]}


def test_an_email_link_decides_once(workflow):
    wf, approval = workflow
    item = pending(wf)
    token = approval_tokens.sign(KEY, claims(approval_id=item["approval_id"], incident_id=item["incident_id"],
                                             plan_hashes=tuple(item["plan_hashes"])))  # fmt: skip
    page = approval.handler(http("GET", "/approve", query={"token": token}), context("approval"))
    assert page["statusCode"] == 200 and "<form" in page["body"] and wf.pending_approvals()  # a GET decides nothing
    form = urlencode({"token": token, "decision": "approved"}).encode()
    done = approval.handler(http("POST", "/approve", form), context("approval"))
    assert done["statusCode"] == 200 and "approved by alice@example.com" in done["body"]
    assert json.loads(wf.wait(item["execution_arn"])["output"])["outcome"]["outcome"] == "remediated"
    replay = approval.handler(http("POST", "/approve", form), context("approval"))
    assert replay["statusCode"] == 409 and "already decided" in replay["body"]
    other = approval_tokens.sign(KEY, claims(approval_id=item["approval_id"], incident_id=item["incident_id"],
                                             plan_hashes=("another-plan",)))  # fmt: skip
    changed = approval.handler(http("POST", "/approve", urlencode({"token": other, "decision": "approved"}).encode()),
                               context("approval"))  # fmt: skip
    assert changed["statusCode"] == 403 and "plans changed" in changed["body"]


def test_slack_buttons_decide_for_allowed_users_only(workflow):
    wf, approval = workflow
    item = pending(wf)
    mallory = slack_body(f"approve:{item['approval_id']}", MALLORY)
    refused = approval.handler(http("POST", "/slack/actions", mallory, slack_request(mallory)), context("approval"))
    assert refused["statusCode"] == 403 and wf.pending_approvals()
    forged = slack_body(f"approve:{item['approval_id']}")
    bad = approval.handler(http("POST", "/slack/actions", forged, slack_request(forged, b"guess")), context("approval"))
    assert bad["statusCode"] == 403 and wf.pending_approvals()
    body = slack_body(f"reject:{item['approval_id']}")
    first = approval.handler(http("POST", "/slack/actions", body, slack_request(body)), context("approval"))
    assert first["statusCode"] == 200 and "refused" in first["body"]
    retry = approval.handler(http("POST", "/slack/actions", body, slack_request(body)), context("approval"))
    assert retry["statusCode"] == 200 and "already decided" in retry["body"]  # Slack's retries are idempotent
    assert json.loads(wf.wait(item["execution_arn"])["output"])["outcome"]["outcome"] == "refused"
