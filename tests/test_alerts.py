"""Issue 20's alerts: email through SNS (read back through an SQS subscription on moto), Slack's Web API and a
webhook receiver on a loopback HTTP server, the alert state in DynamoDB (moto), secrets in Secrets Manager
(moto), Cost Anomaly Detection's feedback through botocore's Stubber (moto lacks it). The notify Lambda runs
in-process on SQS events, the approval Lambda on signed Slack interactions."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import urlencode

import boto3
import pytest
import yaml
from botocore.stub import Stubber
from moto import mock_aws

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.errors import InputError
from egress_optimizer.notify import alert_actions, alerts, channels, routing
from egress_optimizer.notify.alert_state import Busy, StateTable
from tests.lambda_harness import context, load_handler
from tests.loopback import serving

ACCOUNT, REGION = "123456789012", "us-east-1"
WEBHOOK_KEY, SLACK_SECRET = "webhook-key-0123456789", b"slack-signing-secret"
T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def incident(
    id: str = "inc-1", total: float = 468.0, severity: str = "high", team: str | None = "payments",
    entity: str = "nat-0abc", **change: object,
) -> Incident:  # fmt: skip
    start, hours = datetime(2026, 10, 1, 4, tzinfo=UTC), 6
    # fmt: off
    doc = {
        "id": id, "accounts": [ACCOUNT], "region": REGION, "severity": severity, "score": 0.93,
        "window": {"start": start, "end": start + timedelta(hours=hours), "detected_at": start + timedelta(hours=7)},
        "impact": {"expected_usd": 12.0, "actual_usd": 12.0 + total, "total_usd": total, "percentage": total / 0.12,
                   "per_day_usd": total / hours * 24, "max_hourly_usd": total / 4},
        "root_causes": [{"linkedAccount": ACCOUNT, "region": REGION, "service": "AmazonEC2",
                         "usageType": "USE1-NatGateway-Bytes", "impact": {"contribution": total}}],
        "entities": [{"kind": "nat_gateway", "id": entity, "account": ACCOUNT, "region": REGION,
                      "destination_class": "internet", "peer": None, "team": team, "bytes": 1_200_000_000_000,
                      "dollars": total + 10, "expected_dollars": 10.0, "impact_dollars": total, "share": 1.0}],
        "destinations": ["internet"], "teams": [team] if team else [],
        "evidence": [{"id": "ev-anomalous_series-1", "kind": "anomalous_series", "source": "anomalies",
                      "summary": "NAT bytes to the internet at 40x their baseline"}],
    }
    # fmt: on
    return Incident.model_validate({**doc, **change})


def cad_incident(total: float = 300.0, severity: str = "high") -> Incident:
    evidence = [{"id": "cad:abc-1", "kind": "cost_anomaly", "source": "ce:GetAnomalies",
                 "summary": "the Cost Anomaly Detection anomaly", "query": {"anomaly_id": "abc-1"}}]  # fmt: skip
    return incident("cad-1", total, severity, None, source="aws-cost-anomaly-detection", entities=[], evidence=evidence)


def eventbridge(inc: Incident) -> dict:
    return {"version": "0", "id": "ev-1", "detail-type": "Egress Cost Anomaly", "source": "egress.optimizer",
            "account": ACCOUNT, "time": "2026-10-01T11:00:00Z", "region": REGION, "resources": [],
            "detail": inc.to_json()}  # fmt: skip


@pytest.fixture
def world(tmp_path, monkeypatch):
    """AWS on moto, Slack and the webhook on loopback, a routing file: the payments team has its own channel,
    topic and pager webhook; everything else goes to the default route."""
    with serving() as server, mock_aws():
        ddb = boto3.resource("dynamodb", region_name=REGION)
        ddb.create_table(TableName="alerts", KeySchema=[{"AttributeName": "incident_id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "incident_id", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")  # fmt: skip
        sm = boto3.client("secretsmanager", region_name=REGION)
        token = sm.create_secret(Name="slack-bot", SecretString="xoxb-test")["ARN"]
        hook_key = sm.create_secret(Name="pager-key", SecretString=WEBHOOK_KEY)["ARN"]
        signing = sm.create_secret(Name="slack-signing", SecretString=SLACK_SECRET.decode())["ARN"]
        sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
        topics, inbox = {}, {}
        for name in ("default", "payments"):
            topics[name] = sns.create_topic(Name=f"alerts-{name}")["TopicArn"]
            inbox[name] = sqs.create_queue(QueueName=f"mail-{name}")["QueueUrl"]
            sns.subscribe(TopicArn=topics[name], Protocol="sqs", Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:mail-{name}")
        doc = {
            "default": {"slack_channel": "C0DEFAULT", "email_topic_arn": topics["default"]},
            "teams": {
                "Payments": {"slack_channel": "C0PAY", "email_topic_arn": topics["payments"], "webhooks": ["pager"]}
            },
            "webhooks": {"pager": {"url": f"{server.url}/hook/pager", "secret_arn": hook_key}},
        }
        path = tmp_path / "routes.yaml"
        path.write_text(yaml.safe_dump(doc))
        env = {"ALERTS_TABLE": "alerts", "ALERT_ROUTING_FILE": str(path), "SLACK_BOT_TOKEN_SECRET_ARN": token,
               "SLACK_API_URL": f"{server.url}/api/", "ALERT_RETRY_ATTEMPTS": "2", "ALERT_RETRY_BASE_SECONDS": "0.01",
               "REPORT_BASE_URL": "https://reports.example.com/egress", "SLACK_SIGNING_SECRET_ARN": signing,
               "APPROVER_SLACK_IDS": "U0ALICE", "SLACK_RESPONSE_HOSTS": "127.0.0.1"}  # fmt: skip
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        yield SimpleNamespace(
            server=server, topics=topics, inbox=inbox, sqs=sqs, doc=doc, path=path, table=ddb.Table("alerts")
        )


def make_alerts() -> alerts.Alerts:
    """As the notify Lambda builds them: from the environment."""
    routes = routing.from_env()
    table = boto3.resource("dynamodb", region_name=REGION).Table("alerts")
    return alerts.Alerts(StateTable(table), routes, channels.Outbound.from_env(routes))


def reroute(world, **change: object) -> None:
    world.path.write_text(yaml.safe_dump({**world.doc, **change}))


def mails(world, route: str) -> list[dict]:
    got = world.sqs.receive_message(QueueUrl=world.inbox[route], MaxNumberOfMessages=10).get("Messages", [])
    for m in got:
        world.sqs.delete_message(QueueUrl=world.inbox[route], ReceiptHandle=m["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in got]


def sqs_event(messages: list[dict]) -> dict:
    return {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                         "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                         "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:alerts",
                         "awsRegion": REGION} for m in messages]}  # fmt: skip


def verify_webhook(request: SimpleNamespace) -> dict:
    """The receiver's check, written from the spec: HMAC-SHA256 of "<t>.<body>", hex, constant-time."""
    parts = dict(p.split("=", 1) for p in request.headers["X-Egress-Signature"].split(","))
    expected = hmac.new(WEBHOOK_KEY.encode(), parts["t"].encode() + b"." + request.raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"])
    assert abs(time.time() - int(parts["t"])) < 300
    return json.loads(request.raw)


def mrkdwn(blocks: list[dict]) -> str:
    texts = [b["text"]["text"] for b in blocks if b.get("text", {}).get("type") == "mrkdwn"]
    texts += [f["text"] for b in blocks for f in b.get("fields", [])]
    texts += [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    return "\n".join(texts)


def test_a_new_incident_pages_by_email_slack_and_signed_webhook_once(world):
    notify = load_handler("notify")
    queue = world.sqs.create_queue(QueueName="alerts")["QueueUrl"]
    inc = incident()
    world.sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(eventbridge(inc), default=str))
    event = sqs_event(world.sqs.receive_message(QueueUrl=queue)["Messages"])
    assert notify.handler(event, context("notify")) == {"batchItemFailures": []}

    (mail,) = mails(world, "payments")  # the payments team's topic, by the resource's team tag
    assert mails(world, "default") == []
    subject, body = mail["Subject"], mail["Message"]
    assert subject == "[HIGH] Egress +$468.00 ($1,872.00/day): nat-0abc" and len(subject) < 100
    for text in ("Expected $12.00, actual $480.00 over the window (+3,900%)",
                 "Impact in total over the window: $468.00", "Impact per day at this rate: $1,872.00",
                 "AmazonEC2 USE1-NatGateway-Bytes, account 123456789012, us-east-1: $468.00 of the impact",
                 "[anomalous_series] NAT bytes to the internet at 40x their baseline",
                 "1. nat_gateway nat-0abc (123456789012, us-east-1) -> internet: +$468.00 (100%), 1.2 TB",
                 "Recommended actions (dry run)",
                 "Incident page: https://reports.example.com/egress/incidents/inc-1"):  # fmt: skip
        assert text in body, text

    (post,) = world.server.calls("/api/chat.postMessage")
    assert post.headers["Authorization"] == "Bearer xoxb-test" and post.body["channel"] == "C0PAY"
    blocks = post.body["blocks"]
    assert blocks[0]["text"]["text"] == subject
    actions = next(b for b in blocks if b["type"] == "actions")["elements"]
    assert [b.get("value") for b in actions] == ["alert-ack:inc-1", "alert-snooze:inc-1:4", "alert-planned:inc-1", None]
    assert actions[-1]["url"] == "https://reports.example.com/egress/incidents/inc-1"
    assert "Impact, total over the window*\n$468.00" in mrkdwn(blocks)

    (hook,) = world.server.calls("/hook/pager")
    assert verify_webhook(hook) == inc.to_json()  # the body is the incident contract
    assert hook.headers["X-Egress-Event"] == "incident.opened" and hook.headers["X-Egress-Delivery"] == "inc-1:high"

    # EventBridge and SQS deliver at least once: the same event again sends nothing
    assert notify.handler(event, context("notify")) == {"batchItemFailures": []}
    assert len(world.server.requests) == 2 and mails(world, "payments") == []


def test_growth_within_the_severity_updates_the_message_and_its_thread_without_paging(world):
    ctx = make_alerts()
    assert alerts.dispatch(ctx, incident(total=468.0), T0).action == "paged"
    mails(world, "payments")
    ts = world.table.get_item(Key={"incident_id": "inc-1"})["Item"]["slack_ts"]

    out = alerts.dispatch(ctx, incident(total=600.0), T0 + timedelta(hours=1))
    assert out.action == "updated" and out.channels == ["slack"]
    (update,) = world.server.calls("/api/chat.update")
    assert update.body["ts"] == ts and update.body["channel"] == "C0PAY"
    assert "$600.00" in update.body["blocks"][0]["text"]["text"]
    note = world.server.calls("/api/chat.postMessage")[1].body
    assert note["thread_ts"] == ts and not note.get("reply_broadcast")
    assert "Grew to *$600.00* in total over the window" in note["text"] and "from $468.00" in note["text"]
    assert mails(world, "payments") == [] and len(world.server.calls("/hook/pager")) == 1  # nobody paged
    # the same total again is a redelivery: nothing at all
    assert alerts.dispatch(ctx, incident(total=600.0), T0 + timedelta(hours=1)).action == "unchanged"
    assert len(world.server.calls("/api/chat.update")) == 1


def test_crossing_into_the_next_severity_pages_again_in_the_same_thread(world):
    ctx = make_alerts()
    alerts.dispatch(ctx, incident(total=468.0), T0)
    mails(world, "payments")
    out = alerts.dispatch(ctx, incident(total=1800.0, severity="critical"), T0 + timedelta(hours=1))
    assert out.action == "repaged" and set(out.channels) == {"slack", "email", "webhook:pager"}
    posts = world.server.calls("/api/chat.postMessage")
    ts = world.table.get_item(Key={"incident_id": "inc-1"})["Item"]["slack_ts"]
    assert len(posts) == 2 and posts[1].body["thread_ts"] == ts  # one incident, one thread
    reply = posts[1].body
    assert reply["reply_broadcast"] is True and "Severity rose from high to critical" in reply["text"]
    assert len(world.server.calls("/api/chat.update")) == 1
    (mail,) = mails(world, "payments")
    assert mail["Subject"].startswith("[CRITICAL] Egress +$1,800.00")
    assert mail["Message"].startswith("Severity rose from high to critical")
    hooks = world.server.calls("/hook/pager")
    assert len(hooks) == 2 and hooks[1].headers["X-Egress-Event"] == "incident.escalated"
    assert verify_webhook(hooks[1])["severity"] == "critical"


def slack_press(value: str, user: str = "U0ALICE", response_url: str | None = None) -> dict:
    """A Slack interaction as API Gateway hands it to the approval Lambda, signed with the app's secret."""
    payload = {"type": "block_actions", "user": {"id": user}, "actions": [{"action_id": "a", "value": value}],
               "response_url": response_url}  # fmt: skip
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(time.time()))
    sig = "v0=" + hmac.new(SLACK_SECRET, b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"version": "2.0", "rawPath": "/slack/actions", "requestContext": {"http": {"method": "POST"}},
            "headers": {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sig}, "body": body.decode(),
            "isBase64Encoded": False}  # fmt: skip


def test_acknowledge_and_snooze_from_slack_hold_pages_but_critical_still_pages(world):
    ctx, approval = make_alerts(), load_handler("approval")
    alerts.dispatch(ctx, incident(severity="medium", total=40.0), T0)
    mails(world, "payments")
    answer = approval.handler(slack_press("alert-ack:inc-1", "U0MALLORY"), context("approval"))
    assert answer["statusCode"] == 403  # not a responder: nothing recorded
    url = f"{world.server.url}/actions/T1/1/abc"
    for press in ("alert-ack:inc-1", "alert-snooze:inc-1:4"):
        answer = approval.handler(slack_press(press, response_url=url), context("approval"))
        assert answer["statusCode"] == 200, answer
    replies = world.server.calls("/actions/T1/1/abc")
    assert [r.body["response_type"] for r in replies] == ["ephemeral", "ephemeral"]
    assert "acknowledged by <@U0ALICE>" in replies[0].body["text"] and "snoozed for 4 h" in replies[1].body["text"]
    item = world.table.get_item(Key={"incident_id": "inc-1"})["Item"]
    assert item["acknowledged_by"] == "U0ALICE" and item["snoozed_until"] > time.time()

    now = datetime.now(UTC)
    held = alerts.dispatch(ctx, incident(severity="high", total=400.0), now)
    assert held.action == "held" and held.reason == "snoozed" and mails(world, "payments") == []
    assert len(world.server.calls("/api/chat.postMessage")) == 1
    critical = alerts.dispatch(ctx, incident(severity="critical", total=2000.0), now)
    assert critical.action == "repaged" and len(mails(world, "payments")) == 1
    update = world.server.calls("/api/chat.update")[-1].body
    assert "acknowledged by U0ALICE" in mrkdwn(update["blocks"])  # the message shows who is on it


def test_this_was_planned_suppresses_the_window_and_tells_cost_anomaly_detection(world):
    ctx = make_alerts()
    assert alerts.dispatch(ctx, cad_incident(), T0).action == "paged"
    assert (
        mails(world, "default")[0]["Subject"]
        == "[HIGH] Egress +$300.00 ($1,200.00/day): USE1-NatGateway-Bytes in 123456789012"
    )
    ce = boto3.client("ce", region_name=REGION)
    press = alert_actions.Press("planned", "cad-1", 0, "U0ALICE", None)
    with Stubber(ce) as stub:
        stub.add_response("provide_anomaly_feedback", {"AnomalyId": "abc-1"},
                          {"AnomalyId": "abc-1", "Feedback": "PLANNED_ACTIVITY"})  # fmt: skip
        said = alert_actions.apply(press, ctx.store, ce, {"U0ALICE"}, T0.timestamp(), 24)
        stub.assert_no_pending_responses()
    assert "Cost Anomaly Detection was told PLANNED_ACTIVITY" in said

    grown = alerts.dispatch(ctx, cad_incident(total=900.0, severity="critical"), T0 + timedelta(hours=1))
    assert grown.action == "suppressed" and "planned by U0ALICE" in grown.reason
    # another anomaly on the same usage type inside the window is suppressed too; a different resource is not
    again = cad_incident().model_copy(update={"id": "cad-2"})
    assert alerts.dispatch(ctx, again, T0 + timedelta(hours=2)).action == "suppressed"
    assert alerts.dispatch(ctx, incident(id="inc-9", team=None), T0).action == "paged"
    assert [m["Subject"] for m in mails(world, "default")] == ["[HIGH] Egress +$468.00 ($1,872.00/day): nat-0abc"]
    # the feedback failing is said, and the suppression holds: pressing again retries it
    with Stubber(ce) as stub:
        stub.add_client_error("provide_anomaly_feedback", "ThrottlingException", "slow down")
        said = alert_actions.apply(press, ctx.store, ce, {"U0ALICE"}, T0.timestamp(), 24)
    assert "feedback failed (ClientError): press again" in said


def test_quiet_hours_hold_non_critical_alerts_until_they_end(world):
    reroute(world, quiet_hours={"start": "22:00", "end": "07:00", "timezone": "UTC"})
    ctx = make_alerts()
    night = datetime(2026, 10, 1, 23, 30, tzinfo=UTC)
    held = alerts.dispatch(ctx, incident(), night)
    assert held.action == "held" and held.reason == "quiet hours"
    assert world.server.requests == [] and mails(world, "payments") == []
    assert alerts.dispatch(ctx, incident(id="inc-2", severity="critical", total=2000.0), night).action == "paged"
    mails(world, "payments")
    assert alerts.tick(ctx, night + timedelta(hours=1)) == []  # still quiet
    # the hourly schedule's event, through the queue and the Lambda: its own time decides
    queue = world.sqs.create_queue(QueueName="alerts")["QueueUrl"]
    tick = {"detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-10-02T07:05:00Z", "detail": {}}
    world.sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(tick))
    event = sqs_event(world.sqs.receive_message(QueueUrl=queue)["Messages"])
    assert load_handler("notify").handler(event, context("notify")) == {"batchItemFailures": []}
    assert world.table.get_item(Key={"incident_id": "inc-1"})["Item"]["outcome"] == "paged"
    assert [m["Subject"][:6] for m in mails(world, "payments")] == ["[HIGH]"]
    assert alerts.tick(ctx, datetime(2026, 10, 2, 8, 5, tzinfo=UTC)) == []  # sent once


def test_routing_by_team_tag_and_untagged_to_the_default_route(world):
    ctx = make_alerts()
    assert alerts.dispatch(ctx, incident(id="inc-pay", team="PAYMENTS"), T0).route == "payments"
    assert alerts.dispatch(ctx, incident(id="inc-none", team=None), T0).route == "default"
    assert alerts.dispatch(ctx, incident(id="inc-other", team="search"), T0).route == "default"  # no route of its own
    channels_posted = [r.body["channel"] for r in world.server.calls("/api/chat.postMessage")]
    assert channels_posted == ["C0PAY", "C0DEFAULT", "C0DEFAULT"]
    assert len(mails(world, "payments")) == 1 and len(mails(world, "default")) == 2
    assert len(world.server.calls("/hook/pager")) == 1  # only the payments route has the pager


def test_without_a_routing_file_the_environment_makes_the_default_route(world, monkeypatch):
    monkeypatch.delenv("ALERT_ROUTING_FILE")
    monkeypatch.setenv("SLACK_ALERT_CHANNEL", "C0ENV")
    monkeypatch.setenv("ALERT_WEBHOOK_URL", "https://hooks.example.com/egress")
    monkeypatch.setenv("ALERT_WEBHOOK_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:k")
    routes = routing.from_env()
    assert routes.teams == {} and routes.route_for(incident()).channels == ["slack", "webhook:default"]
    monkeypatch.delenv("SLACK_ALERT_CHANNEL")
    monkeypatch.delenv("ALERT_WEBHOOK_URL")
    with pytest.raises(InputError, match="route 'default' delivers nowhere"):
        routing.from_env()


def test_webhook_is_retried_with_backoff_after_a_500(world):
    world.server.hook_status = [500]
    out = alerts.dispatch(make_alerts(), incident(), T0)
    assert out.action == "paged" and "webhook:pager" in out.channels
    first, second = world.server.calls("/hook/pager")
    assert verify_webhook(first) == verify_webhook(second) == incident().to_json()
    assert first.headers["X-Egress-Delivery"] == second.headers["X-Egress-Delivery"]


def test_a_webhook_that_keeps_failing_lands_in_the_dead_letter_queue_and_nothing_is_sent_twice(world):
    notify = load_handler("notify")
    sqs = world.sqs
    dlq = sqs.create_queue(QueueName="alerts-dlq")["QueueUrl"]
    redrive = {"deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:alerts-dlq", "maxReceiveCount": "2"}
    queue = sqs.create_queue(QueueName="alerts", Attributes={"RedrivePolicy": json.dumps(redrive),
                                                             "VisibilityTimeout": "0"})["QueueUrl"]  # fmt: skip
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(eventbridge(incident()), default=str))
    world.server.hook_status = [500] * 10
    for _ in range(3):  # the Lambda's event source mapping, by hand: receive, run, delete what succeeded
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if got:
            answer = notify.handler(sqs_event(got), context("notify"))
            assert answer == {"batchItemFailures": [{"itemIdentifier": got[0]["MessageId"]}]}
    (dead,) = sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert json.loads(dead["Body"])["detail"]["id"] == "inc-1"  # the event itself: redrive it when fixed
    assert len(world.server.calls("/hook/pager")) == 4  # two receives, two attempts each
    assert len(world.server.calls("/api/chat.postMessage")) == 1 and len(mails(world, "payments")) == 1
    item = world.table.get_item(Key={"incident_id": "inc-1"})["Item"]
    assert item["sent"] == {"slack": 2, "email": 2} and "claim_by" not in item

    # redriven after the receiver is fixed: only the webhook goes out
    world.server.hook_status = []
    redriven = sqs.send_message(QueueUrl=queue, MessageBody=dead["Body"])
    got = sqs.receive_message(QueueUrl=queue)["Messages"]
    assert got[0]["MessageId"] == redriven["MessageId"]
    assert notify.handler(sqs_event(got), context("notify")) == {"batchItemFailures": []}
    assert len(world.server.calls("/hook/pager")) == 5 and len(world.server.calls("/api/chat.postMessage")) == 1


def test_text_from_resources_cannot_ping_or_link_in_slack_and_stays_ascii_in_the_subject(world):
    evil = "é-bucket-<!channel>-<@U0BOSS>-<https://evil.example|click>-" + "x" * 40
    evidence = [{"id": "ev-x", "kind": "tag", "source": "tags", "summary": "owner: <!here> *bold* <@U0BOSS>"}]
    alerts.dispatch(make_alerts(), incident(entity=evil, evidence=evidence), T0)
    blocks = world.server.calls("/api/chat.postMessage")[0].body["blocks"]
    text = mrkdwn(blocks)
    for bad in ("<!channel>", "<!here>", "<@U0BOSS>", "<https://evil"):
        assert bad not in text
    assert "&lt;!channel&gt;" in text and "&lt;@U0BOSS&gt;" in text
    (mail,) = mails(world, "payments")
    subject = mail["Subject"]
    assert subject.isascii() and len(subject) == 99 and subject.endswith("...") and "): ?-bucket-" in subject


def test_two_runs_at_once_page_once(world):
    ctx = make_alerts()
    world.server.slow_post = 0.5  # the first run is still posting when the second one reads
    results: list[object] = []

    def run() -> None:
        try:
            results.append(alerts.dispatch(ctx, incident(), T0).action)
        except Busy as exc:
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.1)
    for t in threads:
        t.join()
    assert "paged" in results and any(isinstance(r, Busy) for r in results)
    assert len(world.server.calls("/api/chat.postMessage")) == 1 and len(mails(world, "payments")) == 1
    assert alerts.dispatch(ctx, incident(), T0).action == "unchanged"  # the retry of the busy one


def test_the_daily_digest_is_one_message_per_route_once_a_day(world):
    reroute(world, digest={"hour": 9, "timezone": "UTC"})
    ctx = make_alerts()
    morning = datetime.now(UTC).replace(hour=9, minute=10)  # the digest covers the last 24 hours
    alerts.dispatch(ctx, incident(id="inc-a"), morning - timedelta(hours=5))
    alerts.dispatch(ctx, incident(id="inc-b", team=None, total=50.0, severity="medium"), morning - timedelta(hours=4))
    mails(world, "payments"), mails(world, "default")
    assert alerts.tick(ctx, morning - timedelta(hours=1)) == []  # not the hour
    assert len(world.server.calls("/api/chat.postMessage")) == 2
    alerts.tick(ctx, morning)
    alerts.tick(ctx, morning + timedelta(minutes=1))  # a redelivered tick sends nothing more
    digests = world.server.calls("/api/chat.postMessage")[2:]
    assert sorted(d.body["channel"] for d in digests) == ["C0DEFAULT", "C0PAY"]
    pay = next(d for d in digests if d.body["channel"] == "C0PAY").body
    assert "1 incident(s), $468.00 in total" in pay["blocks"][0]["text"]["text"]
    assert "HIGH inc-a: $468.00 in total ($1,872.00/day), nat-0abc; alerted" in mrkdwn(pay["blocks"])
    (mail,) = mails(world, "default")
    assert mail["Subject"].startswith("Egress alerts digest") and "MEDIUM inc-b" in mail["Message"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"teams": {"x": {"webhooks": ["nope"]}}}, "route 'x' names undefined webhook(s) nope"),
        ({"teams": {"x": {}}}, "route 'x' delivers nowhere"),
        ({"default": {"slack_channel": "C1", "colour": "red"}}, "default.colour: Extra inputs are not permitted"),
        ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "quiet_hours.start"),
        (
            {"webhooks": {"pager": {"url": "http://example.com/x", "secret_arn": "arn:aws:secretsmanager:x"}}},
            "webhook 'pager': its url must be https",
        ),
    ],
)
def test_a_bad_routing_file_is_one_line(world, change, message):
    reroute(world, **change)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        routing.from_env()
    assert "\n" not in str(caught.value)


def test_a_message_that_is_not_an_incident_fails_alone(world):
    notify = load_handler("notify")
    queue = world.sqs.create_queue(QueueName="alerts")["QueueUrl"]
    world.sqs.send_message(QueueUrl=queue, MessageBody="not json")
    world.sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(eventbridge(incident()), default=str))
    got = world.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    bad = next(m["MessageId"] for m in got if m["Body"] == "not json")
    assert notify.handler(sqs_event(got), context("notify")) == {"batchItemFailures": [{"itemIdentifier": bad}]}
    assert len(world.server.calls("/api/chat.postMessage")) == 1


def test_recommended_actions_and_the_approval_ride_along_when_the_caller_has_them(world):
    notify = load_handler("notify")
    extras = {"recommendations": [{"action_id": "vpc.add-gateway-endpoint", "resource": "nat-0abc",
                                   "changes": ["rtb-1: + s3 gateway endpoint vpce-<new>"]}],
              "approval_id": "apr-123", "approval_url": "https://approvals.example.com/slack"}  # fmt: skip
    queue = world.sqs.create_queue(QueueName="alerts")["QueueUrl"]
    world.sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"incident": incident().to_json(), "extras": extras}))
    event = sqs_event(world.sqs.receive_message(QueueUrl=queue)["Messages"])
    assert notify.handler(event, context("notify")) == {"batchItemFailures": []}
    body = mails(world, "payments")[0]["Message"]
    assert "vpc.add-gateway-endpoint on nat-0abc:\n    rtb-1: + s3 gateway endpoint vpce-<new>" in body
    assert "Approval apr-123 is waiting for a decision: https://approvals.example.com/slack" in body
    blocks = world.server.calls("/api/chat.postMessage")[0].body["blocks"]
    assert "```vpc.add-gateway-endpoint on nat-0abc:\n  rtb-1: + s3 gateway endpoint vpce-&lt;new&gt;" in mrkdwn(blocks)
    # a later event without them (EventBridge's) keeps them in the updated message
    alerts.dispatch(make_alerts(), incident(total=500.0), datetime.now(UTC))
    assert "apr-123" in mrkdwn(world.server.calls("/api/chat.update")[0].body["blocks"])


def test_an_untagged_resource_is_routed_by_the_owner_tag_the_response_workflow_read():
    inc = incident(team=None)
    routes = routing.Routes(
        default=routing.Route("default"), teams={"payments": routing.Route("payments"), "dana": routing.Route("dana")}
    )
    assert routes.route_for(inc).name == "default"
    arn = f"arn:aws:ec2:{REGION}:{ACCOUNT}:natgateway/{inc.entities[0].id}"
    assert routes.route_for(inc, {arn: {"owner": "Dana"}}).name == "dana"
    assert routes.route_for(inc, {arn: {"owner": "dana", "team": "payments"}}).name == "payments"  # team first


def test_an_alert_whose_fix_waits_for_approval_carries_the_approval_buttons():
    from egress_optimizer.notify.alert_content import Extras, slack_blocks

    waiting = slack_blocks(incident(), Extras(approval_id="apr-0123456789ab"), "open", None, 4)
    values = [e.get("value") for b in waiting if b["type"] == "actions" for e in b["elements"]]
    assert values[:2] == ["approve:apr-0123456789ab", "reject:apr-0123456789ab"]  # the approval Lambda decides these
    plain = slack_blocks(incident(), Extras(), "open", None, 4)
    assert not any(str(e.get("value", "")).startswith("approve:") for b in plain if b["type"] == "actions"
                   for e in b["elements"])  # fmt: skip
