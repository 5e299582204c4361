"""Issue 18: the response's parts on their own: input shapes, the CloudTrail collector (botocore's Stubber: moto
has no LookupEvents), the resource collectors (moto), the root-cause rules, the first catalogue action, approvals
and the state machine file itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.errors import InputError
from egress_optimizer.respond import actions, approvals, rootcause, workflow
from egress_optimizer.respond.clients import Clients
from egress_optimizer.respond.collectors.changes import WATCHED_EVENTS, lookup_changes
from egress_optimizer.respond.collectors.resources import (
    CACHING_DISABLED_POLICY,
    bucket_evidence,
    distribution_evidence,
    nat_gateway_evidence,
)
from egress_optimizer.respond.evidence import make
from egress_optimizer.respond.requests import incident_from_event
from tests.test_respond_workflow import ACCOUNT, BUCKET, PUBLIC_POLICY, REGION, incident


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch):
    for k, v in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(k, v)


CAD_DETAIL = {
    "anomalyId": "abc-1",
    "anomalyStartDate": "2026-11-01T00:00:00Z",
    "anomalyEndDate": "2026-11-02T00:00:00Z",
    "anomalyScore": {"currentScore": 0.3, "maxScore": 0.7},
    "impact": {"maxImpact": 50, "totalActualSpend": 300, "totalExpectedSpend": 200, "totalImpact": 100},
    "rootCauses": [
        {"linkedAccount": ACCOUNT, "region": REGION, "service": "AmazonEC2", "usageType": "USE1-NatGateway-Bytes"}
    ],
}


def test_every_input_shape_becomes_one_incident():
    ours = incident_from_event({"source": "egress.optimizer", "detail": incident()})
    assert ours.id == "inc-test-1" and incident_from_event(incident()) == ours
    bridge = incident_from_event(
        {"source": "aws.ce", "detail-type": "Anomaly Detected", "detail": {**CAD_DETAIL, "dimensionValue": "EC2"}}
    )
    sns_message = json.dumps({**CAD_DETAIL, "dimensionalValue": "EC2", "accountId": ACCOUNT})
    via_sns = incident_from_event({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": sns_message}}]})
    assert bridge.id == via_sns.id and bridge.source == "aws-cost-anomaly-detection"
    assert bridge.impact.total_usd == 100 and bridge.window.end.isoformat() == "2026-11-03T00:00:00+00:00"
    assert bridge.root_causes[0].usage_type == "USE1-NatGateway-Bytes" and bridge.accounts == [ACCOUNT]


@pytest.mark.parametrize(
    "event",
    [
        {"source": "aws.ce", "detail-type": "Anomaly Feedback"},
        {"Type": "Notification", "Message": "not json"},
        {"id": "x"},
        {"source": "egress.optimizer", "detail": {"id": 1}},
    ],
)
def test_what_is_not_an_incident_is_a_one_line_error(event):
    with pytest.raises(InputError) as err:
        incident_from_event(event)
    assert "\n" not in str(err.value)


def _lookup(event_id: str, name: str, when: datetime, bucket: str) -> dict:
    record = {"eventID": event_id, "eventName": name, "eventTime": when.isoformat().replace("+00:00", "Z"),
              "awsRegion": REGION, "recipientAccountId": ACCOUNT, "requestParameters": {"bucketName": bucket},
              "userIdentity": {"arn": "arn:aws:iam::123456789012:user/ops"}}  # fmt: skip
    return {"EventId": event_id, "EventName": name, "EventTime": when, "CloudTrailEvent": json.dumps(record),
            "Resources": [{"ResourceType": "AWS::S3::Bucket", "ResourceName": bucket}]}  # fmt: skip


def test_cloudtrail_changes_through_lookup_events_with_stable_ids():
    inc = Incident.from_json(incident())
    events = {
        "PutBucketPolicy": [_lookup("e-1", "PutBucketPolicy", datetime(2026, 11, 1, 11, 20, tzinfo=UTC), BUCKET)],
        "PutBucketReplication": [_lookup("e-2", "PutBucketReplication", datetime(2026, 11, 1, 3, tzinfo=UTC), "other")],
    }

    def collect():
        client = boto3.client("cloudtrail", region_name=REGION)
        with Stubber(client) as stub:
            for name in WATCHED_EVENTS:
                params = {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": name}],
                          "StartTime": ANY, "EndTime": ANY, "MaxResults": 50}  # fmt: skip
                stub.add_response("lookup_events", {"Events": events.get(name, [])}, params)
            out = lookup_changes(client, inc)
            stub.assert_no_pending_responses()
        return out

    first, second = collect(), collect()
    assert [e.id for e in first] == [e.id for e in second] and len(first) == 2
    policy = next(e for e in first if e.facts["event_name"] == "PutBucketPolicy")
    assert policy.facts["touches_incident"] is True and policy.facts["hours_before_start"] == pytest.approx(0.67, 0.01)
    other = next(e for e in first if e.facts["event_name"] == "PutBucketReplication")
    assert other.facts["touches_incident"] is False


@mock_aws
def test_bucket_posture_replication_and_its_unavailable_checks():
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(PUBLIC_POLICY))
    s3.create_bucket(Bucket="copy-sae1", CreateBucketConfiguration={"LocationConstraint": "sa-east-1"})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(
        Bucket=BUCKET,
        ReplicationConfiguration={
            "Role": "arn:aws:iam::123456789012:role/replication",
            "Rules": [
                {
                    "ID": "exports",
                    "Status": "Enabled",
                    "Priority": 1,
                    "Filter": {"Prefix": "exports/"},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": "arn:aws:s3:::copy-sae1"},
                }
            ],
        },
    )
    ev = {e.kind: e for e in bucket_evidence(s3, "inc-1", BUCKET)}
    assert ev["bucket_policy"].facts["public_statements"] == 1 and ev["bucket_policy"].facts[
        "public_statement_ids"
    ] == ["Pub"]
    assert ev["bucket_public_access"].facts["block_fully_on"] is False
    assert ev["replication_rule"].facts["destination_region"] == "sa-east-1"
    gone = {e.kind: e for e in bucket_evidence(s3, "inc-1", "no-such-bucket")}
    assert gone["bucket_acl"].facts["unavailable"] == "NoSuchBucket"


@mock_aws
def test_route_tables_through_a_nat_gateway_and_their_gateway_endpoints():
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    tables = [ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"] for _ in range(2)]
    for t in tables:
        ec2.create_route(RouteTableId=t, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3", VpcEndpointType="Gateway",
                            RouteTableIds=[tables[0]])  # fmt: skip
    ev = {e.facts["route_table"]: e for e in nat_gateway_evidence(ec2, "inc-1", nat, REGION)}
    assert ev[tables[0]].facts["services_without_gateway_endpoint"] == ["dynamodb"]
    assert ev[tables[1]].facts["services_without_gateway_endpoint"] == ["s3", "dynamodb"]


@mock_aws
def test_a_distribution_that_caches_nothing():
    cf = boto3.client("cloudfront", region_name="us-east-1")
    origin = {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "origin.example.com",
                                         "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443,
                                                                "OriginProtocolPolicy": "https-only"}}]}  # fmt: skip
    dist = cf.create_distribution(
        DistributionConfig={
            "CallerReference": "r", "Comment": "", "Enabled": True, "Origins": origin,
            "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all",
                                     "CachePolicyId": CACHING_DISABLED_POLICY},
        }
    )["Distribution"]["Id"]  # fmt: skip
    doc = incident("cloudfront_distribution", f"arn:aws:cloudfront::{ACCOUNT}:distribution/{dist}", "cloudfront:EU")
    doc["entities"][0].update(cache_hit_ratio=0.1, cache_hit_ratio_before=0.9)
    (ev,) = distribution_evidence(cf, Incident.from_json(doc), dist)
    assert ev.facts["caches_nothing"] is True and ev.facts["hit_ratio"] == 0.1


def _ev(kind: str, key: str, resource: str | None = None, **facts):
    return make("inc-test-1", kind, key, "test", f"{kind} {key}", resource=resource, **facts)


@pytest.mark.parametrize(
    ("kind", "entity", "destination", "evidence", "expected"),
    [
        ("s3_bucket", BUCKET, "internet", [("bucket_policy", BUCKET, {"public_statements": 1})],
         rootcause.Category.public_object_exfiltration),
        ("nat_gateway", "nat-1", "aws-service:S3 via NAT",
         [("route_table", "rtb-1", {"services_without_gateway_endpoint": ["s3"]})],
         rootcause.Category.nat_gateway_service_traffic),
        ("ecs_task", "task-1", "cross-az", [("cloudtrail_event", "e", {"event_name": "UpdateService"})],
         rootcause.Category.chatty_cross_az),
        ("cloudfront_distribution", "d-1", "cloudfront origin",
         [("cache_behaviour", "d-1", {"caches_nothing": True, "hit_ratio": 0.1, "hit_ratio_before": 0.8})],
         rootcause.Category.cloudfront_cache_collapse),
        ("s3_bucket", BUCKET, "replication", [("replication_rule", "r", {"destination_region": "sa-east-1"})],
         rootcause.Category.unintended_replication),
        ("nat_gateway", "nat-1", "internet via NAT", [("top_peers", "p", {"new_peer_byte_share": 0.05})],
         rootcause.Category.organic_growth),
        ("s3_bucket", BUCKET, "internet", [], rootcause.Category.unknown),
    ],
)  # fmt: skip
def test_rules_name_the_cause_the_evidence_supports(kind, entity, destination, evidence, expected):
    doc = incident(kind, entity, destination)
    doc["entities"][0]["peer"] = "sa-east-1" if destination == "replication" else None
    ev = [_ev(k, key, entity, **facts) for k, key, facts in evidence]
    got = rootcause.explain(Incident.from_json(doc), ev)
    assert got.category == expected
    assert set(got.evidence_ids) <= {e.id for e in ev}
    assert set(got.action_ids) <= set(rootcause.ACTIONS.get(expected, []))
    if expected != rootcause.Category.unknown:
        assert got.confidence >= rootcause.MIN_CONFIDENCE and got.evidence_ids


def test_planned_work_is_planned():
    got = rootcause.explain(Incident.from_json(incident(status="planned")), [])
    assert got.category == rootcause.Category.planned_work and not got.action_ids


@mock_aws
def test_block_public_access_plans_applies_once_verifies_rolls_back_and_refuses_drift():
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    prior = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    clients = Clients(REGION)
    action = actions.CATALOGUE["s3.block-public-access"]
    entity = Incident.from_json(incident()).entities[0]
    plan = action.plan(clients, entity)
    assert len(plan.changes) == 3
    applied = action.apply(clients, plan)
    assert applied.changed and action.verify(clients, applied)
    assert not action.apply(clients, plan).changed  # twice is a no-op
    action.rollback(clients, applied)
    assert s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"] == prior
    s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration={"IgnorePublicAcls": True})
    with pytest.raises(actions.Drift):
        action.apply(clients, plan)
    with pytest.raises(ValueError, match="altered"):
        action.apply(clients, plan.model_copy(update={"proposed": {"BlockPublicAcls": False}}))


@mock_aws
def test_an_approval_is_decided_once_and_never_shows_its_token():
    ddb = boto3.resource("dynamodb", region_name=REGION)
    table = ddb.create_table(
        TableName="approvals", KeySchema=[{"AttributeName": "approval_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "approval_id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    sfn = boto3.client("stepfunctions", region_name=REGION)
    approval_id = approvals.request(table, "TOKEN-SECRET", "exec", "inc-1", ["h1"], 600)
    assert len(approval_id) <= 20 and all("TOKEN" not in json.dumps(p, default=str) for p in approvals.pending(table))
    with Stubber(sfn) as stub:
        stub.add_response("send_task_success", {}, {"taskToken": "TOKEN-SECRET", "output": ANY})
        assert approvals.decide(table, sfn, approval_id, "approved", "alice")["plan_hashes"] == ["h1"]
    with pytest.raises(InputError, match="already decided"):
        approvals.decide(table, sfn, approval_id, "approved", "alice")
    stale = approvals.request(table, "T2", "exec", "inc-1", ["h1"], -1)
    with pytest.raises(InputError, match="expired"):
        approvals.decide(table, sfn, stale, "approved", "alice")


def test_the_state_machine_file_retries_catches_and_renders_like_terraform():
    text = workflow.definition_text()
    doc = json.loads(text)  # valid JSON before rendering: only string placeholders
    states = dict(doc["States"])
    for branch in doc["States"]["GatherContext"]["Branches"]:
        states.update(branch["States"])
    tasks = {n: s for n, s in states.items() if s["Type"] == "Task"}
    assert len(tasks) >= 14
    for name, state in tasks.items():
        assert state.get("Retry"), name
        in_branch = name.startswith("Collect")
        assert in_branch or state.get("Catch") or name in ("RecordFailure", "NotifyFailure"), name
    assert doc["States"]["GatherContext"]["Catch"][0]["Next"] == "RecordFailure"
    assert "TimeoutSecondsPath" in doc["States"]["RequestApproval"]
    assert workflow.placeholders() == set(workflow.TASKS) | set(workflow.OTHER_PLACEHOLDERS)
    with pytest.raises(InputError, match="missing"):
        workflow.render({"normalise_arn": "x"})
    name = workflow.execution_name("inc:weird/id " * 10)
    assert len(name) <= 80 and name == workflow.execution_name("inc:weird/id " * 10)
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def test_the_lake_says_who_received_the_bytes_and_how_the_cache_fared(tmp_path, monkeypatch):
    import pandas as pd
    import pyarrow as pa

    from egress_optimizer.lake import Lake
    from egress_optimizer.respond.collectors.traffic import traffic_evidence
    from egress_optimizer.tables import ATTRIBUTED

    dist = f"arn:aws:cloudfront::{ACCOUNT}:distribution/E1"
    hours = pd.date_range("2026-10-31T12:00Z", "2026-11-01T16:00Z", freq="h")
    rows = []
    for h in hours:
        during = h >= pd.Timestamp("2026-11-01T12:00Z")
        peers = ["203.0.113.9", "52.216.0.1"] if during else ["198.51.100.7"]  # the second is an S3 address
        for peer in peers:
            rows.append(
                {
                    "hour": h.to_pydatetime(), "account": ACCOUNT, "region": "us-east-1",
                    "product": "AmazonCloudFront", "usage_type": "EU-DataTransfer-Out-Bytes", "resource_id": dist,
                    "team": "web", "app": "shop", "destination": "cloudfront:EU", "peer_region": "", "peer": peer,
                    "bytes": 10**9, "packets": 0, "records": 100, "gb": 1.0,
                    "cache_misses": 60.0 if during else 5.0, "usd": 0.085,
                }
            )  # fmt: skip
    lake = Lake.open(str(tmp_path / "lake"))
    table = pa.Table.from_pylist(rows, schema=ATTRIBUTED.schema)
    lake.write_hours(ATTRIBUTED, table, sorted({r["hour"] for r in rows}))
    doc = incident("cloudfront_distribution", dist, "cloudfront:EU")
    stored = Lake.open(str(tmp_path / "lake"), create=False)
    assert (
        next(e for e in traffic_evidence(stored, Incident.from_json(doc)) if e.kind == "top_peers").facts[
            "top_peer_countries"
        ]
        is None
    )  # no GeoIP database: countries are not guessed
    geo = tmp_path / "geoip"  # MaxMind's GeoLite2 CSV layout, two rows
    geo.mkdir()
    (geo / "GeoLite2-Country-Locations-en.csv").write_text(
        "geoname_id,locale_code,continent_code,continent_name,country_iso_code,country_name,is_in_european_union\n"
        "2750405,en,EU,Europe,NL,Netherlands,1\n"
    )
    (geo / "GeoLite2-Country-Blocks-IPv4.csv").write_text(
        "network,geoname_id,registered_country_geoname_id,represented_country_geoname_id,is_anonymous_proxy,"
        "is_satellite_provider\n203.0.113.0/24,2750405,2750405,,0,0\n"
    )
    monkeypatch.setenv("EGRESS_GEOIP_DIR", str(geo))
    ev = {e.kind: e for e in traffic_evidence(stored, Incident.from_json(doc))}
    assert ev["cache_hit_ratio"].facts["hit_ratio"] == pytest.approx(0.4)
    assert ev["cache_hit_ratio"].facts["hit_ratio_before"] == pytest.approx(0.95)
    peers = ev["top_peers"].facts
    assert peers["new_peers"] == 2 and peers["new_peer_byte_share"] == 1.0
    assert "aws:S3:us-east-1" in peers["top_peer_owners"] and "internet" in peers["top_peer_owners"]
    assert sorted(peers["top_peer_countries"]) == ["NL", "unknown"]
    got = rootcause.explain(Incident.from_json(doc), list(ev.values()))
    assert got.category == rootcause.Category.cloudfront_cache_collapse


def test_cost_anomaly_detection_s_own_view_through_get_anomalies():
    from egress_optimizer.respond.collectors.resources import cost_anomaly_evidence

    doc = incident()
    doc["root_causes"] = [{"linkedAccount": ACCOUNT, "region": REGION, "service": "AmazonS3",
                           "usageType": "DataTransfer-Out-Bytes", "impact": {"contribution": 10.0}}]  # fmt: skip
    inc = Incident.from_json(doc)
    anomalies = [
        {"AnomalyId": "a-1", "AnomalyStartDate": "2026-11-01", "DimensionValue": "Amazon Simple Storage Service",
         "AnomalyScore": {"MaxScore": 0.8, "CurrentScore": 0.5}, "Impact": {"MaxImpact": 9.0, "TotalImpact": 9.5},
         "MonitorArn": "arn:aws:ce::123456789012:anomalymonitor/m",
         "RootCauses": [{"LinkedAccount": ACCOUNT, "UsageType": "DataTransfer-Out-Bytes"}]},
        {"AnomalyId": "a-2", "AnomalyScore": {"MaxScore": 0.3, "CurrentScore": 0.3}, "Impact": {"MaxImpact": 1.0},
         "MonitorArn": "arn:aws:ce::123456789012:anomalymonitor/m",
         "RootCauses": [{"LinkedAccount": "999999999999", "UsageType": "DataTransfer-Out-Bytes"}]},
    ]  # fmt: skip
    ce = boto3.client("ce", region_name="us-east-1")
    with Stubber(ce) as stub:
        params = {"DateInterval": {"StartDate": "2026-11-01", "EndDate": "2026-11-01"}, "MaxResults": 50}
        stub.add_response("get_anomalies", {"Anomalies": anomalies}, params)
        stub.add_client_error("get_anomalies", "AccessDeniedException", "no", 400, expected_params=params)
        (found,) = cost_anomaly_evidence(ce, inc)
        (denied,) = cost_anomaly_evidence(ce, inc)
    assert found.facts["anomaly_id"] == "a-1" and found.facts["total_impact_usd"] == 9.5
    assert denied.facts["unavailable"] == "AccessDeniedException"


@mock_aws
def test_open_egress_rules_and_owner_tags():
    from egress_optimizer.respond.collectors.resources import (
        open_egress_evidence,
        tag_evidence,
    )

    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    closed = ec2.create_security_group(GroupName="closed", Description="d", VpcId=vpc)["GroupId"]
    ec2.revoke_security_group_egress(
        GroupId=closed, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    opened = ec2.create_security_group(GroupName="open", Description="d", VpcId=vpc)["GroupId"]  # default: all out
    eni = ec2.create_network_interface(SubnetId=subnet, Groups=[closed, opened])["NetworkInterface"]
    got = {
        e.facts["group_id"]: e.facts["open_egress_rules"]
        for e in open_egress_evidence(ec2, "inc-1", eni["NetworkInterfaceId"])
    }
    assert got == {closed: 0, opened: 1}
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": [{"Key": "Team", "Value": "data"},
                                                             {"Key": "Owner", "Value": "a@example.com"},
                                                             {"Key": "colour", "Value": "blue"}]})  # fmt: skip
    tagging = boto3.client("resourcegroupstaggingapi", region_name=REGION)
    (tags,) = tag_evidence(tagging, "inc-1", [f"arn:aws:s3:::{BUCKET}"])
    assert tags.facts == {"tag_owner": "a@example.com", "tag_team": "data"}


def test_an_approved_fix_is_written_back_as_cost_anomaly_detection_feedback():
    from egress_optimizer.respond.requests import cad_anomaly_id, send_cad_feedback

    cad = incident_from_event({"source": "aws.ce", "detail-type": "Anomaly Detected", "detail": CAD_DETAIL})
    assert cad_anomaly_id(cad) == "abc-1" and cad_anomaly_id(Incident.from_json(incident())) is None
    ce = boto3.client("ce", region_name="us-east-1")
    with Stubber(ce) as stub:
        stub.add_response("provide_anomaly_feedback", {"AnomalyId": "abc-1"},
                          {"AnomalyId": "abc-1", "Feedback": "YES"})  # fmt: skip
        stub.add_response("provide_anomaly_feedback", {"AnomalyId": "abc-1"},
                          {"AnomalyId": "abc-1", "Feedback": "PLANNED_ACTIVITY"})  # fmt: skip
        assert send_cad_feedback(ce, cad, "approved") == "YES"
        assert send_cad_feedback(ce, cad, "planned") == "PLANNED_ACTIVITY"
        assert send_cad_feedback(ce, cad, "refused") is None  # refusing a fix is no verdict on the anomaly
        stub.assert_no_pending_responses()
