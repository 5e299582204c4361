"""The Sentinel policy set (sentinel/) is laid out the way HashiCorp's policy library is, checked offline.

The Sentinel CLI is what evaluates the policies: `sentinel test` in sentinel/ (`make sentinel` runs it when the CLI
is on PATH) and Terraform Cloud/Enterprise, which runs the set against each plan. The CLI is not in the registries
this project installs from, and nothing here runs or imitates it: this test only guards the layout. Every policy
declared in sentinel.hcl has its file and a test folder with pass and fail cases; every case loads a tfplan/v2 mock
that exists and expects `main` true (pass*) or false (fail*); every mock is well formed where that can be checked
without Sentinel (brackets balanced outside strings, resource changes with the fields the policies read) and mocks
only resource types its policy checks; every policy checks resource types the infrastructure uses or will use; and
the README and the Makefile say what the set holds and how it runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SENTINEL = ROOT / "sentinel"
ENFORCEMENT_LEVELS = {"advisory", "soft-mandatory", "hard-mandatory"}
ACTIONS = {"create", "update", "delete", "no-op", "read"}

# The resource types each policy checks (None: every taggable type). Each must be named in the policy's source.
POLICY_TYPES: dict[str, set[str] | None] = {
    "lake-buckets-kms-and-private": {
        "aws_s3_bucket",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_public_access_block",
    },
    "lambda-failure-handling-and-concurrency": {
        "aws_lambda_function",
        "aws_lambda_function_event_invoke_config",
        "aws_lambda_event_source_mapping",
        "aws_sqs_queue",
        "aws_sqs_queue_redrive_policy",
    },
    "remediation-role-no-wildcard-actions": {
        "aws_iam_role",
        "aws_iam_role_policy",
        "aws_iam_policy",
        "aws_iam_role_policy_attachment",
        "aws_iam_policy_document",
    },
    "mandatory-tags": None,
    "bedrock-model-allowlist": {"aws_lambda_function"},
    "step-functions-logging": {"aws_sfn_state_machine"},
    "quicksight-not-public": {
        "aws_quicksight_dashboard",
        "aws_quicksight_analysis",
        "aws_quicksight_data_set",
        "aws_quicksight_data_source",
    },
    "sqs-queues-encrypted": {"aws_sqs_queue"},
}

# Types the infrastructure issue's Terraform will add (infra/ holds only the dashboard module today): the lake's
# buckets and their encryption and public access blocks; the stage Lambdas (lambdas/: ingest, process, detect,
# respond, notify, approval), the SQS queues that feed approval and notify and their dead-letter queues, with the
# event source mappings between them; the response workflow's state machine (state_machines/); the remediation role
# and its policies, built from policy documents.
PLANNED_TYPES = {
    "aws_s3_bucket",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_public_access_block",
    "aws_lambda_function",
    "aws_lambda_event_source_mapping",
    "aws_sqs_queue",
    "aws_sfn_state_machine",
    "aws_iam_role",
    "aws_iam_role_policy",
    "aws_iam_policy",
    "aws_iam_role_policy_attachment",
    "aws_iam_policy_document",
}

# Types neither used nor planned that the policies check anyway, so that another way of writing the same thing is
# held to them too: an on-failure destination instead of a dead-letter queue, a redrive policy as its own resource,
# and analyses next to the dashboard (the issue asks for them).
ALTERNATIVE_TYPES = {
    "aws_lambda_function_event_invoke_config",
    "aws_sqs_queue_redrive_policy",
    "aws_quicksight_analysis",
}


def _infra_types() -> set[str]:
    """The resource and data source types infra/ declares today."""
    declared = re.compile(r'^\s*(?:resource|data)\s+"([a-z0-9_]+)"', re.MULTILINE)
    return {t for path in (ROOT / "infra").rglob("*.tf") for t in declared.findall(path.read_text())}


def _policies() -> dict[str, dict[str, str]]:
    """sentinel.hcl's policy blocks: name -> attributes."""
    text = (SENTINEL / "sentinel.hcl").read_text()
    blocks = re.findall(r'^policy\s+"([^"]+)"\s*\{(.*?)^\}', text, re.MULTILINE | re.DOTALL)
    return {name: dict(re.findall(r'^\s*(\w+)\s*=\s*"([^"]*)"', body, re.MULTILINE)) for name, body in blocks}


POLICIES = _policies()


def _cases(policy: str) -> list[Path]:
    return sorted((SENTINEL / "test" / policy).glob("*.hcl"))


def _all_cases() -> list[tuple[str, Path]]:
    return [(policy, case) for policy in POLICIES for case in _cases(policy)]


def _mocks_of(case: Path) -> dict[str, Path]:
    """A test case's mocked imports: import name -> the mock module file."""
    found = re.findall(r'mock\s+"([^"]+)"\s*\{\s*module\s*\{\s*source\s*=\s*"([^"]+)"', case.read_text())
    return {name: case.parent / source for name, source in found}


def _sentinel_literal_to_json(text: str) -> str:
    """A mock module (top-level `name = value` assignments of Sentinel literals: maps, lists, strings, numbers,
    booleans, null; comments; trailing commas) as one JSON object. Anything outside that subset, like an
    expression, is left in place and makes json.loads fail, which the caller reports."""
    out: list[str] = []
    i, depth, assignments = 0, 0, 0
    while i < len(text):
        c = text[i]
        if c == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif c == "#" or text.startswith("//", i):
            while i < len(text) and text[i] != "\n":
                i += 1
        elif c == ",":
            rest = text[i + 1 :].lstrip()
            if not rest.startswith(("}", "]")):
                out.append(c)
            i += 1
        elif depth == 0 and (m := re.match(r"([A-Za-z_]\w*)\s*=\s*", text[i:])):
            out.append(("," if assignments else "") + json.dumps(m.group(1)) + ":")
            assignments += 1
            i += m.end()
        else:
            if c in "{[":
                depth += 1
            elif c in "}]":
                depth -= 1
            out.append(c)
            i += 1
    return "{" + "".join(out) + "}"


def _brackets_balanced(text: str) -> bool:
    """Whether {} [] () nest properly outside strings and comments."""
    stack: list[str] = []
    pairs = {"}": "{", "]": "[", ")": "("}
    i = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c == "#":
            while i < len(text) and text[i] != "\n":
                i += 1
        elif c in "{[(":
            stack.append(c)
        elif c in pairs and (not stack or stack.pop() != pairs[c]):
            return False
        i += 1
    return not stack


def _address(rc: dict) -> str:
    index = rc["index"]
    suffix = "" if index is None else (f"[{index}]" if isinstance(index, int) else f'["{index}"]')
    module = f"{rc['module_address']}." if rc["module_address"] else ""
    data = "data." if rc["mode"] == "data" else ""
    return f"{module}{data}{rc['type']}.{rc['name']}{suffix}"


def _mock(path: Path) -> dict:
    return json.loads(_sentinel_literal_to_json(path.read_text()))


def test_every_declared_policy_has_its_file_level_and_tests():
    assert set(POLICIES) == set(POLICY_TYPES), "sentinel.hcl and this test disagree on the policies"
    for name, attributes in POLICIES.items():
        source = SENTINEL / attributes.get("source", "")
        assert source.is_file() and source.name == f"{name}.sentinel", f"{name}: source {attributes.get('source')}"
        assert attributes.get("enforcement_level") in ENFORCEMENT_LEVELS, f"{name}: enforcement level"
        cases = [c.name for c in _cases(name)]
        assert any(c.startswith("pass") for c in cases), f"{name}: no pass*.hcl in test/{name}/"
        assert any(c.startswith("fail") for c in cases), f"{name}: no fail*.hcl in test/{name}/"
    stray = {p.stem for p in SENTINEL.glob("*.sentinel")} - set(POLICIES)
    assert not stray, f"policy files sentinel.hcl does not declare: {stray}"
    assert {p.name for p in (SENTINEL / "test").iterdir()} == set(POLICIES), "test folders without a policy"


@pytest.mark.parametrize("policy", sorted(POLICY_TYPES))
def test_policy_reads_the_plan_and_has_a_fail_case_per_rule(policy):
    source = (SENTINEL / f"{policy}.sentinel").read_text()
    assert re.search(r'^import "tfplan/v2" as tfplan$', source, re.MULTILINE)
    assert re.search(r"^main = rule \{", source, re.MULTILINE)
    assert "resource_changes" in source and "change.actions" in source and "change.after" in source
    for resource_type in POLICY_TYPES[policy] or ():
        assert f'"{resource_type}"' in source, f"{policy} does not name {resource_type}"
    rules = [r for r in re.findall(r"^(\w+) = rule \{", source, re.MULTILINE) if r != "main"]
    fails = [c for c in _cases(policy) if c.name.startswith("fail")]
    assert rules, f"{policy}: no named rule besides main"
    assert len(fails) >= len(rules), f"{policy}: {len(rules)} rules {rules} but {len(fails)} fail cases"


@pytest.mark.parametrize(("policy", "case"), _all_cases(), ids=lambda v: v if isinstance(v, str) else v.stem)
def test_case_loads_an_existing_mock_and_expects_its_outcome(policy, case):
    text = case.read_text()
    mocks = _mocks_of(case)
    assert set(mocks) == {"tfplan/v2"}, f"{case.name}: mocks {set(mocks)}"
    assert mocks["tfplan/v2"].is_file(), f"{case.name}: {mocks['tfplan/v2'].name} is missing"
    assert _brackets_balanced(text)
    expected = re.findall(r"test\s*\{\s*rules\s*=\s*\{\s*main\s*=\s*(true|false)\s*\}\s*\}", text)
    assert expected == ["true" if case.name.startswith("pass") else "false"], f"{case.name}: main expectation"
    declared = set(re.findall(r"^param (\w+)", (SENTINEL / f"{policy}.sentinel").read_text(), re.MULTILINE))
    for param in re.findall(r'^param\s+"([^"]+)"', text, re.MULTILINE):
        assert param in declared, f"{case.name} sets {param}, which {policy} does not declare"


@pytest.mark.parametrize("policy", sorted(POLICY_TYPES))
def test_every_mock_is_used_and_shaped_like_tfplan_v2(policy):
    folder = SENTINEL / "test" / policy
    used = {path.resolve() for case in _cases(policy) for path in _mocks_of(case).values()}
    mocks = sorted(folder.glob("mock-tfplan-*.sentinel"))
    assert {m.resolve() for m in mocks} == used, f"{policy}: mocks no case loads, or cases loading others"
    allowed = POLICY_TYPES[policy] or (_infra_types() | PLANNED_TYPES)
    for path in mocks:
        assert _brackets_balanced(path.read_text()), f"{path.name}: unbalanced brackets"
        try:
            plan = _mock(path)
        except json.JSONDecodeError as e:
            pytest.fail(f"{path.name}: not plain literal data ({e})")
        assert isinstance(plan.get("terraform_version"), str), path.name
        changes = plan.get("resource_changes")
        assert isinstance(changes, dict) and changes, f"{path.name}: no resource_changes"
        for key, rc in changes.items():
            where = f"{path.name} {key}"
            assert {"address", "type", "name", "mode", "index", "module_address", "provider_name", "change"} <= set(rc)
            assert rc["address"] == key == _address(rc), f"{where}: address"
            assert rc["mode"] in ("managed", "data"), where
            assert rc["type"] in allowed, f"{where}: {rc['type']} is not a type {policy} checks"
            change = rc["change"]
            assert {"actions", "after", "after_unknown", "before"} <= set(change), where
            assert change["actions"] and set(change["actions"]) <= ACTIONS, f"{where}: actions"
            assert isinstance(change["after_unknown"], dict), where
            if change["after"] is None:
                assert change["actions"] == ["delete"], f"{where}: no planned values but not deleted"
                continue
            assert isinstance(change["after"], dict), where
            both = [k for k, v in change["after_unknown"].items() if v is True and k in change["after"]]
            assert not both, f"{where}: {both} both known and unknown (a plan leaves unknown values out of after)"


def test_each_policy_checks_types_the_infrastructure_uses_or_will_use():
    used = _infra_types()
    assert {"aws_quicksight_dashboard", "aws_quicksight_data_set", "aws_quicksight_data_source"} <= used
    for policy, types in POLICY_TYPES.items():
        if types is None:  # every taggable type: the dashboard module's tagged resources today
            continue
        assert types & (used | PLANNED_TYPES), f"{policy} checks nothing the infrastructure has or plans"
        unexplained = types - used - PLANNED_TYPES - ALTERNATIVE_TYPES
        assert not unexplained, f"{policy} checks {unexplained}: add them to a list above, with the reason"


def test_readme_and_makefile_describe_the_set():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Sentinel policies", 1)[1].split("\n## ", 1)[0]
    assert readme.index("## Sentinel policies") < readme.index("## Development")
    for name, attributes in POLICIES.items():
        assert f"`{name}`" in section, f"README: {name} missing"
        row = next(line for line in section.splitlines() if f"`{name}`" in line)
        assert attributes["enforcement_level"] in row, f"README: {name}'s enforcement level"
        params = re.findall(r"^param (\w+)", (SENTINEL / f"{name}.sentinel").read_text(), re.MULTILINE)
        for param in params:
            assert f"`{param}`" in section, f"README: {name}'s parameter {param}"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test:.*\bsentinel\b", makefile, re.MULTILINE), "make test does not depend on sentinel"
    # sentinel/ is a directory, so without .PHONY `make sentinel` would find its target up to date and do nothing.
    assert re.search(r"^\.PHONY:.*\bsentinel\b", makefile, re.MULTILINE)
