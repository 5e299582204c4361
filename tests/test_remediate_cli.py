"""Issue 19's command line on moto: ``egress remediate plan`` keeps its plans under plan ids, ``approve`` mints a
signed single-use token, ``apply`` changes the live resource only on a genuine, unexpired, unused token for
exactly these plans from an approver the policy names, all or nothing, and ``rollback`` writes back exactly
what apply found. Every refusal is one line on stderr and a non-zero exit; outcomes are read back with boto3,
the audit rows with DuckDB straight from the lake's files."""

from __future__ import annotations

import json
import os
import stat
import time

import boto3
import duckdb
import pyarrow as pa
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from egress_optimizer.cli import run
from egress_optimizer.contracts.incident import Incident
from egress_optimizer.lake import Lake
from egress_optimizer.respond import actions, approval_tokens
from egress_optimizer.tables import INCIDENTS
from tests.test_respond_workflow import incident as incident_doc

ACCOUNT, REGION = "123456789012", "us-east-1"
KEY = b"k" * 32
BLOCK, POLICY = "s3.block-public-access", "s3.remove-public-policy-statements"
ALL_BLOCKED = dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True)


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch, tmp_path):
    for k, v in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("COST_ANOMALY_LOOKUP", "off")  # moto has neither GetAnomalies nor LookupEvents
    monkeypatch.setenv("EGRESS_STATE_DIR", str(tmp_path / "state-from-env"))  # never the real ~/.egress
    for var in ("REMEDIATION_POLICY", "MEMBER_ROLE_NAME", "EGRESS_APPROVAL_KEY_FILE", "EGRESS_APPROVE_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    with mock_aws():
        yield


def s3():
    return boto3.client("s3", region_name=REGION)


def public_bucket(name: str) -> None:
    s3().create_bucket(Bucket=name)
    statement = {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                 "Resource": f"arn:aws:s3:::{name}/*"}  # fmt: skip
    s3().put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))


def block_of(bucket: str) -> dict | None:
    """The bucket's public access block as S3 holds it; None when it has none."""
    try:
        return s3().get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except s3().exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"
        return None


class Env:
    """A lake holding one incident over some public buckets, a CloudTrail folder, a plan store and a key."""

    def __init__(self, tmp_path, capsys, buckets: tuple[str, ...]):
        self.tmp, self.capsys = tmp_path, capsys
        for b in buckets:
            public_bucket(b)
        doc = incident_doc(entity=buckets[0])
        doc["entities"] = [{**doc["entities"][0], "id": b} for b in buckets]
        self.incident = Incident.from_json(doc)
        inc = self.incident
        self.lake = str(tmp_path / "lake")
        row = {"id": inc.id, "account": inc.account, "region": inc.region, "start": inc.window.start,
               "end": inc.window.end, "detected_at": inc.window.detected_at, "severity": inc.severity.value,
               "status": inc.status.value, "impact_usd": inc.impact.total_usd, "schema_version": inc.schema_version,
               "incident": inc.model_dump_json(by_alias=True)}  # fmt: skip
        Lake.open(self.lake).upsert(INCIDENTS, pa.Table.from_pylist([row], schema=INCIDENTS.schema), ["id"], "t")
        (tmp_path / "trail" / "AWSLogs" / ACCOUNT / "CloudTrail").mkdir(parents=True)
        self.store = str(tmp_path / "store")
        self.key_file = tmp_path / "approval.key"
        self.key_file.write_bytes(KEY + b"\n")
        self.key_file.chmod(0o600)

    def cli(self, *args: str) -> tuple[int, str, str]:
        code = run([*args])
        got = self.capsys.readouterr()
        return code, got.out, got.err

    def plan(self) -> dict[tuple[str, str], dict]:
        code, out, err = self.cli("remediate", "plan", self.incident.id, "--lake", self.lake, "--trail",
                                  str(self.tmp / "trail"), "--store", self.store, "--json")  # fmt: skip
        assert code == 0, err
        return {(p["action_id"], p["target"]["id"]): p for p in json.loads(out)}

    def approve(self, *plan_ids: str, approver: str = "alice@example.com", extra: tuple = ()) -> str:
        code, out, err = self.cli("remediate", "approve", *plan_ids, "--approver", approver, "--key-file",
                                  str(self.key_file), "--store", self.store, *extra)  # fmt: skip
        assert code == 0, err
        return out.strip()

    def apply(self, token: str, *plan_ids: str, extra: tuple = ()) -> tuple[int, str, str]:
        return self.cli("remediate", "apply", *plan_ids, "--approve-token", token, "--key-file", str(self.key_file),
                        "--store", self.store, *extra)  # fmt: skip

    def rollback(self, plan_id: str, *extra: str) -> tuple[int, str, str]:
        return self.cli("remediate", "rollback", plan_id, "--store", self.store, *extra)

    def token(self, plans: list[dict], approver: str = "alice@example.com", expires_in: float = 3600,
              key: bytes = KEY, incident_id: str | None = None) -> str:  # fmt: skip
        claims = approval_tokens.Claims(
            approval_id=plans[0]["plan_id"], incident_id=incident_id or self.incident.id,
            plan_hashes=tuple(p["hash"] for p in plans), approver=approver, expires_at=int(time.time() + expires_in),
        )  # fmt: skip
        return approval_tokens.sign(key, claims)

    def status(self, plan_id: str) -> dict:
        code, out, err = self.cli("remediate", "status", plan_id, "--store", self.store, "--json")
        assert code == 0, err
        return json.loads(out)[0]


def flat(text: str) -> str:
    return " ".join(text.split())  # rich wraps long lines at the terminal's width


def refused(result: tuple[int, str, str], words: str) -> None:
    """One line on stderr naming the reason, a non-zero exit, no traceback."""
    code, _, err = result
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("egress: error: "), err
    assert "Traceback" not in err and words in err, err


@pytest.fixture
def env(tmp_path, capsys):
    return Env(tmp_path, capsys, ("bucket-one",))


def test_plan_approve_apply_rollback_round_trip(env):
    plans = env.plan()
    block = plans[(BLOCK, "bucket-one")]
    assert block["plan_id"] == "plan-" + block["hash"][:12]
    assert (env.tmp / "store" / "plans" / f"{block['plan_id']}.json").exists()
    assert stat.S_IMODE(os.stat(env.store).st_mode) == 0o700  # it keeps configuration: its owner only
    assert block_of("bucket-one") is None  # planning changed nothing
    # The start of the id, as `egress detect` shows ids, names the same incident, so the same plan.
    shown = env.incident.id[:6]
    code, out, err = env.cli("remediate", "plan", shown, "--lake", env.lake, "--trail",
                             str(env.tmp / "trail"), "--store", env.store)  # fmt: skip
    assert code == 0 and block["plan_id"] in out and "BlockPublicAcls: null -> true" in out

    token = env.approve(block["plan_id"])
    assert token.count(".") == 1 and "\n" not in token
    assert env.status(block["plan_id"])["status"] == "planned"

    code, out, err = env.apply(token, block["plan_id"])
    assert code == 0, err
    assert block["plan_id"] in out and "applied, verified" in flat(out) and "BlockPublicAcls: null -> true" in out
    assert block_of("bucket-one") == ALL_BLOCKED
    status = env.status(block["plan_id"])
    assert status["status"] == "applied" and status["runs"][0]["approver"] == "alice@example.com"
    assert status["runs"][0]["applied"]["prior"] == {} and status["runs"][0]["verified"] is True

    code, out, err = env.rollback(block["plan_id"], "--actor", "bob")
    assert code == 0, err
    assert "restored the prior configuration" in flat(out) and "BlockPublicAcls: true -> null" in out
    assert block_of("bucket-one") is None  # exactly as before: no public access block at all
    status = env.status(block["plan_id"])
    assert status["status"] == "rolled_back" and status["runs"][0]["rolled_back_by"] == "bob"
    # the other plan was never touched
    assert json.loads(s3().get_bucket_policy(Bucket="bucket-one")["Policy"])["Statement"][0]["Sid"] == "Public"


def test_a_token_applies_once(env):
    block = env.plan()[(BLOCK, "bucket-one")]
    token = env.approve(block["plan_id"])
    assert env.apply(token, block["plan_id"])[0] == 0
    refused(env.apply(token, block["plan_id"]), "already applied")  # still applied: roll back first
    assert env.rollback(block["plan_id"])[0] == 0
    refused(env.apply(token, block["plan_id"]), "approval token already used")
    assert block_of("bucket-one") is None


def test_a_refusal_before_anything_changes_does_not_spend_the_token(env):
    block = env.plan()[(BLOCK, "bucket-one")]
    token = env.approve(block["plan_id"])
    s3().put_public_access_block(Bucket="bucket-one", PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    refused(env.apply(token, block["plan_id"]), "changed since the plan was made")
    s3().delete_public_access_block(Bucket="bucket-one")  # back as planned: the approved change is valid again
    assert env.apply(token, block["plan_id"])[0] == 0
    assert block_of("bucket-one") == ALL_BLOCKED
    assert env.rollback(block["plan_id"])[0] == 0
    refused(env.apply(token, block["plan_id"]), "approval token already used")


def test_an_expired_token_is_refused(env):
    block = env.plan()[(BLOCK, "bucket-one")]
    refused(env.apply(env.token([block], expires_in=-1), block["plan_id"]), "expired")
    assert block_of("bucket-one") is None


def test_a_forged_or_tampered_token_is_refused(env):
    block = env.plan()[(BLOCK, "bucket-one")]
    refused(env.apply(env.token([block], key=b"x" * 32), block["plan_id"]), "signature does not match")
    _, signature = env.approve(block["plan_id"]).split(".")
    other = env.token([block], approver="mallory@example.com").split(".")[0]
    refused(env.apply(f"{other}.{signature}", block["plan_id"]), "signature does not match")
    refused(env.apply("not-a-token", block["plan_id"]), "malformed")
    assert block_of("bucket-one") is None


def test_a_token_for_other_plans_is_refused(env):
    plans = env.plan()
    block, policy = plans[(BLOCK, "bucket-one")], plans[(POLICY, "bucket-one")]
    token = env.approve(block["plan_id"])
    refused(env.apply(token, policy["plan_id"]), f"does not cover {policy['plan_id']}")
    both = env.approve(block["plan_id"], policy["plan_id"])
    refused(env.apply(both, block["plan_id"]), f"also name {policy['plan_id']}")  # all of them, or none
    refused(env.apply(env.token([block], incident_id="inc-other"), block["plan_id"]), "for incident inc-other")
    assert block_of("bucket-one") is None
    assert json.loads(s3().get_bucket_policy(Bucket="bucket-one")["Policy"])["Statement"][0]["Sid"] == "Public"


def test_a_plan_whose_resource_drifted_is_refused_and_nothing_changes(env):
    plans = env.plan()
    block, policy = plans[(BLOCK, "bucket-one")], plans[(POLICY, "bucket-one")]
    token = env.approve(block["plan_id"], policy["plan_id"])
    drifted = {"BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
               "RestrictPublicBuckets": False}  # fmt: skip
    s3().put_public_access_block(Bucket="bucket-one", PublicAccessBlockConfiguration=drifted)
    refused(env.apply(token, block["plan_id"], policy["plan_id"]), "bucket-one changed since the plan was made")
    assert block_of("bucket-one") == drifted
    assert json.loads(s3().get_bucket_policy(Bucket="bucket-one")["Policy"])["Statement"][0]["Sid"] == "Public"
    assert env.status(block["plan_id"])["status"] == "planned"


def test_the_policy_decides_who_approves_and_when(env):
    block = env.plan()[(BLOCK, "bucket-one")]
    policy = env.tmp / "policy.yaml"
    policy.write_text(f"actions:\n  {BLOCK}: {{approvers: [alice@example.com]}}\n")
    code, _, err = env.cli("remediate", "approve", block["plan_id"], "--approver", "mallory@example.com",
                           "--key-file", str(env.key_file), "--store", env.store, "--policy", str(policy))  # fmt: skip
    refused((code, "", err), f"mallory@example.com may not approve {BLOCK}")
    # a token minted for mallory by someone holding the key is refused at apply too
    token = env.token([block], approver="mallory@example.com")
    refused(env.apply(token, block["plan_id"], extra=("--policy", str(policy))), "may not approve")
    # alice may, but not outside every change window
    closed = env.tmp / "closed.yaml"
    closed.write_text("change_windows:\n  - {days: [], start: '00:00', end: '23:59'}\n")
    token = env.approve(block["plan_id"], extra=("--policy", str(policy)))
    refused(env.apply(token, block["plan_id"], extra=("--policy", str(closed))), "outside every change window")
    refused(env.cli("remediate", "approve", block["plan_id"], "--approver", "policy:auto-apply", "--key-file",
                    str(env.key_file), "--store", env.store), "reserved")  # fmt: skip
    assert block_of("bucket-one") is None


def test_a_partial_failure_rolls_back_the_plans_applied_before_it(tmp_path, capsys, monkeypatch):
    env = Env(tmp_path, capsys, ("bucket-one", "bucket-two"))
    plans = env.plan()
    first, second = plans[(BLOCK, "bucket-one")], plans[(BLOCK, "bucket-two")]
    token = env.approve(first["plan_id"], second["plan_id"])
    real_write = actions.S3BlockPublicAccess.write

    def write(self, clients, target, config, before):  # the role may read bucket-two but not change it
        if target.id == "bucket-two":
            error = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}
            raise ClientError(error, "PutPublicAccessBlock")
        return real_write(self, clients, target, config, before)

    monkeypatch.setattr(actions.S3BlockPublicAccess, "write", write)
    result = env.apply(token, first["plan_id"], second["plan_id"], extra=("--lake", env.lake))
    refused(result, f"{BLOCK} on bucket-two failed")
    assert result[0] == 1 and "AccessDenied" in result[2]
    assert "rolled back the 1 action(s) applied before it" in result[2]
    assert block_of("bucket-one") is None and block_of("bucket-two") is None  # the first applied, then restored
    status = env.status(first["plan_id"])
    assert status["status"] == "rolled_back" and "bucket-two failed" in status["runs"][0]["rollback_detail"]
    assert env.status(second["plan_id"])["status"] == "planned"
    events = [(e, r) for e, r, *_ in audit_rows(env.lake)]
    assert events == [("applied", "bucket-one"), ("apply_failed", "bucket-two"), ("rolled_back", "bucket-one")]
    monkeypatch.undo()
    refused(env.apply(token, first["plan_id"], second["plan_id"]), "already used")  # it was spent


def test_a_resource_gone_before_apply_is_refused_before_anything_changes(tmp_path, capsys):
    env = Env(tmp_path, capsys, ("bucket-one", "bucket-two"))
    plans = env.plan()
    first, second = plans[(BLOCK, "bucket-one")], plans[(BLOCK, "bucket-two")]
    token = env.approve(first["plan_id"], second["plan_id"])
    s3().delete_bucket_policy(Bucket="bucket-two")
    s3().delete_bucket(Bucket="bucket-two")
    result = env.apply(token, first["plan_id"], second["plan_id"], extra=("--lake", env.lake))
    refused(result, "cannot read bucket-two")
    assert result[0] == 1 and "nothing was applied and the approval was not used" in result[2]
    assert block_of("bucket-one") is None
    assert not (tmp_path / "lake" / "remediation_audit").exists()
    public_bucket("bucket-two")  # back as it was planned: the same approval applies both
    assert env.apply(token, first["plan_id"], second["plan_id"])[0] == 0
    assert block_of("bucket-one") == ALL_BLOCKED and block_of("bucket-two") == ALL_BLOCKED


def test_rollback_is_refused_for_a_plan_never_applied_or_already_rolled_back(env):
    block = env.plan()[(BLOCK, "bucket-one")]
    refused(env.rollback(block["plan_id"]), "was never applied")
    assert env.apply(env.approve(block["plan_id"]), block["plan_id"])[0] == 0
    lock = env.tmp / "store" / "plans" / f"{block['plan_id']}.lock"
    lock.touch()  # another process is working on the plan
    refused(env.rollback(block["plan_id"]), "by another process")
    lock.unlink()
    assert env.rollback(block["plan_id"])[0] == 0 and not lock.exists()
    refused(env.rollback(block["plan_id"]), "already rolled back")
    refused(env.rollback("plan-000000000000"), "no plan plan-000000000000")
    refused(env.rollback("../../etc/passwd"), "is not a plan id")


def test_rollback_will_not_undo_a_later_change_without_force(env):
    block = env.plan()[(BLOCK, "bucket-one")]
    assert env.apply(env.approve(block["plan_id"]), block["plan_id"])[0] == 0
    later = {**ALL_BLOCKED, "RestrictPublicBuckets": False}
    s3().put_public_access_block(Bucket="bucket-one", PublicAccessBlockConfiguration=later)
    refused(env.rollback(block["plan_id"]), "changed since")
    assert block_of("bucket-one") == later
    code, out, err = env.rollback(block["plan_id"], "--force")
    assert code == 0, err
    assert "over a change made after the plan was applied" in flat(out)
    assert block_of("bucket-one") is None


def audit_rows(lake: str) -> list[tuple]:
    files = os.path.join(lake, "remediation_audit", "**", "*.parquet")
    columns = "event, resource, actor, plan_hash, incident_id, before, after"
    return duckdb.sql(f"SELECT {columns} FROM read_parquet('{files}') ORDER BY \"at\"").fetchall()


def test_apply_and_rollback_write_the_audit_trail(env):
    block = env.plan()[(BLOCK, "bucket-one")]
    code, _, err = env.apply(env.approve(block["plan_id"]), block["plan_id"], extra=("--lake", env.lake))
    assert code == 0, err
    assert env.rollback(block["plan_id"], "--lake", env.lake, "--actor", "bob")[0] == 0
    rows = audit_rows(env.lake)
    assert [(r[0], r[2]) for r in rows] == [
        ("applied", "alice@example.com"),
        ("verified", "alice@example.com"),
        ("rolled_back", "bob"),
    ]
    assert {r[3] for r in rows} == {block["hash"]} and {r[4] for r in rows} == {env.incident.id}
    applied, _, rolled_back = rows
    assert json.loads(applied[5]) == {} and json.loads(applied[6]) == ALL_BLOCKED
    assert json.loads(rolled_back[5]) == ALL_BLOCKED and json.loads(rolled_back[6]) == {}


def test_the_key_from_secrets_manager_and_bad_keys(env):
    block = env.plan()[(BLOCK, "bucket-one")]
    arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="approval-key", SecretString=KEY.decode()
    )["ARN"]
    code, token, err = env.cli("remediate", "approve", block["plan_id"], "--approver", "alice@example.com",
                               "--key-secret-arn", arn, "--store", env.store)  # fmt: skip
    assert code == 0, err
    # the same key, from the file: the token verifies
    env.key_file.chmod(0o644)
    refused(env.apply(token.strip(), block["plan_id"]), "readable or writable by everyone")
    env.key_file.chmod(0o600)
    refused(env.cli("remediate", "apply", block["plan_id"], "--approve-token", token.strip(), "--store", env.store),
            "give the approval key")  # fmt: skip
    assert env.apply(token.strip(), block["plan_id"])[0] == 0
    assert block_of("bucket-one") == ALL_BLOCKED
