"""Issue 19's action catalogue, each action on moto: plan (a dry-run diff and its hash), apply, verify, apply again
(a no-op), rollback to exactly the prior configuration, and a plan refused once its resource drifted."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from egress_optimizer.contracts.incident import Entity
from egress_optimizer.respond import actions, remediation
from egress_optimizer.respond.clients import Clients

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch):
    for k, v in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        yield


def entity(kind: str, rid: str, destination: str = "internet", peer: str | None = None) -> Entity:
    return Entity(kind=kind, id=rid, account=ACCOUNT, region=REGION, destination_class=destination, peer=peer,
                  bytes=10**10, dollars=1.0, expected_dollars=0.1, impact_dollars=0.9, share=1.0)  # fmt: skip


def public_bucket():
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="bucket-one")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::bucket-one/*"},
        {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket-one/*"}]}  # fmt: skip
    s3.put_bucket_policy(Bucket="bucket-one", Policy=json.dumps(policy))
    drift = lambda: s3.put_public_access_block(  # noqa: E731
        Bucket="bucket-one", PublicAccessBlockConfiguration={"BlockPublicAcls": True}
    )
    return entity("s3_bucket", "bucket-one"), drift


def public_policy_bucket():
    e, _ = public_bucket()
    s3 = boto3.client("s3", region_name=REGION)

    def drift():
        doc = json.loads(s3.get_bucket_policy(Bucket="bucket-one")["Policy"])
        doc["Statement"][1]["Sid"] = "Renamed"
        s3.put_bucket_policy(Bucket="bucket-one", Policy=json.dumps(doc))

    return e, drift


def replicated_bucket():
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="src")
    s3.put_bucket_versioning(Bucket="src", VersioningConfiguration={"Status": "Enabled"})
    for name, region in (("dr-use2", "us-east-2"), ("stray-sae1", "sa-east-1")):
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    rule = lambda rid, dest, prio: {"ID": rid, "Status": "Enabled", "Priority": prio, "Filter": {"Prefix": rid},  # noqa: E731
                                    "DeleteMarkerReplication": {"Status": "Disabled"},
                                    "Destination": {"Bucket": f"arn:aws:s3:::{dest}"}}  # fmt: skip
    cfg = {"Role": "arn:aws:iam::123456789012:role/r", "Rules": [rule("dr", "dr-use2", 1), rule("x", "stray-sae1", 2)]}
    s3.put_bucket_replication(Bucket="src", ReplicationConfiguration=cfg)

    def drift():
        s3.put_bucket_replication(Bucket="src", ReplicationConfiguration={**cfg, "Rules": cfg["Rules"][:1]})

    return entity("s3_bucket", "src", "replication", "sa-east-1"), drift


def open_interface():
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="web", Description="d", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_egress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])  # fmt: skip
    eni = ec2.create_network_interface(SubnetId=subnet, Groups=[sg])["NetworkInterface"]["NetworkInterfaceId"]

    def drift():
        ec2.authorize_security_group_egress(GroupId=sg, IpPermissions=[
            {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])  # fmt: skip

    return entity("network_interface", eni), drift


def nat_without_endpoint():
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=ec2.allocate_address(Domain="vpc")["AllocationId"])[
        "NatGateway"
    ]["NatGatewayId"]
    tables = [ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"] for _ in range(2)]
    for t in tables:
        ec2.create_route(RouteTableId=t, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)

    def drift():
        ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3", VpcEndpointType="Gateway",
                                RouteTableIds=tables[:1])  # fmt: skip

    arn = f"arn:aws:ec2:{REGION}:{ACCOUNT}:natgateway/{nat}"
    return entity("nat_gateway", arn, "aws-service:S3 via NAT"), drift


def uncached_distribution():
    cf = boto3.client("cloudfront", region_name="us-east-1")
    custom = {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}
    origin = {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "origin.example.com", "CustomOriginConfig": custom}]}
    cfg = {"CallerReference": "r", "Comment": "", "Enabled": True, "Origins": origin,
           "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all",
                                    "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"}}  # fmt: skip
    dist = cf.create_distribution(DistributionConfig=cfg)["Distribution"]["Id"]

    def drift():
        got = cf.get_distribution_config(Id=dist)
        c = got["DistributionConfig"]
        c["DefaultCacheBehavior"]["CachePolicyId"] = "08627262-05a9-4f76-9ded-b50ca2e3a84f"
        cf.update_distribution(Id=dist, IfMatch=got["ETag"], DistributionConfig=c)

    return entity(
        "cloudfront_distribution", f"arn:aws:cloudfront::{ACCOUNT}:distribution/{dist}", "cloudfront:EU"
    ), drift


CASES = {
    "s3.block-public-access": public_bucket,
    "s3.remove-public-policy-statements": public_policy_bucket,
    "s3.disable-replication-rule": replicated_bucket,
    "ec2.revoke-open-egress": open_interface,
    "vpc.add-gateway-endpoint": nat_without_endpoint,
    "cloudfront.attach-caching-policy": uncached_distribution,
}


def test_every_catalogue_action_has_a_case_and_declares_itself():
    assert set(CASES) == set(actions.CATALOGUE)
    for action in actions.CATALOGUE.values():
        d = action.describe()
        assert d["risk"] and d["iam_actions"] and all(":" in a for a in d["iam_actions"]) and d["resource_kinds"]


@pytest.mark.parametrize("action_id", sorted(CASES))
def test_plan_apply_verify_is_idempotent_and_rolls_back_exactly(action_id):
    target, _ = CASES[action_id]()
    action, clients = actions.CATALOGUE[action_id], Clients(REGION)
    assert action.applies_to(target)
    plan = action.plan(clients, target)
    assert plan.changes and plan.current != plan.proposed
    before = action.read(clients, plan.target)
    applied = action.apply(clients, plan)
    assert applied.changed and action.verify(clients, applied)
    again = action.apply(clients, plan)
    assert not again.changed and action.read(clients, plan.target) == action.read(clients, plan.target)
    action.rollback(clients, applied)
    assert action.read(clients, plan.target) == before


@pytest.mark.parametrize("action_id", sorted(CASES))
def test_a_plan_whose_resource_drifted_is_refused(action_id):
    target, drift = CASES[action_id]()
    action, clients = actions.CATALOGUE[action_id], Clients(REGION)
    plan = action.plan(clients, target)
    drift()
    with pytest.raises(actions.Drift):
        action.apply(clients, plan)
    with pytest.raises(ValueError, match="altered"):
        action.apply(clients, plan.model_copy(update={"proposed": {}}))


def test_the_policy_action_keeps_every_statement_but_the_public_one():
    target, _ = public_policy_bucket()
    plan = actions.CATALOGUE["s3.remove-public-policy-statements"].plan(Clients(REGION), target)
    assert [s["Sid"] for s in plan.proposed["policy"]["Statement"]] == ["Partner"]


def test_the_replication_action_disables_only_the_rule_to_the_incident_s_region():
    target, _ = replicated_bucket()
    plan = actions.CATALOGUE["s3.disable-replication-rule"].plan(Clients(REGION), target)
    assert {r["ID"]: r["Status"] for r in plan.proposed["configuration"]["Rules"]} == {"dr": "Enabled", "x": "Disabled"}


def test_a_partial_failure_rolls_back_what_was_applied():
    from egress_optimizer.respond import tasks

    target, _ = public_bucket()
    clients = Clients(REGION)
    first = actions.CATALOGUE["s3.block-public-access"].plan(clients, target)
    second = actions.CATALOGUE["s3.remove-public-policy-statements"].plan(clients, target)
    boto3.client("s3", region_name=REGION).delete_bucket_policy(Bucket="bucket-one")  # the second drifts
    settings = tasks.Settings(None, None, None, 60, None)
    approval = {"decision": "approved", "plan_hashes": [first.hash, second.hash]}
    with pytest.raises(remediation.PartialApply, match="rolled back the 1 action"):
        tasks.apply([first, second], approval, settings)
    assert actions.CATALOGUE["s3.block-public-access"].read(clients, first.target) == first.current


def test_remediate_lists_the_catalogue_and_plans_a_stored_incident(tmp_path, capsys, monkeypatch):
    import pyarrow as pa

    from egress_optimizer.cli import run
    from egress_optimizer.contracts.incident import Incident
    from egress_optimizer.lake import Lake
    from egress_optimizer.tables import INCIDENTS
    from tests.test_respond_workflow import incident as incident_doc

    assert run(["remediate", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [a["id"] for a in listed] == list(actions.CATALOGUE) and all(a["iam_actions"] for a in listed)
    target, _ = public_bucket()
    inc = Incident.from_json(incident_doc(entity=target.id))
    lake = Lake.open(str(tmp_path / "lake"))
    row = {"id": inc.id, "account": inc.account, "region": inc.region, "start": inc.window.start,
           "end": inc.window.end, "detected_at": inc.window.detected_at, "severity": inc.severity.value,
           "status": inc.status.value, "impact_usd": inc.impact.total_usd, "schema_version": inc.schema_version,
           "incident": inc.model_dump_json(by_alias=True)}  # fmt: skip
    lake.upsert(INCIDENTS, pa.Table.from_pylist([row], schema=INCIDENTS.schema), ["id"], "test")
    monkeypatch.setenv("COST_ANOMALY_LOOKUP", "off")  # moto has neither GetAnomalies nor LookupEvents
    (tmp_path / "trail" / "AWSLogs" / "1" / "CloudTrail").mkdir(parents=True)
    args = ["--lake", str(tmp_path / "lake"), "--trail", str(tmp_path / "trail"), "--json"]
    assert run(["remediate", "plan", inc.id, *args]) == 0
    plans = json.loads(capsys.readouterr().out)
    assert {p["action_id"] for p in plans} == {"s3.block-public-access", "s3.remove-public-policy-statements"}
    assert all(p["changes"] for p in plans)
    assert actions.CATALOGUE["s3.block-public-access"].read(Clients(REGION), actions.Target.of(target)) == {}


@mock_aws
def test_gateway_endpoint_plans_of_two_nat_gateways_in_one_vpc_apply_and_roll_back_on_their_own():
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    nats, tables = [], []
    for i in range(2):
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i}.0/24")["Subnet"]["SubnetId"]
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        nats.append(ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip)["NatGateway"]["NatGatewayId"])
        tables.append(ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"])
        ec2.create_route(RouteTableId=tables[i], DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nats[i])
    action = actions.CATALOGUE["vpc.add-gateway-endpoint"]
    clients = Clients(REGION)
    arns = [f"arn:aws:ec2:{REGION}:{ACCOUNT}:natgateway/{n}" for n in nats]
    plans = [action.plan(clients, entity("nat_gateway", arn, "aws-service:S3 via NAT")) for arn in arns]

    def endpoint_tables() -> list[list[str]]:
        found = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]
        return [sorted(e["RouteTableIds"]) for e in found if e["State"] not in ("deleted", "deleting")]

    applied = [action.apply(clients, p) for p in plans]  # the second is not refused as drift
    assert endpoint_tables() == [sorted(tables)]
    action.rollback(clients, applied[0])
    assert endpoint_tables() == [[tables[1]]]
    action.rollback(clients, applied[1])
    assert endpoint_tables() == []  # the endpoint the first apply created is gone with its last table
