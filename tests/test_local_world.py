"""Issue 19: the generated estate simulated on moto (``estate.aws_world``), so that the locally run response
plans real dry runs. The world is read back with boto3 on its own (each account through the member role, as
the response reads it), then the catalogue's actions plan against it."""

from __future__ import annotations

import json
from types import SimpleNamespace

import boto3
import numpy as np
import pytest
from moto import mock_aws

from egress_optimizer.cli.demo import plan_diff, print_planned_changes
from egress_optimizer.contracts.incident import Entity, Incident
from egress_optimizer.estate import aws_world, incidents, topology, traffic
from egress_optimizer.estate.writers.inventory import CACHING_DISABLED, CACHING_OPTIMIZED
from egress_optimizer.respond.actions import CACHING_OPTIMIZED_POLICY, plans_for
from egress_optimizer.respond.clients import for_account

SEED = 7


def small_estate() -> tuple[topology.Estate, list[incidents.Incident]]:
    """The generator's organisation and its scheduled incidents over three days (no logs written)."""
    estate = topology.build_estate(SEED, "small")
    streams = traffic.build_streams(estate, np.random.default_rng([SEED, 1]))
    return estate, incidents.schedule(estate, streams, 72, np.random.default_rng([SEED, 2]))


def of_kind(incs: list[incidents.Incident], kind: str) -> incidents.Incident:
    return next(i for i in incs if i.kind == kind)


def member(account: str, service: str, region: str = "us-east-1"):
    """A client in ``account`` through the member role (independent of the code under test)."""
    creds = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{aws_world.MEMBER_ROLE}", RoleSessionName="test-reader"
    )["Credentials"]
    return boto3.client(
        service,
        region_name=region,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def entity(kind: str, id: str, account: str, region: str, destination: str, peer: str | None = None) -> Entity:
    return Entity(kind=kind, id=id, account=account, region=region, destination_class=destination, peer=peer,
                  bytes=10**10, dollars=10.0, expected_dollars=1.0, impact_dollars=9.0, share=1.0)  # fmt: skip


def plan(action_id: str, e: Entity) -> list:
    return plans_for([action_id], [e], lambda a, r: for_account(a, r, aws_world.MEMBER_ROLE))


def test_materialize_refuses_to_run_outside_moto():
    estate, incs = small_estate()
    with pytest.raises(RuntimeError, match="mock_aws"):
        aws_world.materialize(estate, incs)


@pytest.fixture(scope="class")
def world():
    """The estate on moto for one class of tests (moto is reset when it ends, before the workflow test)."""
    estate, incs = small_estate()
    with mock_aws():
        made = aws_world.materialize(estate, incs)
        yield SimpleNamespace(estate=estate, incidents=incs, made=made)


class TestWorld:
    def test_every_resource_the_response_reads_exists_under_the_estate_ids_in_its_account(self, world):
        estate = world.estate
        assert world.made["nat_gateway"] == len(estate.nats) and world.made["bucket"] == len(estate.buckets)
        assert world.made["network_interface"] == len(estate.enis)
        for n in estate.nats[:3]:
            (got,) = member(n.account, "ec2", n.region).describe_nat_gateways(NatGatewayIds=[n.id])["NatGateways"]
            (address,) = got["NatGatewayAddresses"]
            assert (got["VpcId"], got["SubnetId"]) == (n.vpc_id, n.subnet_id)
            fields = ("NetworkInterfaceId", "PrivateIp", "PublicIp", "AllocationId")
            assert [address[f] for f in fields] == [n.eni_id, n.private_ip, n.public_ip, n.allocation_id]
        web = next(e for e in estate.enis if e.role == "web" and e.public_ip)
        (eni,) = member(web.account, "ec2", web.region).describe_network_interfaces(NetworkInterfaceIds=[web.id])[
            "NetworkInterfaces"
        ]
        assert (eni["SubnetId"], eni["PrivateIpAddress"], eni["Association"]["PublicIp"]) == (
            web.subnet_id, web.private_ip, web.public_ip)  # fmt: skip
        assert eni["Attachment"]["InstanceId"] == web.resource_id
        assert [g["GroupId"] for g in eni["Groups"]] == [aws_world.security_group_id(web.vpc_id, "web")]
        assert {t["Key"]: t["Value"] for t in eni["TagSet"]} == web.tags
        vpce = next(ep for ep in estate.endpoints if ep.type == "Interface")
        (got,) = member(vpce.account, "ec2", vpce.region).describe_vpc_endpoints(VpcEndpointIds=[vpce.id])[
            "VpcEndpoints"
        ]
        assert sorted(got["NetworkInterfaceIds"]) == sorted(vpce.eni_ids)
        for d in estate.distributions:
            got = member(d.account, "cloudfront").get_distribution(Id=d.id)["Distribution"]
            assert (got["DomainName"], got["DistributionConfig"]["Aliases"]["Items"]) == (d.domain, d.aliases)
        # Accounts are apart: the response's own account sees none of it.
        assert not boto3.client("ec2", region_name="us-east-1").describe_nat_gateways(
            Filter=[{"Name": "vpc-id", "Values": [v.id for v in estate.vpcs]}]
        )["NatGateways"]

    def test_the_leaked_bucket_grants_everyone_all_of_it_and_the_plans_close_it(self, world):
        leak = world.estate.bucket(of_kind(world.incidents, "public_s3_exfiltration").resources[0])
        s3 = member(leak.account, "s3")
        (statement,) = json.loads(s3.get_bucket_policy(Bucket=leak.name)["Policy"])["Statement"]
        assert (statement["Principal"], statement["Effect"]) == ("*", "Allow")
        assert statement["Resource"] == f"arn:aws:s3:::{leak.name}/*"  # the whole bucket, not datasets/*
        assert s3.get_bucket_policy_status(Bucket=leak.name)["PolicyStatus"]["IsPublic"]
        leaking = entity("s3_bucket", leak.name, leak.account, leak.region, "internet")
        (block,) = plan("s3.block-public-access", leaking)
        assert block.changes == ["BlockPublicPolicy: false -> true", "RestrictPublicBuckets: false -> true"]
        (drop,) = plan("s3.remove-public-policy-statements", leaking)
        assert drop.current["policy"]["Statement"] == [statement] and drop.proposed == {}
        # A private bucket is fully blocked and grants nobody: nothing to plan.
        lake = next(b for b in world.estate.buckets if b.purpose == "data-lake")
        private = entity("s3_bucket", lake.name, lake.account, lake.region, "internet")
        assert plan("s3.block-public-access", private) == []
        assert plan("s3.remove-public-policy-statements", private) == []

    def test_the_extra_replication_rule_copies_to_the_other_region_and_the_plan_disables_only_it(self, world):
        inc = of_kind(world.incidents, "s3_replication_extra_region")
        src, dst = (world.estate.bucket(b) for b in inc.resources)
        rules = member(src.account, "s3", src.region).get_bucket_replication(Bucket=src.name)[
            "ReplicationConfiguration"
        ]["Rules"]
        extra = next(r for r in rules if r["Destination"]["Bucket"] == f"arn:aws:s3:::{dst.name}")
        assert extra["Status"] == "Enabled" and extra["Filter"]["Prefix"] == inc.params["rule_prefix"]
        (disable,) = plan(
            "s3.disable-replication-rule",
            entity("s3_bucket", src.name, src.account, src.region, "replication", peer=dst.region),
        )
        after = {r["ID"]: r["Status"] for r in disable.proposed["configuration"]["Rules"]}
        assert after == {r["ID"]: "Disabled" if r is extra else "Enabled" for r in rules}
        assert len(disable.changes) == 1 and disable.changes[0].startswith("configuration: ")
        # The demo shows the same diff down to the leaf that changes.
        assert list(plan_diff(disable.current, disable.proposed)) == [
            f'configuration.Rules[{extra["ID"]}].Status: "Enabled" -> "Disabled"'
        ]

    def test_s3_traffic_through_the_nat_gateway_lacks_its_gateway_endpoint_and_the_plan_adds_it(self, world):
        estate, inc = world.estate, of_kind(world.incidents, "nat_gateway_s3_no_endpoint")
        vpc = estate.vpc(inc.params["vpc_id"])
        ec2 = member(vpc.account, "ec2", vpc.region)
        s3_endpoints = ec2.describe_vpc_endpoints(
            Filters=[{"Name": "service-name", "Values": [f"com.amazonaws.{vpc.region}.s3"]}]
        )["VpcEndpoints"]
        moved = [s for s in vpc.subnets if s.id in inc.params["subnets"]]
        if inc.params["full_delete"]:
            assert not s3_endpoints
        else:
            (endpoint,) = s3_endpoints
            assert not {aws_world.private_route_table_id(vpc, s.az_index) for s in moved} & set(
                endpoint["RouteTableIds"]
            )
        nat = estate.nat_for(vpc.id, moved[0].az_index)
        (table,) = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [moved[0].id]}])[
            "RouteTables"
        ]
        assert {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": nat.id}.items() <= next(
            r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"
        ).items()
        arn = f"arn:aws:ec2:{vpc.region}:{vpc.account}:natgateway/{nat.id}"
        (add,) = plan("vpc.add-gateway-endpoint", entity("nat_gateway", arn, vpc.account, vpc.region,
                                                         "aws-service:S3 via NAT"))  # fmt: skip
        assert table["RouteTableId"] in add.proposed["on_endpoint"]
        assert table["RouteTableId"] not in add.current["on_endpoint"] and add.changes
        # A VPC built without an S3 gateway endpoint sends S3 traffic through its NAT gateway all along.
        bare = next(v for v in estate.vpcs if not v.s3_gateway_endpoint)
        shared = estate.nat_for(bare.id, 0)
        arn = f"arn:aws:ec2:{bare.region}:{bare.account}:natgateway/{shared.id}"
        (create,) = plan("vpc.add-gateway-endpoint", entity("nat_gateway", arn, bare.account, bare.region,
                                                            "aws-service:S3 via NAT"))  # fmt: skip
        assert create.current["on_endpoint"] == [] and create.changes
        assert create.proposed["on_endpoint"] == sorted(
            aws_world.private_route_table_id(bare, s.az_index) for s in bare.subnets if not s.public
        )
        # A VPC built with its DynamoDB gateway endpoint has nothing to add for DynamoDB.
        covered = next(v for v in estate.vpcs if v.ddb_gateway_endpoint)
        other = estate.nat_for(covered.id, 0)
        arn = f"arn:aws:ec2:{covered.region}:{covered.account}:natgateway/{other.id}"
        dynamo = entity("nat_gateway", arn, covered.account, covered.region, "aws-service:DYNAMODB via NAT")
        assert plan("vpc.add-gateway-endpoint", dynamo) == []

    def test_the_collapsed_distribution_caches_nothing_and_the_plan_restores_caching(self, world):
        collapsed = of_kind(world.incidents, "cloudfront_cache_hit_collapse").params["distribution"]
        for d in world.estate.distributions:
            cf = member(d.account, "cloudfront")
            policy = cf.get_distribution_config(Id=d.id)["DistributionConfig"]["DefaultCacheBehavior"]["CachePolicyId"]
            assert policy == (CACHING_DISABLED if d.id == collapsed else CACHING_OPTIMIZED)
            arn = f"arn:aws:cloudfront::{d.account}:distribution/{d.id}"
            plans = plan("cloudfront.attach-caching-policy", entity("cloudfront_distribution", arn, d.account,
                                                                     "global", "cloudfront:US"))  # fmt: skip
            if d.id == collapsed:
                (attach,) = plans
                assert attach.changes == [f'CachePolicyId: "{CACHING_DISABLED}" -> "{CACHING_OPTIMIZED_POLICY}"']
            else:
                assert plans == []

    def test_only_groups_whose_traffic_calls_out_keep_open_egress(self, world):
        estate = world.estate
        web = next(e for e in estate.enis if e.role == "web")
        db = next(e for e in estate.enis if e.role == "db" and e.vpc_id == web.vpc_id)
        groups = member(web.account, "ec2", web.region).describe_security_groups(
            GroupIds=[aws_world.security_group_id(web.vpc_id, r) for r in ("web", "db")]
        )["SecurityGroups"]
        egress = {g["GroupId"]: [r["CidrIp"] for p in g["IpPermissionsEgress"] for r in p["IpRanges"]] for g in groups}
        assert egress[aws_world.security_group_id(web.vpc_id, "web")] == ["0.0.0.0/0"]
        assert egress[aws_world.security_group_id(web.vpc_id, "db")] == [estate.vpc(web.vpc_id).cidr]
        (revoke,) = plan("ec2.revoke-open-egress", entity("network_interface", web.id, web.account, web.region,
                                                          "internet"))  # fmt: skip
        assert revoke.proposed == {"open_egress": {aws_world.security_group_id(web.vpc_id, "web"): []}}
        assert (
            plan("ec2.revoke-open-egress", entity("network_interface", db.id, db.account, db.region, "internet")) == []
        )


def test_the_local_workflow_plans_dry_runs_against_the_simulated_estate(tmp_path, capsys):
    from egress_optimizer import stages
    from egress_optimizer.lake import Lake

    estate, incs = small_estate()
    leak = estate.bucket(of_kind(incs, "public_s3_exfiltration").resources[0])
    doc = {
        "id": "inc-leak",
        "accounts": [leak.account],
        "region": leak.region,
        "window": {"start": "2026-11-01T12:00:00Z", "end": "2026-11-01T17:00:00Z",
                   "detected_at": "2026-11-01T13:00:00Z"},
        "severity": "high", "score": 0.99,
        "impact": {"expected_usd": 1.0, "actual_usd": 11.0, "total_usd": 10.0, "percentage": 1000.0,
                   "per_day_usd": 48.0, "max_hourly_usd": 3.0},
        "root_causes": [], "destinations": ["internet"], "teams": ["data"], "evidence": [],
        "entities": [entity("s3_bucket", leak.name, leak.account, leak.region, "internet").model_dump(mode="json")],
    }  # fmt: skip
    (tmp_path / "trail").mkdir()
    lake = Lake.open(str(tmp_path / "lake"))
    world = SimpleNamespace(estate=estate, incidents=incs)
    (result,) = stages.respond_locally(lake, [Incident.model_validate(doc)], [str(tmp_path / "trail")], world=world)
    assert result["explanation"]["category"] == "public_object_exfiltration"
    planned = {a["action_id"]: a for a in result["actions"]}
    assert set(planned) == {"s3.block-public-access", "s3.remove-public-policy-statements"}
    assert all(a["changes"] and a["target"]["id"] == leak.name for a in planned.values())
    assert result["outcome"]["outcome"] == "timed_out"  # nobody approved: a dry run, nothing applied
    capsys.readouterr()
    print_planned_changes([result])
    shown = capsys.readouterr().out.splitlines()
    assert "  s3.block-public-access on " + leak.name in shown
    assert "    BlockPublicPolicy: false -> true" in shown
    assert '    policy.Version: "2012-10-17" -> null' in shown
    assert any(line.startswith('    policy.Statement: - {"Action": "s3:GetObject"') for line in shown)
    assert max(len(line) for line in shown) <= 80
