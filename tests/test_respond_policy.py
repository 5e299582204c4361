"""Issue 19: remediation policy as data: per-account opt-in, the blast radius of one approval, who may approve
which action, and change windows; a bad policy file is a one-line error."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.errors import InputError
from egress_optimizer.respond import rootcause, tasks
from egress_optimizer.respond.policy import Policy
from tests.test_respond_workflow import ACCOUNT, BUCKET, REGION, incident, public_bucket

POLICY = """
max_resources_per_run: 1
actions:
  s3.block-public-access: {accounts: ["999999999999"], approvers: [alice@example.com]}
  s3.remove-public-policy-statements: {approvers: [alice@example.com, U0ALICE]}
change_windows:
  - {days: [mon, tue, wed, thu, fri], start: "08:00", end: "18:00"}
"""


def test_policy_rules(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    policy = Policy.load(path)
    assert not policy.allows("s3.block-public-access", ACCOUNT) and policy.allows(
        "s3.block-public-access", "999999999999"
    )
    assert policy.allows("vpc.add-gateway-endpoint", ACCOUNT)  # no rule: every account
    assert policy.may_decide("s3.remove-public-policy-statements", "U0ALICE")
    assert not policy.may_decide("s3.remove-public-policy-statements", "mallory@example.com")
    assert policy.in_window(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))  # a Monday morning
    assert not policy.in_window(datetime(2026, 12, 6, 9, 0, tzinfo=UTC))  # a Sunday
    assert Policy.load(None).in_window(datetime(2026, 12, 6, 3, 0, tzinfo=UTC))
    path.write_text("max_resources_per_run: 0\n")
    with pytest.raises(InputError, match="max_resources_per_run") as err:
        Policy.load(path)
    assert "\n" not in str(err.value)
    path.write_text("actions: {x: {acounts: []}}\n")
    with pytest.raises(InputError, match="acounts"):
        Policy.load(path)


@mock_aws
def test_the_policy_narrows_what_is_proposed_and_who_may_apply_it(tmp_path, monkeypatch):
    for k, v in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(k, v)
    public_bucket()
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="second-bucket")
    doc = incident()
    doc["entities"].append({**doc["entities"][0], "id": "second-bucket"})
    inc = Incident.from_json(doc)
    explanation = rootcause.explain(inc, [])
    explanation = explanation.model_copy(
        update={"action_ids": rootcause.ACTIONS[rootcause.Category.public_object_exfiltration]}
    )
    open_policy = tasks.Settings(None, None, None, 60, None)
    assert {p.resource for p in tasks.recommend(inc, explanation, open_policy)} == {BUCKET, "second-bucket"}
    path = tmp_path / "policy.yaml"
    path.write_text(
        POLICY.replace('change_windows:\n  - {days: [mon, tue, wed, thu, fri], start: "08:00", end: "18:00"}\n', "")
    )
    settings = tasks.Settings(None, None, None, 60, None, policy=Policy.load(path))
    plans = tasks.recommend(inc, explanation, settings)
    # block-public-access is not opted in for this account; one resource per run
    assert [(p.action_id, p.resource) for p in plans] == [("s3.remove-public-policy-statements", BUCKET)]
    hashes = [p.hash for p in plans]
    by = lambda who: {"decision": "approved", "approver": who, "plan_hashes": hashes}  # noqa: E731
    with pytest.raises(PermissionError, match="may not approve"):
        tasks.apply(plans, by("mallory@example.com"), settings)
    weekend_only = tmp_path / "weekend.yaml"
    weekend_only.write_text('change_windows: [{days: [sat], start: "00:00", end: "00:01"}]\n')
    closed = tasks.Settings(None, None, None, 60, None, policy=Policy.load(weekend_only))
    with pytest.raises(PermissionError, match="change window"):
        tasks.apply(plans, {"decision": "approved", "approver": "alice@example.com", "plan_hashes": hashes}, closed)
    applied = tasks.apply(
        plans, {"decision": "approved", "approver": "alice@example.com", "plan_hashes": hashes}, settings
    )
    assert [a.changed for a in applied] == [True]
