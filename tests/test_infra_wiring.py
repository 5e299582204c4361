"""The Terraform under infra/ is wired to the code it deploys, checked offline (no terraform binary, no AWS).

- Every ``.tf`` file under infra/ parses (python-hcl2, as checkov bundles it: the project's own environment does
  not depend on it, so the files are parsed by ``.venv-tools``' interpreter in one subprocess; ``make tools``
  creates it, and without it these tests skip and say so).
- The response module's ``templatefile()`` supplies every ``${placeholder}`` of the state machine definition and
  nothing else, and each task placeholder names the function ``workflow.TASKS`` says it does.
- Every Lambda ``handler`` names a function that exists in the lambdas/<name>/handler.py its module deploys.
- Environment variables, both ways, through an explicit manifest (``ENVIRONMENT``, below) checked against both
  sides: the manifest's variables for each handler file, together with the documented exemptions, are exactly
  those the handler and the library modules it imports read (``os.environ.get("X")``, ``os.environ["X"]``,
  ``os.getenv``, an alias of ``os.environ.get``, or a module-level constant naming X), so neither a new variable
  in the code nor a stale one in the manifest goes unnoticed; and each deployed function's environment in the
  modules is exactly its manifest entry. Every variable a handler's docstring names is set on some function.
- The remediation role's actions are the union of the catalogue's ``iam_actions``
  (``egress_optimizer.respond.actions.CATALOGUE``; ``egress remediate list --json`` prints the same), no more and no
  fewer, and the role's other policies hold only the runtime actions listed here (logs, traces, its dead-letter
  queue, the lake's audit trail, the member role).
- No IAM statement grants ``*`` or ``<service>:*`` unless an inline comment on (or just above) that line says why;
  and policy documents hold static statements with literal action lists (or locals of them), which is what checkov
  can read: it renders neither ``dynamic "statement"`` blocks nor computed action lists.
- What the Sentinel policies check, where the source shows it: bounded concurrency, somewhere for failures to go,
  encrypted queues, execution logging with execution data and tracing, the mandatory tags variable on every
  taggable resource.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from egress_optimizer.contracts.events import DETAIL_TYPES, EVENT_SOURCE, MODEL_TRAINED
from egress_optimizer.respond import workflow
from egress_optimizer.respond.actions import CATALOGUE
from egress_optimizer.respond.requests import CAD_DETAIL_TYPE

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
MODULES = INFRA / "modules"
LAMBDAS = ROOT / "lambdas"
SRC = ROOT / "src"
ASL = ROOT / "state_machines" / "anomaly_response.asl.json"
TOOLS_PYTHON = ROOT / ".venv-tools" / "bin" / "python"

# The modules and the lambdas/<name>/ each deploys: build/lambda-<name>.zip, or for the pipeline's functions, which
# exceed Lambda's 250 MB with their layers, a container image built from build/images/<name>/ (tools/package.py).
DEPLOYS = {
    "response": "respond", "approvals": "approval", "notifications": "notify",
    "ingestion": "ingest", "processing": "process", "ml": "detect",
}  # fmt: skip
MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")

# ---- the environment manifest ---------------------------------------------------------------------------------------
# Every respond step reads all of these: tasks.Settings.from_env and delivery.ApprovalDelivery.from_env run in each
# step (lambdas/respond/handler.py: _settings). EGRESS_IP_RANGES / EGRESS_NETWORKS / EGRESS_GEOIP_DIR are read by
# collect_traffic's collectors; the module sets them on every step rather than special-casing one.
RESPOND_TASK_ENV = {
    "POWERTOOLS_SERVICE_NAME", "LAKE_URI", "APPROVALS_TABLE", "ALERTS_TOPIC_ARN", "APPROVAL_TIMEOUT_SECONDS",
    "MEMBER_ROLE_NAME", "EGRESS_CHECK_SECONDS", "TRAIL_LOGS", "REMEDIATION_POLICY", "COST_ANOMALY_LOOKUP",
    "BEDROCK_MODEL_ID", "BEDROCK_GUARDRAIL_ID", "BEDROCK_GUARDRAIL_VERSION", "BEDROCK_MAX_TOKENS",
    "BEDROCK_USD_PER_1K_INPUT", "BEDROCK_USD_PER_1K_OUTPUT", "APPROVALS_TOPIC_ARN", "APPROVAL_URL",
    "APPROVAL_KEY_SECRET_ARN", "APPROVER_EMAILS", "SLACK_BOT_TOKEN_SECRET_ARN", "SLACK_APPROVAL_CHANNEL",
    "SLACK_API_URL", "EGRESS_IP_RANGES", "EGRESS_NETWORKS", "EGRESS_GEOIP_DIR", "ALERT_QUEUE_URL",
}  # fmt: skip
# (lambdas/<name>, handler function) -> the variables the module must set on that function, exactly.
ENVIRONMENT: dict[tuple[str, str], set[str]] = {
    **{("respond", fn): RESPOND_TASK_ENV for fn in workflow.TASKS.values()},
    ("respond", "start"): {"POWERTOOLS_SERVICE_NAME", "STATE_MACHINE_ARN"},
    ("approval", "handler"): {
        "POWERTOOLS_SERVICE_NAME", "APPROVALS_TABLE", "APPROVAL_KEY_SECRET_ARN", "SLACK_SIGNING_SECRET_ARN",
        "APPROVER_SLACK_IDS", "RESUME_QUEUE_URL", "SLACK_RESPONSE_HOSTS", "APPROVAL_SNOOZE_SECONDS",
        # notify.alert_actions (the alert buttons)
        "ALERTS_TABLE", "ALERT_RESPONDER_SLACK_IDS", "ALERT_PLANNED_HOURS",
    },
    ("notify", "handler"): {
        "POWERTOOLS_SERVICE_NAME", "ALERTS_TABLE", "ALERT_ROUTING_FILE", "SLACK_ALERT_CHANNEL", "ALERTS_TOPIC_ARN",
        "ALERT_WEBHOOK_URL", "ALERT_WEBHOOK_SECRET_ARN", "SLACK_BOT_TOKEN_SECRET_ARN", "SLACK_API_URL",
        "REPORT_BASE_URL", "ALERT_SNOOZE_HOURS", "ALERT_RETRY_ATTEMPTS", "ALERT_RETRY_BASE_SECONDS",
    },
    # The pipeline's images. Their handlers' Logger() reads POWERTOOLS_SERVICE_NAME inside Powertools, where this
    # test does not look: each image sets it (build/images/<name>/Dockerfile), so the functions' environments hold
    # only what the code here reads.
    ("ingest", "lambda_handler"): {
        "LAKE_URI", "IDEMPOTENCY_TABLE", "GLUE_DATABASE", "IDEMPOTENCY_EXPIRES_SECONDS", "POWERTOOLS_METRICS_NAMESPACE",
    },
    ("process", "handler"): {
        "LAKE_URI", "GLUE_JOB_NAME", "EVENT_BUS_NAME", "LAMBDA_MAX_PENDING_BYTES", "POWERTOOLS_METRICS_NAMESPACE",
    },
    ("detect", "handler"): {
        "LAKE_URI", "EVENT_BUS_NAME", "MIN_IMPACT_USD", "MIN_IMPACT_PCT", "MIN_SHARE_PCT", "MODEL_ARTIFACTS_PREFIX",
        "POWERTOOLS_METRICS_NAMESPACE",
    },
}  # fmt: skip
# Read by the code, deliberately not set by the modules.
NOT_SET = {
    "AWS_DEFAULT_REGION": "set by the Lambda runtime itself (reserved)",
    "AWS_ENDPOINT_URL": "points boto3 and pyarrow at moto in tests; unset in AWS",
    "AWS_ENDPOINT_URL_S3": "points pyarrow at moto in tests; unset in AWS",
}
# egress_optimizer.stages imports the response modules inside its response functions (explain, plan_remediation,
# respond_locally, ...), so every handler importing stages reaches their settings; the pipeline's handlers call none
# of those functions (tools/package.py's reachability finds no respond module for them).
RESPONSE_SETTINGS = (
    RESPOND_TASK_ENV - {"POWERTOOLS_SERVICE_NAME", "LAKE_URI", "EGRESS_IP_RANGES", "EGRESS_NETWORKS"}
) | {"EGRESS_STATE_DIR"}
# Read by AttributionInputs.load (the price table, AWS's IP ranges, the networks file), which only attribution calls.
ATTRIBUTION_INPUTS = {"EGRESS_IP_RANGES", "EGRESS_NETWORKS", "EGRESS_PRICE_TABLE"}
_RESPONSE_ONLY = "a response setting reached through egress_optimizer.stages' response functions, never called here"
NOT_SET_BY_HANDLER = {
    "respond": {"EGRESS_STATE_DIR": "the CLI's local plan store (respond/plan_store.py); the workflow never opens it"},
    "ingest": {
        **dict.fromkeys(RESPONSE_SETTINGS, _RESPONSE_ONLY),
        **dict.fromkeys(ATTRIBUTION_INPUTS, "attribution's inputs: ingestion parses logs, it never attributes them"),
    },
    "process": {
        **dict.fromkeys(RESPONSE_SETTINGS, _RESPONSE_ONLY),
        **dict.fromkeys(
            ATTRIBUTION_INPUTS,
            "attribution's inputs, left to the shipped snapshots on purpose: the Glue job runs the same stage and "
            "cannot be given them, and different inputs would give the two runners different attribution "
            "fingerprints, each rebuilding the other's work",
        ),
    },
    "detect": {
        **dict.fromkeys(RESPONSE_SETTINGS, _RESPONSE_ONLY),
        **dict.fromkeys(ATTRIBUTION_INPUTS, "attribution's inputs: detection reads the features, it never attributes"),
    },
}

# ---- the remediation role -------------------------------------------------------------------------------------------
REMEDIATION_ROLE_DOCUMENT = "remediation"
# What the remediation role's other policies may hold: its own logs and traces, its dead-letter queue and the
# module's key (base), the lake's audit trail and, in an organisation, the member role (remediation_runtime), and
# the network interfaces Lambda manages when the functions run in a VPC.
REMEDIATION_RUNTIME_ACTIONS = {
    "logs:CreateLogStream", "logs:PutLogEvents",
    "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
    "sqs:SendMessage", "kms:Decrypt", "kms:GenerateDataKey",
    "s3:ListBucket", "s3:GetObject", "s3:PutObject", "sts:AssumeRole",
    "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
}  # fmt: skip

TAGGABLE = {
    "aws_kms_key", "aws_sqs_queue", "aws_sns_topic", "aws_cloudwatch_log_group", "aws_lambda_function",
    "aws_iam_role", "aws_sfn_state_machine", "aws_cloudwatch_event_rule", "aws_cloudwatch_metric_alarm",
    "aws_dynamodb_table", "aws_secretsmanager_secret", "aws_apigatewayv2_api", "aws_apigatewayv2_stage",
}  # fmt: skip
WILDCARD = re.compile(r"^(\*|[A-Za-z0-9-]+:\*)$")

# ---- parsing --------------------------------------------------------------------------------------------------------
_PARSE = r"""
import json, sys
import hcl2
probe = hcl2.loads('a = "x"\n')
out = {"__wrapped__": probe["a"] == ["x"]}
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            out[path] = hcl2.load(f)
    except Exception as exc:
        out[path] = {"__error__": f"{type(exc).__name__}: {exc}"}
print(json.dumps(out, default=str))
"""


def _tf_files() -> list[Path]:
    return sorted(p for p in INFRA.rglob("*.tf") if ".terraform" not in p.parts)


@cache
def _parsed() -> tuple[bool, dict[str, Any]]:
    """Every .tf file under infra/ parsed, and whether the parser wraps attribute values in a list."""
    try:
        import hcl2  # noqa: F401

        python = sys.executable
    except ImportError:
        if not TOOLS_PYTHON.exists():
            pytest.skip("python-hcl2 is in .venv-tools (checkov's environment), which is missing: run `make tools`")
        python = str(TOOLS_PYTHON)
    files = [str(p) for p in _tf_files()]
    done = subprocess.run([python, "-c", _PARSE, *files], capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        if "No module named 'hcl2'" in done.stderr:
            pytest.skip(f"{python} cannot import hcl2: run `make tools`")
        raise AssertionError(f"the HCL parser failed: {done.stderr[-2000:]}")
    out = json.loads(done.stdout)
    return bool(out.pop("__wrapped__")), out


class Module:
    """One folder of .tf files: its resources, data sources and locals, attribute values unwrapped."""

    def __init__(self, folder: Path):
        self.folder = folder
        wrapped, parsed = _parsed()
        self._wrapped = wrapped
        self.files = {Path(p).name: d for p, d in parsed.items() if Path(p).parent == folder}
        self.locals: dict[str, Any] = {}
        self.resources: dict[tuple[str, str], dict] = {}
        self.data: dict[tuple[str, str], dict] = {}
        self.variables: set[str] = set()
        self.outputs: set[str] = set()
        self.source: dict[str, str] = {p.name: p.read_text() for p in folder.glob("*.tf")}
        for doc in self.files.values():
            for block in doc.get("locals", []):
                self.locals.update({k: self.value(v) for k, v in block.items() if not k.startswith("__")})
            for kind, into in (("resource", self.resources), ("data", self.data)):
                for block in doc.get(kind, []):
                    for rtype, named in block.items():
                        for name, body in named.items():
                            into[(rtype, name)] = body
            for block in doc.get("variable", []):
                self.variables.update(block)
            for block in doc.get("output", []):
                self.outputs.update(block)

    def value(self, v: Any) -> Any:
        """An attribute's value (the parser in .venv-tools wraps each in a one-element list)."""
        if self._wrapped and isinstance(v, list) and len(v) == 1:
            return v[0]
        return v

    def attr(self, body: dict, name: str, default: Any = None) -> Any:
        return self.value(body[name]) if name in body else default

    def of_type(self, rtype: str) -> dict[str, dict]:
        return {name: body for (t, name), body in self.resources.items() if t == rtype}


def _expr(value: Any) -> str | None:
    """The inside of a ``${...}`` expression string, or None for a literal."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return value[2:-1].strip()
    return None


def _strings(module: Module, value: Any) -> list[str]:
    """A list of strings as the modules spell action lists: a literal list, ``local.X``, ``local.X.key`` or
    ``flatten(values(local.X))`` of a local map of literal lists. Anything else (a for-expression, a function of
    computed values) is refused: checkov cannot read it either."""
    if isinstance(value, list):
        return [s for v in value for s in (_strings(module, v) if _expr(v) else [v])]
    inner = _expr(value)
    if inner is None:
        return [value]
    if m := re.fullmatch(r"local\.(\w+)(?:\.(\w+))?", inner):
        local = module.locals[m.group(1)]
        return _strings(module, local[m.group(2)] if m.group(2) else local)
    if m := re.fullmatch(r"flatten\(\s*values\(\s*local\.(\w+)\s*\)\s*\)", inner):
        return [a for values in module.locals[m.group(1)].values() for a in _strings(module, values)]
    raise AssertionError(f"an action list spelled {value!r}: use literal lists (or locals of them)")


def _statements(module: Module, document: dict) -> list[dict]:
    """A policy document's statements (dynamic ones too, though test_policy_statements_are_static refuses them)."""
    out = list(document.get("statement", []))
    for dynamic in document.get("dynamic", []):
        for name, body in dynamic.items():
            if name == "statement":
                out.extend(body.get("content", []))
    return out


def _actions(module: Module, statement: dict) -> list[str]:
    return _strings(module, module.attr(statement, "actions", []))


@cache
def _module(name: str) -> Module:
    return Module(MODULES / name)


def _all_modules() -> list[Module]:
    folders = sorted({p.parent for p in _tf_files()})
    return [Module(f) for f in folders]


def _lambdas(module: Module) -> list[tuple[str, str, dict]]:
    """Each function a module deploys, as (resource name, handler function, resource body); a for_each over a
    local map of functions gives one per key."""
    out = []
    for name, body in module.of_type("aws_lambda_function").items():
        handler = module.attr(body, "handler")
        if _expr(handler) == "each.value.handler":
            source = re.fullmatch(r"local\.(\w+)", _expr(module.attr(body, "for_each")) or "")
            assert source, f"aws_lambda_function.{name}: for_each is not a local map"
            for key, spec in module.locals[source.group(1)].items():
                out.append((f"{name}[{key}]", spec["handler"].split(".", 1)[1], body))
        else:
            if handler is None and module.attr(body, "package_type") == "Image":  # an image's entry point: its command
                handler = (module.attr(module.attr(body, "image_config") or {}, "command") or [None])[0]
            assert isinstance(handler, str) and handler.startswith("handler."), f"{name}: handler {handler!r}"
            out.append((name, handler.split(".", 1)[1], body))
    return out


def _environment_keys(module: Module, body: dict) -> set[str]:
    environment = module.attr(body, "environment")
    variables = module.attr(environment, "variables") if environment else None
    if isinstance(variables, dict):
        return set(variables)
    if m := re.fullmatch(r"local\.(\w+)", _expr(variables) or ""):
        return set(module.locals[m.group(1)])
    raise AssertionError(f"environment variables spelled {variables!r}: a literal map or a local map")


# ---- what the code reads --------------------------------------------------------------------------------------------
def _module_path(name: str) -> Path | None:
    base = SRC / Path(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.exists():
            return candidate
    return None


def _imports(tree: ast.AST) -> set[str]:
    """The library modules a module imports (absolute imports: the library uses no relative ones), and the names
    it imports from them (which may be modules too)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "a relative import: teach _imports about it"
            out.add(node.module or "")
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return {m for m in out if m.split(".")[0] == "egress_optimizer"}


def _env_reads(tree: ast.Module) -> set[str]:
    constants = {
        t.id: n.value.value
        for n in tree.body
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    aliases = {
        t.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign) and ast.unparse(n.value) in ("os.environ.get", "os.getenv")
        for t in n.targets
        if isinstance(t, ast.Name)
    }

    def name_of(arg: ast.AST) -> str:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value
        if isinstance(arg, ast.Name) and arg.id in constants:
            return constants[arg.id]
        raise AssertionError(f"an environment variable named by an expression: {ast.unparse(arg)}")

    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            called = ast.unparse(node.func)
            if called in ("os.environ.get", "os.getenv", "os.environ.setdefault") or called in aliases:
                found.add(name_of(node.args[0]))
        elif (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) == "os.environ"
            and isinstance(node.ctx, ast.Load)
        ):
            found.add(name_of(node.slice))
    return found


@cache
def _read_by(lambda_dir: str) -> dict[str, set[str]]:
    """The environment variables the handler and every library module it imports (transitively) read, by
    module."""
    handler = LAMBDAS / lambda_dir / "handler.py"
    tree = ast.parse(handler.read_text())
    out = {"handler.py": _env_reads(tree)}
    todo, seen = sorted(_imports(tree)), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_path(name)
        if path is None:
            continue
        module_tree = ast.parse(path.read_text())
        out[name] = _env_reads(module_tree)
        todo.extend(_imports(module_tree))
    return out


def _handler_functions(lambda_dir: str) -> set[str]:
    tree = ast.parse((LAMBDAS / lambda_dir / "handler.py").read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


# ---- tests ----------------------------------------------------------------------------------------------------------
def test_every_tf_file_parses():
    _, parsed = _parsed()
    assert parsed, "no .tf files under infra/"
    errors = {Path(p).relative_to(ROOT).as_posix(): d["__error__"] for p, d in parsed.items() if "__error__" in d}
    assert not errors, errors


@pytest.mark.parametrize("name", sorted(DEPLOYS))
def test_modules_have_the_standard_files_and_document_every_input_and_output(name):
    folder = MODULES / name
    missing = [f for f in MODULE_FILES if not (folder / f).exists()]
    assert not missing, f"infra/modules/{name} lacks {missing}"
    module = _module(name)
    readme = (folder / "README.md").read_text()
    undocumented = sorted(v for v in module.variables | module.outputs if f"`{v}`" not in readme)
    assert not undocumented, f"infra/modules/{name}/README.md does not document {undocumented}"
    versions = module.source["versions.tf"]
    assert re.search(r'required_version\s*=\s*">= 1\.4"', versions)
    assert re.search(r'version\s*=\s*"~> 5\.40"', versions)


def test_the_state_machine_gets_every_placeholder_and_nothing_else():
    module = _module("response")
    in_file = set(re.findall(r"\$\{(\w+)\}", ASL.read_text()))
    assert in_file == set(workflow.TASKS) | set(workflow.OTHER_PLACEHOLDERS)
    machines = module.of_type("aws_sfn_state_machine")
    assert len(machines) == 1
    definition = _expr(module.attr(next(iter(machines.values())), "definition"))
    m = re.fullmatch(r"templatefile\(\s*local\.(\w+)\s*,\s*local\.(\w+)\s*\)", definition or "")
    assert m, f"the definition is not templatefile(local.<path>, local.<vars>): {definition!r}"
    path_local, vars_local = m.groups()
    supplied = module.locals[vars_local]
    assert set(supplied) == in_file, {
        "missing": sorted(in_file - set(supplied)),
        "extra": sorted(set(supplied) - in_file),
    }
    # Each task placeholder is the ARN of the function workflow.TASKS names.
    for placeholder, function in workflow.TASKS.items():
        assert supplied[placeholder] == f'${{aws_lambda_function.task["{function}"].arn}}', placeholder
    # The default definition path is the repository's file, seen from the module.
    default = re.search(r'"\$\{path\.module\}(/[^"]+)"', str(module.locals[path_local]))
    assert default and (module.folder / default.group(1).lstrip("/")).resolve() == ASL.resolve()


@pytest.mark.parametrize("name", sorted(DEPLOYS))
def test_every_handler_names_a_function_of_its_handler_file(name):
    module = _module(name)
    lambda_dir = DEPLOYS[name]
    images = [b for b in module.of_type("aws_lambda_function").values() if module.attr(b, "package_type") == "Image"]
    # A zip function's module names its zip; an image function's, the image's build context (tools/package.py).
    built = f"build/images/{lambda_dir}" if images else f"build/lambda-{lambda_dir}.zip"
    assert built in module.source["variables.tf"]
    deployed = _lambdas(module)
    assert deployed, f"infra/modules/{name} deploys no function"
    defined = _handler_functions(lambda_dir)
    unknown = sorted(f"{resource}: handler.{fn}" for resource, fn, _ in deployed if fn not in defined)
    assert not unknown, f"not functions of lambdas/{lambda_dir}/handler.py: {unknown}"
    if name == "response":  # one function per task state, and the start function
        assert sorted(fn for _, fn, _ in deployed) == sorted([*workflow.TASKS.values(), "start"])


def test_the_environment_manifest_is_what_the_code_reads():
    for lambda_dir in DEPLOYS.values():
        read = set().union(*_read_by(lambda_dir).values())
        manifest = set().union(*(v for (d, _), v in ENVIRONMENT.items() if d == lambda_dir))
        exempt = set(NOT_SET) | set(NOT_SET_BY_HANDLER.get(lambda_dir, {}))
        unaccounted = sorted(read - manifest - exempt)
        assert not unaccounted, f"lambdas/{lambda_dir} reads {unaccounted}: add them to ENVIRONMENT (and the module)"
        stale = sorted(manifest - read)
        assert not stale, f"ENVIRONMENT lists {stale} for lambdas/{lambda_dir}, which nothing there reads"
        assert not (manifest & exempt), "a variable both set and exempt"


@pytest.mark.parametrize("name", sorted(DEPLOYS))
def test_each_function_gets_exactly_its_environment(name):
    module = _module(name)
    lambda_dir = DEPLOYS[name]
    for resource, function, body in _lambdas(module):
        wanted = ENVIRONMENT[(lambda_dir, function)]
        got = _environment_keys(module, body)
        assert got == wanted, {
            "function": f"{name}: {resource}",
            "not set": sorted(wanted - got),
            "set but not read": sorted(got - wanted),
        }


def test_every_variable_a_handler_docstring_names_is_set_somewhere():
    deployed = {
        v for name in DEPLOYS for _, _, body in _lambdas(_module(name)) for v in _environment_keys(_module(name), body)
    }
    for lambda_dir in DEPLOYS.values():
        doc = ast.get_docstring(ast.parse((LAMBDAS / lambda_dir / "handler.py").read_text())) or ""
        named = set(re.findall(r"``([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)``", doc))
        assert named, f"lambdas/{lambda_dir}/handler.py's docstring names no environment variable"
        assert not (named - deployed - set(NOT_SET)), (lambda_dir, sorted(named - deployed))


def test_the_remediation_role_holds_exactly_the_catalogues_actions():
    module = _module("response")
    catalogue = {a for action in CATALOGUE.values() for a in action.iam_actions}
    listed = _strings(module, module.locals["remediation_iam_actions"])
    assert len(listed) == len(set(listed)), "remediation_iam_actions lists an action twice"
    assert set(listed) == catalogue, {
        "missing": sorted(catalogue - set(listed)),
        "extra": sorted(set(listed) - catalogue),
    }

    # recommend's dry runs read what the catalogue's actions read: its Get and Describe actions, exactly.
    reads = _strings(module, "${flatten(values(local.catalogue_reads_by_scope))}")
    assert sorted(reads) == sorted(a for a in catalogue if re.match(r"^[a-z0-9]+:(Get|Describe|List)", a))

    document = module.data[("aws_iam_policy_document", REMEDIATION_ROLE_DOCUMENT)]
    granted: list[str] = []
    for statement in _statements(module, document):
        actions = _actions(module, statement)
        assert actions, f"an empty statement in the remediation policy: {statement}"
        assert module.attr(statement, "effect", "Allow") == "Allow"
        assert "not_actions" not in statement
        granted.extend(actions)
    assert sorted(granted) == sorted(catalogue), {
        "missing": sorted(catalogue - set(granted)),
        "extra": sorted(set(granted) - catalogue),
        "twice": sorted({a for a in granted if granted.count(a) > 1}),
    }

    # The role: named for the Sentinel policy, and every policy on it is the catalogue's or a runtime one.
    roles = module.of_type("aws_iam_role")
    name = module.attr(roles["remediation"], "name")
    assert _expr(name) == "var.remediation_role_name"
    assert re.search(r'default\s*=\s*"egress-remediation"', module.source["variables.tf"])
    on_role = set()
    for policy_name, body in module.of_type("aws_iam_role_policy").items():
        role = _expr(module.attr(body, "role")) or ""
        document_ref = re.search(r"data\.aws_iam_policy_document\.(\w+)", str(module.attr(body, "policy")))
        if "aws_iam_role.remediation" in role or role.startswith("local.role_names"):
            assert document_ref, f"aws_iam_role_policy.{policy_name}: its document is not a policy document"
            on_role.add(document_ref.group(1))
    assert REMEDIATION_ROLE_DOCUMENT in on_role
    for document_name in on_role - {REMEDIATION_ROLE_DOCUMENT}:
        document = module.data[("aws_iam_policy_document", document_name)]
        assert "source_policy_documents" not in document, document_name
        for statement in _statements(module, document):
            extra = set(_actions(module, statement)) - REMEDIATION_RUNTIME_ACTIONS
            assert not extra, f"{document_name} gives the remediation role {sorted(extra)}"
    for role_policy in module.of_type("aws_iam_role_policy_attachment").values():
        assert "remediation" not in str(role_policy), "a managed policy attached to the remediation role"


def test_policy_statements_are_static():
    """checkov reads neither `dynamic "statement"` blocks nor computed action lists: an optional statement is a
    document of its own (count), so every action is where the scanners can see it."""
    for module in _all_modules():
        for (_, doc_name), document in module.data.items():
            where = f"{module.folder.relative_to(ROOT)}: data.aws_iam_policy_document.{doc_name}"
            assert not any("statement" in d for d in document.get("dynamic", [])), f"{where}: a dynamic statement"
            for statement in document.get("statement", []):
                _actions(module, statement)  # refuses anything but literal lists and locals of them


def _commented_wildcard_lines(text: str) -> dict[str, int]:
    """Wildcard actions on `actions = [...]` lines that carry a comment (on the line, or the line above)."""
    counts: dict[str, int] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"\s*(?:actions|not_actions)\s*=\s*\[(.*)\]\s*(#.*|//.*)?$", line)
        if not m:
            continue
        above = lines[i - 1].strip() if i else ""
        justified = bool(m.group(2)) or above.startswith(("#", "//"))
        for action in re.findall(r'"([^"]*)"', m.group(1)):
            if WILDCARD.match(action) and justified:
                counts[action] = counts.get(action, 0) + 1
    return counts


def test_no_wildcard_action_without_a_comment_saying_why():
    for module in _all_modules():
        for (_, doc_name), document in module.data.items():
            if "statement" not in document and "dynamic" not in document:
                continue
            wildcards = [a for s in _statements(module, document) for a in _actions(module, s) if WILDCARD.match(a)]
            if not wildcards:
                continue
            text = "\n".join(module.source.values())
            justified = _commented_wildcard_lines(text)
            for action in wildcards:
                assert justified.get(action, 0) > 0, (
                    f"{module.folder.relative_to(ROOT)}: data.aws_iam_policy_document.{doc_name} allows {action} "
                    "without an inline comment saying why"
                )
                justified[action] -= 1
        # jsonencode'd policies are held to the same rule.
        for file_name, text in module.source.items():
            for line in text.splitlines():
                if re.search(r'"?(Not)?Action"?\s*=', line) and re.search(r'"(\*|[A-Za-z0-9-]+:\*)"', line):
                    assert "#" in line, f"{file_name}: {line.strip()}"


def test_the_sentinel_policies_hold_where_the_source_shows_it():
    for name in DEPLOYS:
        module = _module(name)
        mapped = {
            _expr(module.attr(m, "function_name")) for m in module.of_type("aws_lambda_event_source_mapping").values()
        }
        redriven = {
            re.search(r"aws_sqs_queue\.(\w+)", str(module.attr(r, "queue_url"))).group(1)
            for r in module.of_type("aws_sqs_queue_redrive_policy").values()
        }
        for resource_name, body in module.of_type("aws_lambda_function").items():
            where = f"{name}: aws_lambda_function.{resource_name}"
            assert "reserved_concurrent_executions" in body, f"{where}: unbounded concurrency"
            assert module.attr(module.attr(body, "tracing_config"), "mode") == "Active", where
            by_mapping = f"aws_lambda_function.{resource_name}.function_name" in mapped
            assert "dead_letter_config" in body or by_mapping, f"{where}: nowhere for failures to go"
        for mapping_name, mapping in module.of_type("aws_lambda_event_source_mapping").items():
            queue = re.search(r"aws_sqs_queue\.(\w+)\.arn", str(module.attr(mapping, "event_source_arn"))).group(1)
            assert queue == mapping_name, "name the mapping like its queue (the Sentinel policy pairs them by slot)"
            assert queue in redriven, f"{name}: the queue {queue} feeding a function has no redrive policy"
            assert module.attr(mapping, "function_response_types") == ["ReportBatchItemFailures"]
        for queue_name, queue in module.of_type("aws_sqs_queue").items():
            assert "kms_master_key_id" in queue, f"{name}: aws_sqs_queue.{queue_name} is not encrypted with KMS"
        for machine in module.of_type("aws_sfn_state_machine").values():
            logging = module.attr(machine, "logging_configuration")
            assert module.attr(logging, "include_execution_data") is True
            assert "log_destination" in logging
            assert module.attr(module.attr(machine, "tracing_configuration"), "enabled") is True
            level = _expr(module.attr(logging, "level"))
            assert level == "var.state_machine_log_level"
            assert 'contains(["ALL", "ERROR"], var.state_machine_log_level)' in module.source["variables.tf"]
        for (rtype, resource_name), body in module.resources.items():
            if rtype in TAGGABLE:
                assert _expr(module.attr(body, "tags")) == "var.tags", f"{name}: {rtype}.{resource_name} is untagged"
        assert re.search(r'for k in \["project", "owner", "environment"\]', module.source["variables.tf"])


def test_the_example_root_wires_the_modules_and_reads_the_manifest():
    root = Module(INFRA / "envs" / "example")
    calls = {name for doc in root.files.values() for block in doc.get("module", []) for name in block}
    assert calls >= {"response", "approvals", "notifications", "dashboards"}
    text = "\n".join(root.source.values())
    assert "jsondecode(file(local.manifest_path))" in text and "fileexists(local.manifest_path)" in text
    assert "make package" in text
    for lambda_dir in DEPLOYS.values():  # zips (and their layers) by lambda_names, images by image_functions
        assert lambda_dir in str(root.locals["lambda_names"]) + str(root.locals.get("image_functions", ""))


# Detail types AWS services emit that our rules match (the service named by the rule's source).
AWS_DETAIL_TYPES = {"aws.s3": {"Object Created"}, "aws.glue": {"Glue Job State Change"}, "aws.ce": {CAD_DETAIL_TYPE}}


def _pattern_values(module: Module, pattern: str, field: str) -> list[str]:
    """The values an event rule's pattern (its ``jsonencode({...})`` as parsed) lists for ``field``, locals
    resolved."""
    listed = re.search(rf"""['"]{field}['"]\s*[:=]\s*\[([^\]]*)\]""", pattern)
    assert listed, f"an event pattern without {field}: {pattern}"
    values = re.findall(r"""['"]([^'"]+)['"]""", listed.group(1))
    return [module.locals[m.group(1)] if (m := re.fullmatch(r"\$\{local\.(\w+)\}", v)) else v for v in values]


def test_the_event_rules_match_what_the_code_puts_on_the_bus():
    """Every EventBridge rule in Terraform matches either our events (contracts.events: our source and one of
    our detail types) or what the AWS service it names emits, and each of our detail types has a rule: a
    detail type renamed on one side only would leave a rule that never fires."""
    matched: set[str] = set()
    for module in _all_modules():
        for name, body in module.of_type("aws_cloudwatch_event_rule").items():
            pattern = module.attr(body, "event_pattern")
            if pattern is None:  # a schedule
                continue
            (source,) = _pattern_values(module, pattern, "source")
            types = _pattern_values(module, pattern, "detail-type")
            expected = set(DETAIL_TYPES) if source == EVENT_SOURCE else AWS_DETAIL_TYPES.get(source, set())
            assert set(types) <= expected, f"{module.folder.name}: aws_cloudwatch_event_rule.{name}: {source} {types}"
            matched |= set(types) if source == EVENT_SOURCE else set()
    assert matched == set(DETAIL_TYPES)
    # The training state machine puts "Model Trained" with the source and detail type of the ml module's locals.
    local = _module("ml").locals
    assert local["model_event_source"] == EVENT_SOURCE and local["model_event_detail_type"] == MODEL_TRAINED
