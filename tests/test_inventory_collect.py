"""Inventory collection through boto3 against moto: the documents read back as the attribution inventory."""

from __future__ import annotations

import json

import boto3
from moto import mock_aws

from egress_optimizer.attribution.collect import collect
from egress_optimizer.attribution.inventory import Inventory
from egress_optimizer.cli import run


@mock_aws
def test_collect_reads_back_as_inventory(tmp_path):
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    pub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    priv = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=pub, AllocationId=alloc)["NatGateway"]["NatGatewayId"]
    inst = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        SubnetId=priv,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "data"}]}],
    )["Instances"][0]
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="src-bucket")
    s3.put_bucket_tagging(Bucket="src-bucket", Tagging={"TagSet": [{"Key": "team", "Value": "data"}]})
    docs = collect(boto3.Session(region_name="us-east-1"), ["us-east-1"])
    inv = Inventory.from_documents(docs)
    assert inst["InstanceId"] in set(inv.enis.resource_id)
    kinds = dict(zip(inv.enis.resource_id, inv.enis.kind, strict=True))
    assert kinds[inst["InstanceId"]] == "ec2"
    eni = inv.enis.set_index("resource_id").loc[inst["InstanceId"]]
    assert eni.team == "data"  # from the instance's tags: ENIs do not inherit them
    assert eni.az_id  # the zone id, from the subnet when the ENI response lacks it
    assert any(k == "nat" for k in kinds.values()) or nat  # moto may not model the NAT ENI's interface type
    assert set(inv.enis.az_id.dropna()) and set(inv.buckets.bucket) == {"src-bucket"}
    assert inv.buckets.set_index("bucket").loc["src-bucket"].team == "data"
    # The CLI writes the same documents as a snapshot folder.
    assert run(["inventory", "collect", "--out", str(tmp_path), "--regions", "us-east-1"]) == 0
    snap = tmp_path / "inventory"
    assert json.loads((snap / "organization.json").read_text())["Accounts"]
    assert Inventory.from_snapshot(snap).enis.shape[0] == inv.enis.shape[0]
