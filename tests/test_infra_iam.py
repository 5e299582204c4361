"""Every AWS API a deployed Lambda function's code calls is allowed by that function's role, and no role allows
more than its functions call (offline: no AWS, no terraform binary).

**What the code needs** is derived statically, per deployed function (``handler.<fn>`` of the
``lambdas/<dir>/handler.py`` each module deploys, ``test_infra_wiring.DEPLOYS``), by an abstract interpretation
of the handler and of the library code it reaches (``Deriver``): from the handler function, calls are followed
into ``egress_optimizer`` (functions, methods, classmethods, properties, constructors, ``functools.partial``,
callbacks handed to code outside the library), with the values that matter tracked through variables, arguments,
returns, instance attributes, tuples and containers (with constant keys):

- boto3 clients and resources: ``boto3.client("svc")``, ``boto3.resource("dynamodb").Table(...)`` (and
  ``.meta.client``), ``boto3.Session()`` / ``Session(...)`` and their ``.client(name)`` (the service name may
  arrive as an argument, e.g. ``Clients.for_service("s3")``), clients passed as arguments, stored on instances or
  cached in dicts; an operation called on one becomes an IAM action through botocore's service model
  (``xform_name`` of each operation, the IAM prefix from ``signingName`` / ``endpointPrefix``), paginators
  (``get_paginator("x").paginate``), waiters and the documented ``OPERATION_ACTIONS`` where IAM names the action
  differently (S3 above all) or authorises more than one (``CopyObject``, ``PutBucketReplication``'s
  ``iam:PassRole``, tags given at creation, a Bedrock guardrail);
- pyarrow's S3 filesystem (``S3FileSystem``, ``FileSystem.from_uri``): each filesystem method's S3 requests, as
  measured against moto (``FILESYSTEM_ACTIONS``), and datasets / Parquet read or written through it; a branch
  under ``isinstance(fs, pafs.LocalFileSystem)`` is the local filesystem's;
- code outside the library that calls AWS itself (``EXTERNAL_CALLS``): awswrangler's Glue catalogue calls,
  Powertools idempotency (DynamoDB) and parameters;
- branches on constant arguments are followed as taken (``Lake.open(uri, create=False)`` does not write).

Where the analysis cannot see a call (a receiver it knows nothing of), a call whose method name is an operation of
a service the code uses is reported as unresolved, and must be explained by an entry of ``MANIFEST`` (with the
actions it needs and a one-line reason) anchored to the function that makes it; an entry whose anchor no longer
exists, no longer says what it explains, or is reached by no deployed handler, fails as stale.

**What each role allows** is read from the modules' HCL (``tests/infra_hcl.py``): the function's ``role``, the
``aws_iam_role_policy`` / ``aws_iam_role_policy_attachment`` / inline and managed policies on it, their policy
documents (statements, ``source_policy_documents``, locals), over every configuration of the module (a
statement some configuration attaches counts). Allow statements only; Deny statements are ignored, and so are
resources and conditions (this checks actions, not their scope).

**Both directions, per function**: every derived action is granted (wildcards in the role count), and so are the
runtime actions its configuration requires (its logs, traces, event source, dead-letter queue); and every action
its role grants is derived for some function running as that role, or is a runtime action its configuration
explains (``runtime_actions``: logs, X-Ray, its event source and dead-letter queue, KMS for SSE-KMS resources,
network interfaces in a VPC). The remediation role (apply, verify, rollback) is excluded (``EXCLUDED_ROLES``):
``test_infra_wiring`` holds it to the remediation catalogue's ``iam_actions``, the union of what the catalogue's
actions may do, which is the right bound for a role whose calls depend on which action an approval names.

Known gaps between a role and its code are ``KNOWN_GAPS`` (strict xfail, the exact lists): they are the
Terraform's to fix, not this test's.

Guards against a deriver that went blind: every deployed function derives something unless ``CALLS_NO_AWS`` says
why not; a synthetic snippet with known calls derives exactly them; the IAM tables name operations botocore and
methods pyarrow have; and the remediation catalogue's code calls only what the catalogue's ``iam_actions`` declare.

What the analysis cannot see: calls made through ``getattr`` or a name computed at run time, services named by a
non-constant string, AWS calls inside third-party code not in ``EXTERNAL_CALLS``, and resource scoping (an
action granted on the wrong ARN passes).
"""

from __future__ import annotations

import ast
import builtins
import fnmatch
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import pytest

pytest.importorskip("hcl2", reason="python-hcl2 (bc-python-hcl2) is not installed in this environment")

from tests import infra_hcl
from tests.test_infra_wiring import DEPLOYS

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
LIBRARY = "egress_optimizer"

# ---- IAM: operations to actions --------------------------------------------------------------------------------------
# The IAM prefix of a service whose signing name (or endpoint prefix) is not its IAM prefix.
IAM_PREFIX = {"tagging": "tag", "monitoring": "cloudwatch", "email": "ses", "runtime.sagemaker": "sagemaker"}
# (service, operation) -> the IAM actions that authorise it, where that is not "<prefix>:<operation>".
OPERATION_ACTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("s3", "ListObjects"): ("s3:ListBucket",),
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    ("s3", "ListObjectVersions"): ("s3:ListBucketVersions",),
    ("s3", "ListBuckets"): ("s3:ListAllMyBuckets",),
    ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "GetObjectAttributes"): ("s3:GetObject", "s3:GetObjectAttributes"),
    ("s3", "SelectObjectContent"): ("s3:GetObject",),
    ("s3", "CopyObject"): ("s3:GetObject", "s3:PutObject"),  # reads the source, writes the copy
    ("s3", "UploadPartCopy"): ("s3:GetObject", "s3:PutObject"),
    ("s3", "CreateMultipartUpload"): ("s3:PutObject",),
    ("s3", "UploadPart"): ("s3:PutObject",),
    ("s3", "CompleteMultipartUpload"): ("s3:PutObject",),
    ("s3", "ListMultipartUploads"): ("s3:ListBucketMultipartUploads",),
    ("s3", "ListParts"): ("s3:ListMultipartUploadParts",),
    ("s3", "DeleteObjects"): ("s3:DeleteObject",),
    ("s3", "GetPublicAccessBlock"): ("s3:GetBucketPublicAccessBlock",),
    ("s3", "PutPublicAccessBlock"): ("s3:PutBucketPublicAccessBlock",),
    ("s3", "DeletePublicAccessBlock"): ("s3:PutBucketPublicAccessBlock",),
    ("s3", "GetBucketReplication"): ("s3:GetReplicationConfiguration",),
    ("s3", "PutBucketReplication"): ("s3:PutReplicationConfiguration", "iam:PassRole"),  # hands S3 its role
    ("s3", "DeleteBucketReplication"): ("s3:PutReplicationConfiguration",),
    ("s3", "GetBucketLifecycleConfiguration"): ("s3:GetLifecycleConfiguration",),
    ("s3", "PutBucketLifecycleConfiguration"): ("s3:PutLifecycleConfiguration",),
    ("s3", "DeleteBucketLifecycle"): ("s3:PutLifecycleConfiguration",),
    ("s3", "GetBucketNotificationConfiguration"): ("s3:GetBucketNotification",),
    ("s3", "PutBucketNotificationConfiguration"): ("s3:PutBucketNotification",),
    ("s3", "GetBucketEncryption"): ("s3:GetEncryptionConfiguration",),
    ("s3", "PutBucketEncryption"): ("s3:PutEncryptionConfiguration",),
    ("s3", "DeleteBucketEncryption"): ("s3:PutEncryptionConfiguration",),
    ("s3", "GetBucketCors"): ("s3:GetBucketCORS",),
    ("s3", "PutBucketCors"): ("s3:PutBucketCORS",),
    ("s3", "DeleteBucketCors"): ("s3:PutBucketCORS",),
    ("s3", "DeleteBucketTagging"): ("s3:PutBucketTagging",),
    ("bedrock-runtime", "Converse"): ("bedrock:InvokeModel",),
    ("bedrock-runtime", "ConverseStream"): ("bedrock:InvokeModelWithResponseStream",),
    ("lambda", "Invoke"): ("lambda:InvokeFunction",),
    ("lambda", "InvokeWithResponseStream"): ("lambda:InvokeFunction",),
    ("sts", "GetCallerIdentity"): (),  # needs no permission
}
# Request parameters that are authorised as an action of their own.
PARAMETER_ACTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("bedrock-runtime", "guardrailConfig"): ("bedrock:ApplyGuardrail",),  # Converse through a guardrail
    ("ec2", "TagSpecifications"): ("ec2:CreateTags",),  # tags given when creating a resource
}
# Client methods that are not operations (boto3's S3 transfer manager and friends) -> operations they make.
CLIENT_HELPERS: dict[tuple[str, str], tuple[str, ...]] = {
    ("s3", "upload_file"): ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"),
    ("s3", "upload_fileobj"): ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"),
    ("s3", "download_file"): ("HeadObject", "GetObject"),
    ("s3", "download_fileobj"): ("HeadObject", "GetObject"),
    ("s3", "copy"): ("HeadObject", "CopyObject", "UploadPartCopy"),
    ("dynamodb", "batch_writer"): ("BatchWriteItem",),  # a Table resource's batch writer
}
CLIENT_NON_OPERATIONS = {"can_paginate", "close", "get_waiter", "get_paginator", "generate_presigned_url",
                         "generate_presigned_post", "exceptions", "meta", "waiter_names"}  # fmt: skip
# pyarrow.fs.S3FileSystem: the S3 requests each method makes (pyarrow 25 against moto: HEAD + a one-key
# ListObjectsV2 to tell a file from a folder, CopyObject + DeleteObject for a move, a parent marker re-put after
# a delete, HeadBucket + marker objects for create_dir, multipart uploads for output streams). No
# AbortMultipartUpload: an output stream completes its upload when closed, also when the block writing it raised,
# pyarrow's Python API has no abort, and Lake's PartWriter.abort closes and then deletes.
FILESYSTEM_ACTIONS: dict[str, tuple[str, ...]] = {
    "get_file_info": ("s3:GetObject", "s3:ListBucket"),
    "open_input_stream": ("s3:GetObject",),
    "open_input_file": ("s3:GetObject",),
    "open_output_stream": ("s3:PutObject",),
    "open_append_stream": ("s3:PutObject",),
    "create_dir": ("s3:ListBucket", "s3:PutObject"),
    "move": ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"),
    "copy_file": ("s3:GetObject", "s3:PutObject"),
    "delete_file": ("s3:GetObject", "s3:DeleteObject", "s3:PutObject"),
    "delete_dir": ("s3:GetObject", "s3:ListBucket", "s3:DeleteObject", "s3:PutObject"),
    "delete_dir_contents": ("s3:GetObject", "s3:ListBucket", "s3:DeleteObject", "s3:PutObject"),
    "normalize_path": (),
    "equals": (),
}
# Functions of libraries we do not analyse that call AWS, and what they call (their source, as installed).
EXTERNAL_CALLS: dict[str, tuple[str, ...]] = {
    # GetDatabase first (AlreadyExists unless exist_ok, when it updates a changed description), else CreateDatabase.
    "awswrangler.catalog.create_database": ("glue:GetDatabase", "glue:CreateDatabase"),
    "awswrangler.catalog.create_parquet_table": ("glue:GetTable", "glue:CreateTable", "glue:UpdateTable"),
    "awswrangler.catalog.add_parquet_partitions": ("glue:BatchCreatePartition",),
    # Powertools idempotency's DynamoDB persistence layer: get, put (conditional), update, delete the record.
    "aws_lambda_powertools.utilities.idempotency.idempotent_function": (
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
    ),
    "aws_lambda_powertools.utilities.idempotency.idempotent": (
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
    ),
    "aws_lambda_powertools.utilities.parameters.get_parameter": ("ssm:GetParameter",),
    "aws_lambda_powertools.utilities.parameters.get_parameters": ("ssm:GetParametersByPath",),
    "aws_lambda_powertools.utilities.parameters.get_secret": ("secretsmanager:GetSecretValue",),
}  # fmt: skip
# ... and what they call more when a keyword argument is not False.
EXTERNAL_FLAGS: dict[tuple[str, str], tuple[str, ...]] = {
    ("awswrangler.catalog.create_database", "exist_ok"): ("glue:UpdateDatabase",),
}
# Third-party packages whose AWS calls must be in EXTERNAL_CALLS (a call into one that is not fails the derivation).
AWS_CALLING_PACKAGES = (
    "awswrangler.catalog",
    "awswrangler.athena",
    "awswrangler.s3",
    "aws_lambda_powertools.utilities.parameters",
)
# Readers and writers of pyarrow that take a ``filesystem``: what they do through an S3 one.
ARROW_IO: dict[str, tuple[str, ...]] = {
    "pyarrow.dataset.dataset": ("s3:GetObject",),
    "pyarrow.parquet.read_table": ("s3:GetObject",),
    "pyarrow.parquet.ParquetFile": ("s3:GetObject",),
    "pyarrow.parquet.ParquetDataset": ("s3:GetObject", "s3:ListBucket"),
    "pyarrow.parquet.write_table": ("s3:PutObject",),
    "pyarrow.parquet.write_to_dataset": ("s3:PutObject", "s3:ListBucket"),
    "pyarrow.dataset.write_dataset": ("s3:PutObject", "s3:ListBucket"),
}
ALIASES = {"boto3.session.Session": "boto3.Session", "boto3.session.Session.client": "boto3.Session.client"}


@cache
def _botocore() -> Any:
    import botocore.session

    return botocore.session.get_session()


@cache
def service_operations(service: str) -> dict[str, str]:
    """A service's client method names -> operation names."""
    from botocore import xform_name

    return {xform_name(op): op for op in _botocore().get_service_model(service).operation_names}


@cache
def iam_prefix(service: str) -> str:
    meta = _botocore().get_service_model(service).metadata
    name = meta.get("signingName") or meta["endpointPrefix"]
    return IAM_PREFIX.get(name, name)


def iam_actions(service: str, operation: str) -> tuple[str, ...]:
    return OPERATION_ACTIONS.get((service, operation), (f"{iam_prefix(service)}:{operation}",))


@cache
def paginated_operation(service: str, name: str) -> str | None:
    from botocore import xform_name

    try:
        config = _botocore().get_paginator_model(service)._paginator_config
    except Exception:
        return None
    return next((op for op in config if xform_name(op) == name), None)


@cache
def waiter_operation(service: str, name: str) -> str | None:
    from botocore import xform_name

    try:
        model = _botocore().get_waiter_model(service)
    except Exception:
        return None
    waiter = next((w for w in model.waiter_names if xform_name(w) == name), None)
    return model.get_waiter(waiter).operation if waiter else None


@cache
def resource_model(service: str) -> dict:
    import boto3

    loader = boto3.session.Session()._loader
    api = loader.determine_latest_version(service, "resources-1")
    return loader.load_service_model(service, "resources-1", api)


class DeriverError(AssertionError):
    """The code does something the deriver does not understand (teach it), or calls what AWS does not have."""


# ---- abstract values ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Const:
    value: Any


@dataclass(frozen=True)
class Client:
    service: str


@dataclass(frozen=True)
class Resource:
    """A boto3 resource: the service resource (``kind`` None) or a sub-resource such as a DynamoDB Table."""

    service: str
    kind: str | None = None


@dataclass(frozen=True)
class ResourceMeta:
    service: str


@dataclass(frozen=True)
class Session:
    pass


@dataclass(frozen=True)
class Pager:
    service: str
    operation: str


@dataclass(frozen=True)
class FileSystem:
    s3: bool


@dataclass(frozen=True)
class Instance:
    cls: str


@dataclass(frozen=True)
class Class:
    cls: str


@dataclass(frozen=True)
class Function:
    key: str
    bound: Any = None
    partial: tuple[frozenset, ...] = ()  # the arguments functools.partial bound, one set of values each


@dataclass(frozen=True)
class Module:
    name: str


@dataclass(frozen=True)
class External:
    name: str


@dataclass(frozen=True)
class Alias:
    """``from module import name``, resolved when used (modules import each other)."""

    module: str
    name: str


@dataclass(frozen=True)
class Bound:
    """A method of a client, resource, session, filesystem, paginator or container, not yet called."""

    receiver: Any
    method: str


@dataclass(frozen=True)
class Tuple:
    items: tuple[frozenset, ...]


@dataclass(frozen=True)
class Box:
    """A list, set or dict literal: its elements (values), and a dict's constant keys."""

    items: frozenset
    keys: frozenset = frozenset()


@dataclass(frozen=True)
class Opaque:
    """A value the analysis knows nothing of (a string computed at run time, what an unknown call returned)."""


OPAQUE = Opaque()
EMPTY: frozenset = frozenset()
UNKNOWN: frozenset = frozenset({OPAQUE})
HANDLED_KINDS = (Client, Resource, Session, Pager, FileSystem, Instance, Class, Function, Module, External, Box)


@dataclass(frozen=True)
class Effect:
    action: str
    site: str  # file:line of the call
    call: str  # what was called


@dataclass
class ClassInfo:
    key: str
    module: str
    node: ast.ClassDef
    bases: list[ast.expr]
    methods: dict[str, ast.FunctionDef]
    kinds: dict[str, str]  # method -> function | staticmethod | classmethod | property
    fields: list[str]  # annotated class-level names, in order (dataclass / pydantic fields)
    annotations: dict[str, ast.expr]
    assigned: dict[str, ast.expr]


@dataclass
class FunctionInfo:
    key: str
    module: str
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
    cls: str | None = None
    kind: str = "function"
    closure: Frame | None = None


_FRAMES = itertools.count()


@dataclass
class Frame:
    module: str
    vars: dict[str, set] = field(default_factory=dict)
    parent: Frame | None = None
    cls: str | None = None
    function: str | None = None
    global_names: set[str] = field(default_factory=set)
    overlays: list[dict[str, frozenset]] = field(default_factory=list)
    returns: set = field(default_factory=set)
    uid: int = field(default_factory=lambda: next(_FRAMES))


@dataclass
class Derivation:
    """What one deployed function's code calls."""

    effects: set[Effect]
    reached: set[str]  # the library functions analysed (module.qualname)
    unresolved: set[tuple[str, str, str]]  # (site, method, module.function): receivers it knows nothing of
    services: set[str]

    def actions(self) -> dict[str, list[str]]:
        out: dict[str, set[str]] = {}
        for e in self.effects:
            out.setdefault(e.action, set()).add(f"{e.site} ({e.call})")
        return {a: sorted(s) for a, s in sorted(out.items())}


# ---- the source ----------------------------------------------------------------------------------------------
@cache
def _module_path(name: str) -> Path | None:
    if name.startswith("lambdas."):
        path = ROOT / Path(*name.split("."))
        return path.with_suffix(".py") if path.with_suffix(".py").exists() else None
    if name.split(".")[0] != LIBRARY:
        return None
    base = SRC / Path(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.exists():
            return candidate
    return None


@cache
def _tree(name: str) -> ast.Module:
    path = _module_path(name)
    assert path is not None, name
    return ast.parse(path.read_text(), filename=str(path))


@cache
def _parse_source(text: str, name: str) -> ast.Module:
    return ast.parse(text, filename=name)


@cache
def _rel(module: str) -> str:
    path = _module_path(module)
    return path.relative_to(ROOT).as_posix() if path else module


def _decorator_names(node: ast.AST) -> list[str]:
    return [ast.unparse(d.func if isinstance(d, ast.Call) else d) for d in getattr(node, "decorator_list", [])]


def _method_kind(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    names = {n.rsplit(".", 1)[-1] for n in _decorator_names(node)}
    for kind in ("staticmethod", "classmethod", "property", "cached_property"):
        if kind in names:
            return "property" if kind == "cached_property" else kind
    return "function"


@cache
def _has_loop(node: ast.AST) -> bool:
    return any(isinstance(n, ast.For | ast.AsyncFor | ast.While) for n in ast.walk(node))


STRING_CONTEXT = 64  # constant strings longer than this are text, not names: they do not distinguish contexts


def _keep(av: Any) -> bool:
    if isinstance(av, Const):
        v = av.value
        return v is None or isinstance(v, bool) or (isinstance(v, str) and len(v) <= STRING_CONTEXT)
    return not isinstance(av, Alias)


# ---- the deriver -----------------------------------------------------------------------------------------------
class Deriver:
    """The library as one entry point (a handler function) reaches it. Instance attributes, containers kept in
    attributes or globals and module globals are shared by every call; the analysis runs again until they stop
    growing (a fixpoint)."""

    ROUNDS = 6

    def __init__(self, sources: dict[str, str] | None = None) -> None:
        self.sources = sources or {}  # module name -> source text, for modules that are not files (the self-test)
        self.classes: dict[str, ClassInfo] = {}
        self.functions: dict[str, FunctionInfo] = {}
        self.globals: dict[str, dict[str, set]] = {}
        self.attrs: dict[tuple[str, str], set] = {}
        self.global_writes: dict[tuple[str, str], set] = {}  # module globals assigned from functions
        self.elems: dict[tuple, dict[Any, set]] = {}
        self.memo: dict[tuple, frozenset] = {}
        self.active: set[tuple] = set()
        self.effects: set[Effect] = set()
        self.reached: set[str] = set()
        self.unresolved: set[tuple[str, str, str]] = set()
        self.services: set[str] = set()
        self.rounds = 0
        self._version = 0
        self._mro: dict[str, list[str]] = {}

    # -- entry points
    def derive_handler(self, lambda_dir: str, function: str) -> Derivation:
        module = f"lambdas.{lambda_dir}.handler"
        return self.derive(module, function)

    def derive(self, module: str, function: str) -> Derivation:
        before = -1
        for _ in range(self.ROUNDS):
            self.rounds += 1
            self.memo.clear()
            self.globals.clear()
            self._mro.clear()
            fn = self.lookup_global(module, function)
            funcs = [f for f in fn if isinstance(f, Function)]
            if not funcs:
                raise DeriverError(f"{self.rel(module)} has no function {function}")
            for f in funcs:
                self.call_function(f, [], {}, f"{self.rel(module)}:entry")
            if self._version == before:
                return Derivation(set(self.effects), set(self.reached), set(self.unresolved), set(self.services))
            before = self._version
        raise DeriverError(f"{module}.{function}: the analysis found no fixpoint in {self.ROUNDS} rounds")

    def _grow(self, store: set, values: Iterable) -> None:
        n = len(store)
        store.update(values)
        if len(store) != n:
            self._version += 1

    # -- modules
    def has_module(self, name: str) -> bool:
        return name in self.sources or _module_path(name) is not None

    def tree(self, name: str) -> ast.Module:
        if name in self.sources:
            return _parse_source(self.sources[name], name)
        return _tree(name)

    def rel(self, module: str) -> str:
        return module if module in self.sources else _rel(module)

    def module_globals(self, module: str) -> dict[str, set]:
        if module in self.globals:
            return self.globals[module]
        env: dict[str, set] = {}
        self.globals[module] = env
        self.block(self.tree(module).body, Frame(module, env))
        for (m, name), values in self.global_writes.items():
            if m == module:
                env.setdefault(name, set()).update(values)
        return env

    def write_global(self, module: str, name: str, values: Iterable) -> None:
        values = set(values)
        self._grow(self.global_writes.setdefault((module, name), set()), values)
        self.module_globals(module).setdefault(name, set()).update(values)

    def lookup_global(self, module: str, name: str) -> frozenset:
        env = self.module_globals(module)
        return self.resolve(env.get(name, set()))

    def resolve(self, avs: Iterable) -> frozenset:
        out = set()
        for av in avs:
            if isinstance(av, Alias):
                if self.has_module(f"{av.module}.{av.name}"):
                    out.add(Module(f"{av.module}.{av.name}"))
                elif self.has_module(av.module):
                    out |= self.lookup_global(av.module, av.name)
            else:
                out.add(av)
        return frozenset(out)

    def import_value(self, name: str) -> Any:
        return Module(name) if self.has_module(name) else External(name)

    # -- statements
    def block(self, stmts: list[ast.stmt], frame: Frame) -> None:
        for s in stmts:
            self.stmt(s, frame)

    def stmt(self, s: ast.stmt, frame: Frame) -> None:
        if isinstance(s, ast.Assign):
            value = self.eval(s.value, frame)
            for t in s.targets:
                self.bind(t, value, frame)
        elif isinstance(s, ast.AnnAssign):
            if s.value is not None:
                self.bind(s.target, self.eval(s.value, frame), frame)
        elif isinstance(s, ast.AugAssign):
            value = (
                self.eval(s.value, frame) | self.eval(s.target, frame)
                if isinstance(s.target, ast.Name)
                else self.eval(s.value, frame)
            )
            self.bind(s.target, value, frame)
        elif isinstance(s, ast.Expr):
            self.eval(s.value, frame)
        elif isinstance(s, ast.Return):
            if s.value is not None:
                frame.returns |= self.eval(s.value, frame)
        elif isinstance(s, ast.If):
            self.eval(s.test, frame)
            truth = self.truth(s.test, frame)
            yes, no = self.narrowing(s.test, frame)
            if truth is not False:
                with _overlay(frame, yes):
                    self.block(s.body, frame)
            if truth is not True:
                with _overlay(frame, no):
                    self.block(s.orelse, frame)
        elif isinstance(s, ast.For | ast.AsyncFor):
            self.bind(s.target, self.elements(s.iter, frame), frame)
            self.block(s.body, frame)
            self.block(s.orelse, frame)
        elif isinstance(s, ast.While):
            self.eval(s.test, frame)
            self.block(s.body, frame)
            self.block(s.orelse, frame)
        elif isinstance(s, ast.With | ast.AsyncWith):
            for item in s.items:
                value = self.eval(item.context_expr, frame)
                if item.optional_vars is not None:
                    self.bind(item.optional_vars, value, frame)
            self.block(s.body, frame)
        elif isinstance(s, ast.Try | ast.TryStar):
            self.block(s.body, frame)
            for h in s.handlers:
                if h.type is not None:
                    self.eval(h.type, frame)
                self.block(h.body, frame)
            self.block(s.orelse, frame)
            self.block(s.finalbody, frame)
        elif isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef):
            for d in s.decorator_list:
                self.eval(d, frame)
            key = self.define_function(s, frame)
            self.bind_name(s.name, {Function(key)}, frame)
        elif isinstance(s, ast.ClassDef):
            if frame.function is None and frame.parent is None:
                for d in s.decorator_list:
                    self.eval(d, frame)
                key = self.define_class(s, frame.module)
                self.bind_name(s.name, {Class(key)}, frame)
                for d in s.decorator_list:  # a registering decorator is called with the class
                    for callee in self.eval(d, frame):
                        if isinstance(callee, Function):
                            self.call_function(callee, [frozenset({Class(key)})], {}, self.site(frame, s))
        elif isinstance(s, ast.Import):
            for a in s.names:
                if a.asname:
                    self.bind_name(a.asname, {self.import_value(a.name)}, frame)
                else:
                    top = a.name.split(".")[0]
                    self.bind_name(top, {self.import_value(top)}, frame)
        elif isinstance(s, ast.ImportFrom):
            if s.level:
                raise DeriverError(f"{self.rel(frame.module)}:{s.lineno}: a relative import: teach the deriver")
            for a in s.names:
                if a.name == "*":
                    continue
                full = f"{s.module}.{a.name}"
                if self.has_module(s.module or ""):
                    value: Any = Alias(s.module or "", a.name)
                else:
                    value = External(full)
                self.bind_name(a.asname or a.name, {value}, frame)
        elif isinstance(s, ast.Global | ast.Nonlocal):
            frame.global_names.update(s.names if isinstance(s, ast.Global) else [])
        elif isinstance(s, ast.Raise):
            if s.exc is not None:
                self.eval(s.exc, frame)
        elif isinstance(s, ast.Assert):
            self.eval(s.test, frame)
        elif isinstance(s, ast.Match):
            self.eval(s.subject, frame)
            for case in s.cases:
                self.block(case.body, frame)

    def define_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, frame: Frame) -> str:
        nested = frame.function is not None or frame.parent is not None
        name = node.name if not isinstance(node, ast.Lambda) else f"<lambda>@{node.lineno}"
        if nested:
            key = f"{frame.module}.{frame.function or '?'}.<locals>.{name}@{node.lineno}"
        else:
            key = f"{frame.module}.{name}"
        self.functions[key] = FunctionInfo(key, frame.module, node, closure=frame if nested else None)
        return key

    def define_class(self, node: ast.ClassDef, module: str) -> str:
        key = f"{module}.{node.name}"
        methods, kinds, fields, annotations, assigned = {}, {}, [], {}, {}
        for item in node.body:
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                methods[item.name] = item
                kinds[item.name] = _method_kind(item)
                fkey = f"{key}.{item.name}"
                self.functions[fkey] = FunctionInfo(fkey, module, item, cls=key, kind=kinds[item.name])
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                if "ClassVar" not in ast.unparse(item.annotation):
                    fields.append(item.target.id)
                annotations[item.target.id] = item.annotation
                if item.value is not None:
                    assigned[item.target.id] = item.value
            elif isinstance(item, ast.Assign):
                for t in item.targets:
                    if isinstance(t, ast.Name):
                        assigned[t.id] = item.value
        self.classes[key] = ClassInfo(key, module, node, node.bases, methods, kinds, fields, annotations, assigned)
        return key

    # -- binding
    def bind_name(self, name: str, value: Iterable, frame: Frame) -> None:
        if name in frame.global_names:
            self.write_global(frame.module, name, value)
        else:
            frame.vars.setdefault(name, set()).update(value)

    def bind(self, target: ast.expr, value: frozenset | set, frame: Frame) -> None:
        if isinstance(target, ast.Name):
            self.bind_name(target.id, value, frame)
        elif isinstance(target, ast.Tuple | ast.List):
            n = len(target.elts)
            for i, t in enumerate(target.elts):
                if isinstance(t, ast.Starred):
                    self.bind(t.value, {Box(frozenset(self.items_of(value)))}, frame)
                    continue
                part = set()
                for av in value:
                    if isinstance(av, Tuple) and len(av.items) == n:
                        part |= av.items[i]
                    elif not isinstance(av, Const):
                        part |= self.items_of({av})
                self.bind(t, part, frame)
        elif isinstance(target, ast.Attribute):
            for base in self.eval(target.value, frame):
                if isinstance(base, Instance):
                    self._grow(self.attrs.setdefault((base.cls, target.attr), set()), value)
                elif isinstance(base, Module):
                    self.write_global(base.name, target.attr, value)
        elif isinstance(target, ast.Subscript):
            keys = self.eval(target.slice, frame)
            self.store(target.value, keys, value, frame)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, value, frame)

    def locations(self, node: ast.expr, frame: Frame) -> list[tuple]:
        if isinstance(node, ast.Name):
            f: Frame | None = frame
            while f is not None:
                if node.id in f.vars and node.id not in f.global_names:
                    return [("local", f.uid, node.id)]
                f = f.parent
            return [self.global_location(frame.module, node.id)]
        if isinstance(node, ast.Attribute):
            out = []
            for base in self.eval(node.value, frame):
                if isinstance(base, Instance):
                    out.append(("attr", base.cls, node.attr))
                elif isinstance(base, Module):
                    out.append(("global", base.name, node.attr))
            return out
        return []

    def global_location(self, module: str, name: str) -> tuple:
        """Where a module-level name lives: its own module, or the one it was imported from."""
        for _ in range(10):
            aliases = [a for a in self.module_globals(module).get(name, ()) if isinstance(a, Alias)]
            if not aliases or not self.has_module(aliases[0].module):
                break
            module, name = aliases[0].module, aliases[0].name
        return ("global", module, name)

    def store(self, container: ast.expr, keys: Iterable, value: Iterable, frame: Frame) -> None:
        consts = [k.value for k in keys if isinstance(k, Const)]
        key = consts[0] if len(consts) == 1 else None
        for loc in self.locations(container, frame):
            slot = self.elems.setdefault(loc, {}).setdefault(key, set())
            if loc[0] == "local":  # a function's own variable: settled within the function's analysis
                slot.update(value)
            else:
                self._grow(slot, value)

    def stored(self, container: ast.expr, keys: Iterable | None, frame: Frame) -> set:
        consts = [k.value for k in keys if isinstance(k, Const)] if keys is not None else []
        out: set = set()
        for loc in self.locations(container, frame):
            slots = self.elems.get(loc, {})
            if len(consts) == 1:
                out |= slots.get(consts[0], set()) | slots.get(None, set())
            else:
                for v in slots.values():
                    out |= v
        return out

    def items_of(self, avs: Iterable) -> set:
        out: set = set()
        for av in avs:
            if isinstance(av, Box):
                out |= av.items
            elif isinstance(av, Tuple):
                for item in av.items:
                    out |= item
        return out

    def elements(self, node: ast.expr, frame: Frame, keys: Iterable | None = None) -> set:
        """What iterating or indexing ``node`` gives."""
        value = self.eval(node, frame)
        out = self.items_of(value) | self.stored(node, keys, frame)
        calls = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        if calls and node.func.attr in ("items", "values"):  # d.items() / d.values() of a stored container
            out |= self.stored(node.func.value, None, frame)
        return out

    # -- conditions
    def truth(self, test: ast.expr, frame: Frame) -> bool | None:
        if isinstance(test, ast.Constant):
            return bool(test.value)
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            t = self.truth(test.operand, frame)
            return None if t is None else not t
        if isinstance(test, ast.BoolOp):
            values = [self.truth(v, frame) for v in test.values]
            if isinstance(test.op, ast.And):
                return False if False in values else (True if all(v is True for v in values) else None)
            return True if True in values else (False if all(v is False for v in values) else None)
        if isinstance(test, ast.Name | ast.Attribute) and ast.unparse(test) != "TYPE_CHECKING":
            avs = self.eval(test, frame)
            if avs and all(isinstance(a, Const) for a in avs):
                truths = {bool(a.value) for a in avs}
                return truths.pop() if len(truths) == 1 else None
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Is | ast.IsNot):
            left, right = self.eval(test.left, frame), self.eval(test.comparators[0], frame)
            if left and right and all(isinstance(a, Const) for a in left | right) and len(left | right) <= 2:
                same = len(left) == len(right) == 1 and left == right
                if len(left) == 1 and len(right) == 1:
                    return same if isinstance(test.ops[0], ast.Is) else not same
        fs = self._isinstance_fs(test, frame)
        if fs is not None:
            avs = [a for a in self.eval(fs[0], frame) if not isinstance(a, Const)]
            if avs and all(isinstance(a, FileSystem) for a in avs):
                matches = {a.s3 == fs[1] for a in avs}
                return matches.pop() if len(matches) == 1 else None
        return None

    def _isinstance_fs(self, test: ast.expr, frame: Frame) -> tuple[ast.expr, bool] | None:
        """``isinstance(x, pafs.S3FileSystem | LocalFileSystem)``: (x, whether the class is S3's)."""
        if not (isinstance(test, ast.Call) and ast.unparse(test.func) == "isinstance" and len(test.args) == 2):
            return None
        for cls in self.eval(test.args[1], frame):
            if isinstance(cls, External) and cls.name in ("pyarrow.fs.S3FileSystem", "pyarrow.fs.LocalFileSystem"):
                return test.args[0], cls.name.endswith("S3FileSystem")
        return None

    def narrowing(self, test: ast.expr, frame: Frame) -> tuple[dict, dict]:
        fs = self._isinstance_fs(test, frame)
        if fs is None:
            return {}, {}
        text, avs = ast.unparse(fs[0]), self.eval(fs[0], frame)
        yes = frozenset(a for a in avs if not isinstance(a, FileSystem) or a.s3 == fs[1])
        no = frozenset(a for a in avs if not isinstance(a, FileSystem) or a.s3 != fs[1])
        return {text: yes}, {text: no}

    # -- expressions
    def site(self, frame: Frame, node: ast.AST) -> str:
        return f"{self.rel(frame.module)}:{getattr(node, 'lineno', '?')}"

    def lookup(self, name: str, frame: Frame) -> frozenset:
        f: Frame | None = frame
        while f is not None:
            if name in f.vars and name not in f.global_names:
                return self.resolve(f.vars[name])
            f = f.parent
        env = self.module_globals(frame.module)
        if name in env:
            return self.resolve(env[name])
        if hasattr(builtins, name):
            return frozenset({External(f"builtins.{name}")})
        return EMPTY

    def eval(self, node: ast.expr | None, frame: Frame) -> frozenset:
        if node is None:
            return EMPTY
        if frame.overlays and isinstance(node, ast.Name | ast.Attribute):
            text = ast.unparse(node)
            for overlay in reversed(frame.overlays):
                if text in overlay:
                    return overlay[text]
        if isinstance(node, ast.Constant):
            return (
                frozenset({Const(node.value)})
                if isinstance(node.value, str | bool | int | float | type(None))
                else EMPTY
            )
        if isinstance(node, ast.Name):
            return self.lookup(node.id, frame)
        if isinstance(node, ast.Attribute):
            out: set = set()
            for base in self.eval(node.value, frame):
                out |= self.attribute(base, node.attr, frame, node)
            return frozenset(out)
        if isinstance(node, ast.Subscript):
            keys = self.eval(node.slice, frame)
            base = self.eval(node.value, frame)
            out = set()
            for av in base:
                if isinstance(av, Tuple):
                    ints = [k.value for k in keys if isinstance(k, Const) and isinstance(k.value, int)]
                    if len(ints) == 1 and -len(av.items) <= ints[0] < len(av.items):
                        out |= av.items[ints[0]]
                    else:
                        out |= self.items_of({av})
                elif isinstance(av, Box):
                    out |= av.items
            out |= self.stored(node.value, keys, frame)
            return frozenset(out) if out else UNKNOWN
        if isinstance(node, ast.Call):
            return self.call(node, frame)
        if isinstance(node, ast.BoolOp):
            out = set()
            for v in node.values:
                out |= self.eval(v, frame)
            return frozenset(out)
        if isinstance(node, ast.BinOp):
            left, right = self.eval(node.left, frame), self.eval(node.right, frame)
            boxes = [a for a in left | right if isinstance(a, Box)]
            return frozenset({Box(frozenset(self.items_of(boxes)))}) if boxes else UNKNOWN
        if isinstance(node, ast.UnaryOp):
            self.eval(node.operand, frame)
            return UNKNOWN
        if isinstance(node, ast.IfExp):
            self.eval(node.test, frame)
            truth = self.truth(node.test, frame)
            yes, no = self.narrowing(node.test, frame)
            out = set()
            if truth is not False:
                with _overlay(frame, yes):
                    out |= self.eval(node.body, frame)
            if truth is not True:
                with _overlay(frame, no):
                    out |= self.eval(node.orelse, frame)
            return frozenset(out)
        if isinstance(node, ast.Compare):
            self.eval(node.left, frame)
            for c in node.comparators:
                self.eval(c, frame)
            return UNKNOWN
        if isinstance(node, ast.Lambda):
            return frozenset({Function(self.define_function(node, frame))})
        if isinstance(node, ast.Dict):
            items, keys = set(), set()
            for k, v in zip(node.keys, node.values, strict=True):
                if k is None:
                    items |= self.items_of(self.eval(v, frame))
                    continue
                keys |= {a.value for a in self.eval(k, frame) if isinstance(a, Const)}
                items |= self.eval(v, frame)
            return frozenset({Box(frozenset(items), frozenset(keys))})
        if isinstance(node, ast.Tuple):
            return frozenset({Tuple(tuple(self.eval(e, frame) for e in node.elts))})
        if isinstance(node, ast.List | ast.Set):
            items = set()
            for e in node.elts:
                items |= self.eval(e.value, frame) if isinstance(e, ast.Starred) else self.eval(e, frame)
            return frozenset({Box(frozenset(items))})
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            inner = Frame(frame.module, parent=frame, cls=frame.cls, function=frame.function)
            for gen in node.generators:
                self.bind(gen.target, self.elements(gen.iter, inner), inner)
                for cond in gen.ifs:
                    self.eval(cond, inner)
            if isinstance(node, ast.DictComp):
                self.eval(node.key, inner)
                return frozenset({Box(self.eval(node.value, inner))})
            return frozenset({Box(self.eval(node.elt, inner))})
        if isinstance(node, ast.JoinedStr):
            for v in node.values:
                self.eval(v, frame)
            return UNKNOWN
        if isinstance(node, ast.FormattedValue):
            self.eval(node.value, frame)
            return UNKNOWN
        if isinstance(node, ast.Starred | ast.Await | ast.Yield | ast.YieldFrom):
            return self.eval(node.value, frame)
        if isinstance(node, ast.NamedExpr):
            value = self.eval(node.value, frame)
            self.bind(node.target, value, frame)
            return value
        if isinstance(node, ast.Slice):
            for part in (node.lower, node.upper, node.step):
                self.eval(part, frame)
            return EMPTY
        return EMPTY

    # -- attributes
    def mro(self, cls: str) -> list[str]:
        if cls in self._mro:
            return self._mro[cls]
        out, todo = [], [cls]
        while todo:
            c = todo.pop(0)
            if c in out or c not in self.classes:
                continue
            out.append(c)
            info = self.classes[c]
            frame = Frame(info.module)
            for base in info.bases:
                todo.extend(b.cls for b in self.eval(base, frame) if isinstance(b, Class))
        self._mro[cls] = out
        return out

    def class_attribute(self, cls: str, name: str) -> tuple[str, str] | None:
        """(class, kind) of the first class in ``cls``'s MRO defining ``name`` as a method."""
        for c in self.mro(cls):
            if name in self.classes[c].methods:
                return c, self.classes[c].kinds[name]
        return None

    def annotation_values(self, annotation: ast.expr | None, module: str) -> set:
        """Instances of the library classes an annotation names (``X``, ``X | None``, ``Optional[X]``)."""
        if annotation is None:
            return set()
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            try:
                annotation = ast.parse(annotation.value, mode="eval").body
            except SyntaxError:
                return set()
        out = set()
        if isinstance(annotation, ast.BinOp):
            return self.annotation_values(annotation.left, module) | self.annotation_values(annotation.right, module)
        if isinstance(annotation, ast.Subscript) and ast.unparse(annotation.value).endswith("Optional"):
            return self.annotation_values(annotation.slice, module)
        if isinstance(annotation, ast.Name | ast.Attribute):
            for av in self.eval(annotation, Frame(module)):
                if isinstance(av, Class):
                    out.add(Instance(av.cls))
        return out

    def attribute(self, base: Any, name: str, frame: Frame, node: ast.AST) -> set:
        if isinstance(base, Module):
            if self.has_module(f"{base.name}.{name}"):
                return {Module(f"{base.name}.{name}")}
            return set(self.lookup_global(base.name, name))
        if isinstance(base, External):
            return {External(ALIASES.get(f"{base.name}.{name}", f"{base.name}.{name}"))}
        if isinstance(base, Class):
            found = self.class_attribute(base.cls, name)
            if found:
                c, kind = found
                bound = base if kind == "classmethod" else None
                return {Function(f"{c}.{name}", bound)}
            out = set()
            for c in self.mro(base.cls):
                if name in self.classes[c].assigned:
                    out |= self.eval(self.classes[c].assigned[name], Frame(self.classes[c].module))
            return out
        if isinstance(base, Instance):
            found = self.class_attribute(base.cls, name)
            if found:
                c, kind = found
                if kind == "property":
                    return set(self.call_function(Function(f"{c}.{name}", base), [], {}, self.site(frame, node)))
                bound = {"staticmethod": None, "classmethod": Class(base.cls)}.get(kind, base)
                return {Function(f"{c}.{name}", bound)}
            out = set()
            for c in self.mro(base.cls):
                info = self.classes[c]
                out |= self.attrs.get((c, name), set())
                if name in info.assigned:
                    out |= self.eval(info.assigned[name], Frame(info.module))
                out |= self.annotation_values(info.annotations.get(name), info.module)
            return out
        if isinstance(base, Resource) and name == "meta":
            return {ResourceMeta(base.service)}
        if isinstance(base, ResourceMeta):
            return {Client(base.service)} if name == "client" else set()
        if isinstance(base, Client) and name in ("exceptions", "meta"):
            return set()
        if isinstance(base, Client | Resource | Session | Pager | FileSystem | Box):
            return {Bound(base, name)}
        return {OPAQUE}

    # -- calls
    def call(self, node: ast.Call, frame: Frame) -> frozenset:
        site = self.site(frame, node)
        receivers: frozenset | None = None
        if isinstance(node.func, ast.Attribute):
            receivers = self.eval(node.func.value, frame)
            callees: frozenset = frozenset(
                c for r in receivers for c in self.attribute(r, node.func.attr, frame, node.func)
            )
        else:
            callees = self.eval(node.func, frame)
        args = [self.eval(a.value if isinstance(a, ast.Starred) else a, frame) for a in node.args]
        kwargs = {k.arg: self.eval(k.value, frame) for k in node.keywords if k.arg}
        for k in node.keywords:
            if k.arg is None:
                self.eval(k.value, frame)
        out: set = set()
        analysed = False
        for callee in callees:
            if isinstance(callee, Function):
                analysed = True
                out |= self.call_function(callee, args, kwargs, site)
            elif isinstance(callee, Class):
                analysed = True
                out |= self.instantiate(callee.cls, args, kwargs, site)
            elif isinstance(callee, Instance):
                found = self.class_attribute(callee.cls, "__call__")
                if found:
                    analysed = True
                    out |= self.call_function(Function(f"{found[0]}.__call__", callee), args, kwargs, site)
            elif isinstance(callee, External):
                out |= self.external(callee.name, args, kwargs, node, frame)
            elif isinstance(callee, Bound):
                out |= self.bound(callee, args, kwargs, node, frame)
        # A container method on a stored container (a dict or list kept in a variable or attribute).
        container = isinstance(node.func, ast.Attribute) and node.func.attr in CONTAINER_METHODS
        if container and not any(isinstance(r, HANDLED_KINDS) and not isinstance(r, Box) for r in receivers or ()):
            out |= self.container(node.func, args, frame)
        # Functions handed to code the deriver does not analyse are assumed to be called by it.
        if not analysed and not any(isinstance(c, External) and c.name in MODELLED for c in callees):
            for avs in [*args, *kwargs.values()]:
                for f in avs:
                    if isinstance(f, Function):
                        self.call_function(f, [], {}, site)
        # A call on a receiver the analysis knows nothing of, named like an AWS operation.
        if isinstance(node.func, ast.Attribute) and not any(isinstance(r, HANDLED_KINDS) for r in receivers or ()):
            self.unresolved.add((site, node.func.attr, f"{frame.module}.{frame.function or '<module>'}"))
        self.duckdb_http(node, args, site)
        return frozenset(out) if out else UNKNOWN

    def container(self, func: ast.Attribute, args: list[frozenset], frame: Frame) -> set:
        method, receiver = func.attr, func.value
        if method in ("append", "add", "extend", "update", "insert", "setdefault"):
            values = set()
            if method in ("append", "add") and args:
                values = set(args[0])
            elif method in ("extend", "update") and args:
                values = self.items_of(args[0])
            elif (method == "insert" and len(args) > 1) or (method == "setdefault" and len(args) > 1):
                values = set(args[1])
            keys = args[0] if method == "setdefault" and args else ()
            self.store(receiver, keys, values, frame)
        keys = args[0] if method in ("get", "setdefault", "pop") and args else None
        found = self.stored(receiver, keys, frame)
        if method in ("get", "setdefault", "pop"):
            return found | (set(args[1]) if method == "get" and len(args) > 1 else set())
        if method in ("values", "items", "keys", "copy"):
            return (
                {Box(frozenset(found))} if method != "items" else {Box(frozenset({Tuple((EMPTY, frozenset(found)))}))}
            )
        return set()

    def duckdb_http(self, node: ast.Call, args: list[frozenset], site: str) -> None:
        """DuckDB reading S3 itself (httpfs) rather than through pyarrow."""
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("execute", "sql", "query"):
            texts = [a.value for avs in args for a in avs if isinstance(a, Const) and isinstance(a.value, str)]
            if any("httpfs" in t or "'s3://" in t for t in texts):
                self.emit(("s3:GetObject", "s3:ListBucket"), site, "duckdb httpfs")

    def emit(self, actions: Iterable[str], site: str, call: str) -> None:
        self.effects.update(Effect(a, site, call) for a in actions)

    def call_function(self, fn: Function, args: list[frozenset], kwargs: dict[str, frozenset], site: str) -> frozenset:
        info = self.functions.get(fn.key)
        if info is None:
            return EMPTY
        args = [*fn.partial, *args]
        node = info.node
        params = node.args
        positional = [*params.posonlyargs, *params.args]
        binding: dict[str, set] = {p.arg: set() for p in [*positional, *params.kwonlyargs]}
        if params.vararg:
            binding[params.vararg.arg] = {Box(frozenset(self.items_of(args)))}
        if params.kwarg:
            binding[params.kwarg.arg] = set()
        offset = 0
        if info.cls is not None and info.kind in ("function", "classmethod", "property") and positional:
            if fn.bound is not None:
                binding[positional[0].arg] = {fn.bound}
                offset = 1
            elif info.kind == "classmethod":
                binding[positional[0].arg] = {Class(info.cls)}
                offset = 1
        for i, value in enumerate(args):
            if i + offset < len(positional):
                binding[positional[i + offset].arg] |= value
        for name, value in kwargs.items():
            if name in binding:
                binding[name] |= value
        defaults = list(zip(positional[len(positional) - len(params.defaults) :], params.defaults, strict=True))
        defaults += [(p, d) for p, d in zip(params.kwonlyargs, params.kw_defaults, strict=True) if d is not None]
        module_frame = Frame(info.module)
        for p, d in defaults:
            if not binding[p.arg]:
                binding[p.arg] = set(self.eval(d, module_frame))
        for p in [*positional, *params.kwonlyargs]:
            if not any(isinstance(a, HANDLED_KINDS) for a in binding[p.arg]):
                binding[p.arg] |= self.annotation_values(p.annotation, info.module)
        binding = {k: {a for a in v if _keep(a)} for k, v in binding.items()}
        key = (
            fn.key,
            info.closure.uid if info.closure else None,
            tuple(sorted((k, frozenset(v)) for k, v in binding.items())),
        )
        if key in self.memo:
            return self.memo[key]
        if key in self.active:
            return EMPTY
        self.active.add(key)
        self.reached.add(fn.key.split("@", 1)[0])
        function = fn.key[len(info.module) + 1 :].split("@", 1)[0]
        frame = Frame(info.module, {k: set(v) for k, v in binding.items()}, info.closure, info.cls, function)
        try:
            if isinstance(node, ast.Lambda):
                frame.returns |= self.eval(node.body, frame)
            else:
                self.block(node.body, frame)
                if _has_loop(node):  # a second pass: what a loop's later iterations see
                    self.block(node.body, frame)
            result = frozenset(a for a in frame.returns if not isinstance(a, Alias))
            if info.cls is None and isinstance(node, ast.FunctionDef) and not result:
                result = frozenset(self.annotation_values(node.returns, info.module))
        finally:
            self.active.discard(key)
        self.memo[key] = result
        return result

    def instantiate(self, cls: str, args: list[frozenset], kwargs: dict[str, frozenset], site: str) -> set:
        instance = Instance(cls)
        init = self.class_attribute(cls, "__init__")
        if init:
            self.call_function(Function(f"{init[0]}.__init__", instance), args, kwargs, site)
        else:
            fields = [f for c in reversed(self.mro(cls)) for f in self.classes[c].fields]
            for name, value in [*zip(fields, args, strict=False), *kwargs.items()]:
                self._grow(self.attrs.setdefault((cls, name), set()), (a for a in value if _keep(a)))
        post = self.class_attribute(cls, "__post_init__")
        if post:
            self.call_function(Function(f"{post[0]}.__post_init__", instance), [], {}, site)
        return {instance}

    # -- calls into what the deriver does not analyse
    def external(
        self, name: str, args: list[frozenset], kwargs: dict[str, frozenset], node: ast.Call, frame: Frame
    ) -> set:
        name = ALIASES.get(name, name)
        site = self.site(frame, node)
        if name == "boto3.client":
            return {Client(s) for s in self.service_names(args, kwargs, site)}
        if name == "boto3.resource":
            return {Resource(s) for s in self.service_names(args, kwargs, site)}
        if name == "boto3.Session":
            return {Session()}
        if name == "pyarrow.fs.S3FileSystem":
            return {FileSystem(True)}
        if name == "pyarrow.fs.LocalFileSystem":
            return {FileSystem(False)}
        if name == "pyarrow.fs.FileSystem.from_uri":
            return {Tuple((frozenset({FileSystem(True), FileSystem(False)}), EMPTY))}
        if name == "pyarrow.fs.SubTreeFileSystem":
            return set(args[1]) if len(args) > 1 else set(kwargs.get("base_fs", EMPTY))
        if name in ARROW_IO:
            filesystems = set(kwargs.get("filesystem", EMPTY))
            if FileSystem(True) in filesystems:
                self.emit(ARROW_IO[name], site, name)
            return set()
        if name in EXTERNAL_CALLS:
            self.emit(EXTERNAL_CALLS[name], site, name)
            for (call, flag), actions in EXTERNAL_FLAGS.items():
                if call == name and any(a.value is not False for a in kwargs.get(flag, {Const(False)})):
                    self.emit(actions, site, f"{name}({flag}=...)")
            return set()
        if name.startswith(AWS_CALLING_PACKAGES):
            raise DeriverError(f"{site}: {name} calls AWS: add what it calls to EXTERNAL_CALLS")
        if name == "functools.partial" and args:
            return {Function(f.key, f.bound, (*f.partial, *args[1:])) for f in args[0] if isinstance(f, Function)}
        if name in ("functools.cache", "functools.lru_cache", "functools.wraps", "functools.cached_property"):
            return set(args[0]) if args else set()
        if name == "builtins.super":
            if frame.cls is None:
                return set()
            bases = self.mro(frame.cls)[1:]
            return {Instance(bases[0])} if bases else set()
        if name == "builtins.getattr" and len(args) >= 2:
            out = set()
            for attr in args[1]:
                if isinstance(attr, Const) and isinstance(attr.value, str):
                    for base in args[0]:
                        out |= self.attribute(base, attr.value, frame, node)
            return out | (set(args[2]) if len(args) > 2 else set())
        if name in ELEMENTS_OF_FIRST_ARGUMENT:
            items = self.items_of(args[0]) if args else set()
            if args and node.args:
                items |= self.stored(node.args[0], None, frame)
            return items if name in ("builtins.next", "builtins.min", "builtins.max") else {Box(frozenset(items))}
        if name == "builtins.dict":
            items = self.items_of(args[0]) if args else set()
            for v in kwargs.values():
                items |= v
            return {Box(frozenset(items), frozenset(kwargs))}
        if name == "builtins.enumerate" and args:
            return {Box(frozenset({Tuple((EMPTY, frozenset(self.items_of(args[0]))))}))}
        if name == "builtins.zip":
            return {Box(frozenset({Tuple(tuple(frozenset(self.items_of(a)) for a in args))}))}
        return set()

    def service_names(self, args: list[frozenset], kwargs: dict[str, frozenset], site: str) -> set[str]:
        names = args[0] if args else kwargs.get("service_name", EMPTY)
        out = {a.value for a in names if isinstance(a, Const) and isinstance(a.value, str)}
        if not out and names:
            raise DeriverError(f"{site}: a client of a service named by {names!r}: not a constant the deriver sees")
        for s in out:
            if s not in _botocore().get_available_services():
                raise DeriverError(f"{site}: boto3 has no service {s!r}")
        self.services |= out
        return out

    def bound(self, b: Bound, args: list[frozenset], kwargs: dict[str, frozenset], node: ast.Call, frame: Frame) -> set:
        site, r, method = self.site(frame, node), b.receiver, b.method
        if isinstance(r, Session):
            if method == "client":
                return {Client(s) for s in self.service_names(args, kwargs, site)}
            if method == "resource":
                return {Resource(s) for s in self.service_names(args, kwargs, site)}
            return set()
        if isinstance(r, FileSystem):
            if method not in FILESYSTEM_ACTIONS:
                raise DeriverError(f"{site}: pyarrow filesystem method {method}: add it to FILESYSTEM_ACTIONS")
            if r.s3:
                self.emit(FILESYSTEM_ACTIONS[method], site, f"S3FileSystem.{method}")
            return set()
        if isinstance(r, Pager):
            if method in ("paginate", "wait"):
                self.emit(iam_actions(r.service, r.operation), site, f"{r.service}.{r.operation}")
            return set()
        if isinstance(r, Client):
            return self.client_call(r.service, method, args, kwargs, node, frame)
        if isinstance(r, Resource):
            return self.resource_call(r, method, args, kwargs, node, frame)
        return set()

    def parameter_actions(self, service: str, node: ast.Call, kwargs: dict, frame: Frame) -> list[str]:
        names = set(kwargs)
        for k in node.keywords:
            if k.arg is None:
                names |= {key for box in self.eval(k.value, frame) if isinstance(box, Box) for key in box.keys}
                for loc in self.locations(k.value, frame):
                    names |= {key for key in self.elems.get(loc, {}) if isinstance(key, str)}
        return [a for name in names for a in PARAMETER_ACTIONS.get((service, name), ())]

    def client_call(self, service: str, method: str, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> set:
        site = self.site(frame, node)
        operations = service_operations(service)
        if method in operations:
            op = operations[method]
            actions = [*iam_actions(service, op), *self.parameter_actions(service, node, kwargs, frame)]
            self.emit(actions, site, f"{service}.{method}")
            return set()
        if (service, method) in CLIENT_HELPERS:
            actions = [a for op in CLIENT_HELPERS[(service, method)] for a in iam_actions(service, op)]
            self.emit(actions, site, f"{service}.{method}")
            return set()
        if method in ("get_paginator", "get_waiter"):
            out = set()
            for name in args[0] if args else EMPTY:
                if not (isinstance(name, Const) and isinstance(name.value, str)):
                    continue
                find = paginated_operation if method == "get_paginator" else waiter_operation
                op = find(service, name.value)
                if op is None:
                    raise DeriverError(f"{site}: {service} has no {method[4:]} {name.value!r}")
                out.add(Pager(service, op))
            return out
        if method in ("generate_presigned_url", "generate_presigned_post"):
            target = args[0] if args else kwargs.get("ClientMethod", EMPTY)
            ops = (
                {operations.get(t.value) for t in target if isinstance(t, Const)}
                if method.endswith("url")
                else {"PutObject"}
            )
            for op in ops - {None}:
                self.emit(iam_actions(service, op), site, f"{service}.{method}")
            return set()
        if method in CLIENT_NON_OPERATIONS:
            return set()
        raise DeriverError(f"{site}: a {service} client has no method {method}")

    def resource_call(self, r: Resource, method: str, args: list, kwargs: dict, node: ast.Call, frame: Frame) -> set:
        from botocore import xform_name

        site = self.site(frame, node)
        model = resource_model(r.service)
        spec = model["service"] if r.kind is None else model["resources"][r.kind]
        if r.kind is None and method in spec.get("has", {}):
            return {Resource(r.service, spec["has"][method]["resource"]["type"])}
        for name, action in spec.get("actions", {}).items():
            if xform_name(name) == method:
                op = action["request"]["operation"]
                actions = [*iam_actions(r.service, op), *self.parameter_actions(r.service, node, kwargs, frame)]
                self.emit(actions, site, f"{r.service}.{r.kind or 'resource'}.{method}")
                return set()
        if method in ("load", "reload") and "load" in spec:
            self.emit(iam_actions(r.service, spec["load"]["request"]["operation"]), site, f"{r.kind}.{method}")
            return set()
        for name, waiter in spec.get("waiters", {}).items():
            if f"wait_until_{xform_name(name)}" == method:
                op = waiter_operation(r.service, xform_name(waiter["waiterName"]))
                self.emit(iam_actions(r.service, op or ""), site, f"{r.kind}.{method}")
                return set()
        if (r.service, method) in CLIENT_HELPERS:
            actions = [a for op in CLIENT_HELPERS[(r.service, method)] for a in iam_actions(r.service, op)]
            self.emit(actions, site, f"{r.service}.{r.kind}.{method}")
            return set()
        raise DeriverError(f"{site}: a {r.service} {r.kind or 'service resource'} has no method {method}")


# Builtins that give their first argument's elements (one, or a new collection of them).
ELEMENTS_OF_FIRST_ARGUMENT = {f"builtins.{n}" for n in ("next", "iter", "sorted", "list", "tuple", "set", "reversed",
                                                          "frozenset", "min", "max")}  # fmt: skip
# Calls into code outside the library that the deriver models itself (their function arguments are not callbacks).
MODELLED = {"functools.partial", "functools.wraps", "functools.cache", "functools.lru_cache", "builtins.getattr"}
CONTAINER_METHODS = {"get", "setdefault", "pop", "values", "items", "keys", "copy", "append", "add", "extend",
                     "update", "insert"}  # fmt: skip


class _overlay:
    def __init__(self, frame: Frame, values: dict):
        self.frame, self.values = frame, values

    def __enter__(self) -> None:
        if self.values:
            self.frame.overlays.append(self.values)

    def __exit__(self, *exc: object) -> None:
        if self.values:
            self.frame.overlays.pop()


@cache
def derive(lambda_dir: str, function: str) -> Derivation:
    return Deriver().derive_handler(lambda_dir, function)


def aws_operation_names(services: Iterable[str]) -> set[str]:
    """The client method names of these services' operations (what an unresolved call is compared with)."""
    return {name for s in services for name in service_operations(s)}


def unresolved_calls(derivation: Derivation, services: Iterable[str]) -> list[tuple[str, str, str]]:
    names = aws_operation_names(services)
    return sorted(u for u in derivation.unresolved if u[1] in names)


# ---- what the code needs that the analysis cannot see --------------------------------------------------------------
@dataclass(frozen=True)
class Need:
    """Actions a piece of code needs that the deriver cannot see, anchored to the function that needs them: the
    entry applies to every deployed function whose code reaches ``anchor`` (module.qualname), and is stale when
    the anchor is gone, no longer contains ``token`` (the call it explains), or no deployed function reaches it."""

    anchor: str
    token: str
    actions: tuple[str, ...]
    reason: str


# Empty while the deriver resolves every call the deployed code makes: an unresolved call (see
# ``test_every_call_on_an_unknown_receiver_is_explained``) asks for an entry here.
MANIFEST: tuple[Need, ...] = ()

# Deployed functions whose code calls no AWS API (anything else deriving nothing means the deriver went blind).
CALLS_NO_AWS = {
    ("respond", "normalise"): "parses the EventBridge event into an incident; reads only its own environment",
}
# Roles not compared here, and why.
EXCLUDED_ROLES = {
    ("response", "remediation"): (
        "apply, verify and rollback run whichever catalogue action the approval names: test_infra_wiring holds "
        "the role to the remediation catalogue's iam_actions (and its runtime policies to a fixed list)"
    ),
}
# Gaps between a role and its code that are the Terraform's to fix: function id -> the exact lists, e.g.
# {"ml:aws_lambda_function.detect": {"surplus": ["s3:AbortMultipartUpload"]}} (strict xfail: fixing it fails the
# entry, so it is removed then).
KNOWN_GAPS: dict[str, dict[str, list[str]]] = {}


def _anchor_source(anchor: str) -> str | None:
    """The source of ``module.qualname`` (a function or method), or None when there is no such thing."""
    parts = anchor.split(".")
    for i in range(len(parts) - 1, 0, -1):
        module, qual = ".".join(parts[:i]), parts[i:]
        if _module_path(module) is None:
            continue
        body: list[ast.stmt] = _tree(module).body
        node: ast.AST | None = None
        for name in qual:
            node = next((n for n in body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                         and n.name == name), None)  # fmt: skip
            if node is None:
                return None
            body = node.body  # type: ignore[attr-defined]
        return ast.get_source_segment(_module_path(module).read_text(), node) if node else None
    return None


def manifest_needs(derivation: Derivation, manifest: Iterable[Need] = MANIFEST) -> dict[str, list[str]]:
    """action -> the manifest entries that give it, for the entries whose anchor the derivation reached."""
    out: dict[str, list[str]] = {}
    for need in manifest:
        if need.anchor in derivation.reached:
            for a in need.actions:
                out.setdefault(a, []).append(f"MANIFEST {need.anchor}: {need.reason}")
    return out


# ---- what Lambda itself does with the role -----------------------------------------------------------------------
LOGS = ("logs:CreateLogStream", "logs:PutLogEvents")
TRACES = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
SAMPLING = ("xray:GetSamplingRules", "xray:GetSamplingTargets")
SQS_POLL = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
NETWORK_INTERFACES = ("ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
                      "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses")  # fmt: skip
SSE_KMS = ("kms:Decrypt", "kms:GenerateDataKey")
# What delivering to a target of each type needs (dead-letter queues, asynchronous invocation destinations).
DELIVERY = {
    "aws_sqs_queue": ("sqs:SendMessage",),
    "aws_sns_topic": ("sns:Publish",),
    "aws_lambda_function": ("lambda:InvokeFunction",),
    "aws_cloudwatch_event_bus": ("events:PutEvents",),
}
EVENT_SOURCES = {
    "aws_sqs_queue": (SQS_POLL, ("sqs:ChangeMessageVisibility",)),
    "aws_kinesis_stream": (("kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream",
                            "kinesis:ListShards"), ("kinesis:DescribeStreamSummary", "kinesis:SubscribeToShard")),
    "aws_dynamodb_table": (("dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream",
                            "dynamodb:ListStreams"), ()),
}  # fmt: skip


def runtime_actions(rt: infra_hcl.Runtime) -> tuple[dict[str, str], dict[str, str]]:
    """(required, allowed): the actions a function's configuration makes Lambda use with its role, and why; the
    required ones must be granted, the allowed ones may be."""
    required = {a: "Lambda writes the function's logs" for a in LOGS}
    allowed = {"logs:CreateLogGroup": "Lambda creates the function's log group when it is missing"}
    allowed |= {a: "SSE-KMS: the function's environment and the encrypted queues, topics, tables, secrets and "
                   "objects it uses" for a in SSE_KMS}  # fmt: skip
    if rt.tracing:
        required |= {a: "tracing_config Active: Lambda sends the traces" for a in TRACES}
        allowed |= {a: "tracing: the X-Ray SDK's sampling rules" for a in SAMPLING}
    for t in rt.event_sources:
        needed, extra = EVENT_SOURCES.get(t, ((), ()))
        if t == "?":
            needed, extra = (), tuple(a for n, e in EVENT_SOURCES.values() for a in (*n, *e))
        required |= {a: f"its event source mapping reads a {t}" for a in needed}
        allowed |= {a: f"its event source mapping reads a {t}" for a in extra}
    for t in rt.dead_letter | rt.destinations:
        targets = DELIVERY.values() if t == "?" else [DELIVERY.get(t, ())]
        into = allowed if t == "?" else required  # an unknown target: whichever it is may be granted
        for actions in targets:
            into.update({a: f"Lambda delivers failed events to a {t}" for a in actions})
    if rt.in_vpc:
        allowed |= {a: "vpc_config: Lambda manages the function's network interfaces" for a in NETWORK_INTERFACES}
    return required, allowed | required


def _grants(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def granted(action: str, grants: Iterable[infra_hcl.Grant]) -> bool:
    allows = [g for g in grants if g.effect == "Allow"]
    return any(_grants(g.action, action) != g.not_action for g in allows)


# ---- the deployed functions --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Deployed:
    function: infra_hcl.Function
    lambda_dir: str

    @property
    def id(self) -> str:
        return self.function.id

    @property
    def code(self) -> str:
        return f"lambdas/{self.lambda_dir}/handler.py:{self.function.handler}"


@cache
def deployed() -> tuple[Deployed, ...]:
    out = []
    for name, lambda_dir in sorted(DEPLOYS.items()):
        for fn in infra_hcl.lambda_functions(infra_hcl.module(name)):
            out.append(Deployed(fn, lambda_dir))
    return tuple(out)


@cache
def role_grants(module: str, role: infra_hcl.Ref) -> tuple[infra_hcl.Grant, ...]:
    return tuple(infra_hcl.RoleReader(infra_hcl.module(module)).grants(role))


def excluded(d: Deployed) -> str | None:
    reasons = [EXCLUDED_ROLES.get((d.function.module, r.name)) for r in d.function.roles]
    return next((r for r in reasons if r), None)


def needs(d: Deployed) -> dict[str, list[str]]:
    """action -> where the code needs it: derived (file:line) and manifest entries."""
    derivation = derive(d.lambda_dir, d.function.handler)
    out = derivation.actions()
    for action, why in manifest_needs(derivation).items():
        out.setdefault(action, []).extend(why)
    return out


@dataclass
class Comparison:
    missing: dict[str, list[str]]  # action -> where the code needs it
    surplus: dict[str, list[str]]  # granted action -> where the role grants it
    runtime_missing: dict[str, str]


def compare(d: Deployed) -> Comparison:
    """The function's needs against its role(s); a role several functions share is held to what they need
    together."""
    mod = infra_hcl.module(d.function.module)
    required, _ = runtime_actions(infra_hcl.runtime(mod, d.function))
    missing: dict[str, list[str]] = {}
    runtime_missing: dict[str, str] = {}
    surplus: dict[str, list[str]] = {}
    for role in d.function.roles:
        grants = role_grants(d.function.module, role)
        for action, where in needs(d).items():
            if not granted(action, grants):
                missing[action] = where
        for action, why in required.items():
            if not granted(action, grants):
                runtime_missing[action] = why
        sharing = [o for o in deployed() if role in o.function.roles]
        explained: set[str] = set()
        for other in sharing:
            explained |= set(needs(other))
            explained |= set(runtime_actions(infra_hcl.runtime(mod, other.function))[1])
        for g in grants:
            if g.effect != "Allow":
                continue
            if g.not_action:
                surplus.setdefault(f"NotAction {g.action}", []).append(g.where)
            elif any(ch in g.action for ch in "*?"):
                broader = sorted(a for a in _known_actions(g.action) if a not in explained)
                if broader or not any(_grants(g.action, a) for a in explained):
                    surplus.setdefault(g.action, []).append(f"{g.where} (also allows {broader[:5]})")
            elif g.action not in explained:
                surplus.setdefault(g.action, []).append(g.where)
    return Comparison(missing, surplus, runtime_missing)


@cache
def _all_iam_actions() -> frozenset[str]:
    out = set()
    for service in _botocore().get_available_services():
        try:
            out |= {a for op in service_operations(service).values() for a in iam_actions(service, op)}
        except Exception:  # a service model botocore cannot load here
            continue
    return frozenset(out)


def _known_actions(pattern: str) -> list[str]:
    """The actions botocore knows that a wildcard grants (IAM's own list is not available offline)."""
    return [a for a in _all_iam_actions() if _grants(pattern, a)]


def _report(d: Deployed, c: Comparison) -> str:
    lines = [f"{d.id} (role {', '.join(str(r) for r in sorted(d.function.roles, key=str))}, code {d.code})"]
    if c.missing:
        lines.append("  the code calls what the role does not grant:")
        lines += [f"    {a}  <- {'; '.join(w[:4])}" for a, w in sorted(c.missing.items())]
    if c.runtime_missing:
        lines.append("  its configuration needs what the role does not grant:")
        lines += [f"    {a}  <- {w}" for a, w in sorted(c.runtime_missing.items())]
    if c.surplus:
        lines.append("  the role grants what no code of it calls and no runtime need explains:")
        lines += [f"    {a}  <- {'; '.join(sorted(set(w)))}" for a, w in sorted(c.surplus.items())]
    return "\n".join(lines)


class KnownGap(AssertionError):
    """The mismatch KNOWN_GAPS records for the function, exactly."""


def _params() -> list[Any]:
    out = []
    for d in deployed():
        marks = []
        if d.id in KNOWN_GAPS:
            gap = KNOWN_GAPS[d.id]
            reason = f"the Terraform's to fix: missing {gap.get('missing', [])}, surplus {gap.get('surplus', [])}"
            marks.append(pytest.mark.xfail(strict=True, raises=KnownGap, reason=reason))
        out.append(pytest.param(d, id=d.id, marks=marks))
    return out


# ---- tests ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", _params())
def test_the_role_allows_what_the_code_calls_and_nothing_more(d: Deployed):
    if (reason := excluded(d)) is not None:
        pytest.skip(f"role excluded: {reason}")
    c = compare(d)
    found = {"missing": sorted({*c.missing, *c.runtime_missing}), "surplus": sorted(c.surplus)}
    if d.id in KNOWN_GAPS:
        expected = {k: sorted(KNOWN_GAPS[d.id].get(k, [])) for k in ("missing", "surplus")}
        if found == expected:
            raise KnownGap(_report(d, c))
        raise AssertionError(f"KNOWN_GAPS[{d.id!r}] says {expected}, the check finds {found}\n{_report(d, c)}")
    assert not (c.missing or c.runtime_missing or c.surplus), _report(d, c)


def test_every_deployed_function_is_checked_or_excluded_for_a_reason():
    functions = deployed()
    assert functions, "DEPLOYS names no module that deploys a function"
    modules = {d.function.module for d in functions}
    assert modules == {m for m in DEPLOYS if infra_hcl.lambda_functions(infra_hcl.module(m))}
    used = {(d.function.module, r.name) for d in functions for r in d.function.roles}
    assert set(EXCLUDED_ROLES) <= used, (
        f"EXCLUDED_ROLES names roles no deployed function runs as: {set(EXCLUDED_ROLES) - used}"
    )
    stale_gaps = set(KNOWN_GAPS) - {d.id for d in functions}
    assert not stale_gaps, f"KNOWN_GAPS names functions that are not deployed: {sorted(stale_gaps)}"


def test_the_deriver_sees_aws_calls_in_every_deployed_handler():
    """A deriver that went blind would find nothing and let every role pass the 'missing' direction."""
    seen: dict[tuple[str, str], dict] = {}
    for d in deployed():
        seen[(d.lambda_dir, d.function.handler)] = needs(d)
    for lambda_dir in sorted({k[0] for k in seen}):
        assert any(v for (ld, _), v in seen.items() if ld == lambda_dir), f"nothing derived for lambdas/{lambda_dir}"
    empty = {k for k, v in seen.items() if not v}
    assert empty == set(CALLS_NO_AWS) & set(seen), {
        "derive nothing, not in CALLS_NO_AWS": sorted(empty - set(CALLS_NO_AWS)),
        "in CALLS_NO_AWS, but call AWS (or are not deployed)": sorted(set(CALLS_NO_AWS) - empty),
    }


def test_every_call_on_an_unknown_receiver_is_explained():
    """A call the deriver could not resolve, named like an operation of a service the code uses, is either a
    MANIFEST entry's (anchored to the function that makes it) or a gap in the analysis to fix."""
    services = set().union(*(derive(d.lambda_dir, d.function.handler).services for d in deployed()))
    unexplained = set()
    for d in deployed():
        derivation = derive(d.lambda_dir, d.function.handler)
        anchors = {n.anchor for n in MANIFEST if n.anchor in derivation.reached}
        for site, method, function in unresolved_calls(derivation, services):
            if function not in anchors:
                unexplained.add(f"{site}: .{method}(...) in {function}")
    assert not unexplained, "calls on receivers the deriver knows nothing of:\n" + "\n".join(sorted(unexplained))


def test_the_manifest_is_not_stale():
    reached = set().union(*(derive(d.lambda_dir, d.function.handler).reached for d in deployed()))
    for need in MANIFEST:
        source = _anchor_source(need.anchor)
        assert source is not None, f"MANIFEST: {need.anchor} no longer exists"
        assert need.token in source, f"MANIFEST: {need.anchor} no longer contains {need.token!r}"
        assert need.anchor in reached, f"MANIFEST: no deployed function reaches {need.anchor}"
        assert need.actions and need.reason, need


def test_the_remediation_catalogue_declares_what_its_code_calls():
    """The excluded remediation role is held to the catalogue's iam_actions elsewhere; here the catalogue is held
    to its code: every call the actions make (apply, verify, rollback reach all of them) is in some action's
    ``iam_actions``."""
    from egress_optimizer.respond.actions import CATALOGUE

    declared = {a for action in CATALOGUE.values() for a in action.iam_actions}
    called = {}
    for fn in ("apply", "verify", "rollback"):
        for e in derive("respond", fn).effects:
            if e.site.startswith("src/egress_optimizer/respond/actions.py") or "aws_config" in e.site:
                called.setdefault(e.action, set()).add(e.site)
    assert called, "the deriver found no call of the remediation actions"
    undeclared = {a: sorted(s) for a, s in called.items() if a not in declared}
    assert not undeclared, f"the catalogue's code calls what no action declares: {undeclared}"


# ---- the deriver on code whose answer is known -------------------------------------------------------------------
SYNTHETIC = {
    "synthetic.lib": """
import boto3
import pyarrow.fs as pafs


class Store:
    def __init__(self, table):
        self.table = table

    def save(self, item):
        self.table.put_item(Item=item)


class Clients:
    def __init__(self):
        self._cache = {}

    def for_service(self, name):
        if name not in self._cache:
            self._cache[name] = boto3.Session().client(name)
        return self._cache[name]


def assume(sts):
    return sts.assume_role(RoleArn="arn", RoleSessionName="s")["Credentials"]


def write(fs, path, local=False):
    if isinstance(fs, pafs.LocalFileSystem):
        fs.move(path + ".tmp", path)
    else:
        with fs.open_output_stream(path) as f:
            f.write(b"x")
    if local:
        boto3.client("sns").publish(TopicArn="t", Message="m")
""",
    "synthetic.handler": """
import boto3
import pyarrow.fs as pafs
from functools import partial

from synthetic.lib import Clients, Store, assume, write


def handler(event, context):
    s3 = boto3.client("s3")
    s3.get_object(Bucket="b", Key="k")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="b"):
        pass
    s3.copy_object(Bucket="b", Key="k2", CopySource="b/k")
    Store(boto3.resource("dynamodb").Table("t")).save({})
    Clients().for_service("sqs").send_message(QueueUrl="q", MessageBody="m")
    run = partial(assume, boto3.client("sts"))
    run()
    write(pafs.S3FileSystem(), "b/k", local=False)
    write(pafs.LocalFileSystem(), "/tmp/k")
    request = {"modelId": "m"}
    if event:
        request["guardrailConfig"] = {}
    boto3.client("bedrock-runtime").converse(**request)
    mystery().delete_item(Key={})
""",
}  # fmt: skip


def test_the_deriver_finds_what_a_known_snippet_calls():
    derivation = Deriver(SYNTHETIC).derive("synthetic.handler", "handler")
    actions = derivation.actions()
    assert set(actions) == {
        "s3:GetObject", "s3:ListBucket", "s3:PutObject",  # get_object, the ListObjectsV2 paginator, CopyObject
        "dynamodb:PutItem",  # a Table resource passed to a constructor, kept on self
        "sqs:SendMessage",  # a client cached in a dict, its service named by an argument
        "sts:AssumeRole",  # through functools.partial
        "bedrock:InvokeModel", "bedrock:ApplyGuardrail",  # Converse, with a guardrail in its **request
    }, actions  # fmt: skip
    # S3FileSystem.move is the local branch's; sns.publish runs only with local=True, and no call passes it.
    assert not any("S3FileSystem.move" in where for sites in actions.values() for where in sites)
    assert actions["s3:PutObject"] == sorted(actions["s3:PutObject"])
    assert any(
        w.startswith("synthetic.lib:") and "S3FileSystem.open_output_stream" in w for w in actions["s3:PutObject"]
    )
    assert unresolved_calls(derivation, derivation.services) == [
        ("synthetic.handler:25", "delete_item", "synthetic.handler.handler")
    ]
    assert {"synthetic.lib.Store.save", "synthetic.lib.assume", "synthetic.handler.handler"} <= derivation.reached


def test_the_manifest_machinery_applies_and_goes_stale():
    derivation = Deriver(SYNTHETIC).derive("synthetic.handler", "handler")
    need = Need("synthetic.lib.assume", "assume_role", ("sts:TagSession",), "session tags")
    assert manifest_needs(derivation, [need]) == {"sts:TagSession": ["MANIFEST synthetic.lib.assume: session tags"]}
    assert manifest_needs(derivation, [Need("synthetic.lib.gone", "x", ("a:B",), "r")]) == {}
    assert _anchor_source("egress_optimizer.respond.clients.Clients.for_service") is not None
    assert _anchor_source("egress_optimizer.respond.clients.Clients.no_such_method") is None


def test_the_operation_tables_name_what_botocore_and_pyarrow_have():
    import pyarrow.fs as pafs

    for service, op in OPERATION_ACTIONS:
        assert op in service_operations(service).values(), f"OPERATION_ACTIONS: {service} has no operation {op}"
    for (service, method), ops in CLIENT_HELPERS.items():
        assert set(ops) <= set(service_operations(service).values()), (service, method)
    for service, parameter in PARAMETER_ACTIONS:
        model = _botocore().get_service_model(service)
        inputs = {
            m for op in model.operation_names for m in (model.operation_model(op).input_shape or _NoShape()).members
        }
        assert parameter in inputs, f"PARAMETER_ACTIONS: no {service} operation takes {parameter}"
    for method in FILESYSTEM_ACTIONS:
        assert hasattr(pafs.S3FileSystem, method), f"FILESYSTEM_ACTIONS: S3FileSystem has no {method}"
    # Spot checks of the mapping itself.
    assert iam_actions("s3", "ListObjectsV2") == ("s3:ListBucket",)
    assert iam_actions("stepfunctions", "StartExecution") == ("states:StartExecution",)
    assert iam_actions("resourcegroupstaggingapi", "GetResources") == ("tag:GetResources",)
    assert paginated_operation("cloudtrail", "lookup_events") == "LookupEvents"
    assert waiter_operation("s3", "object_exists") == "HeadObject"


class _NoShape:
    members: ClassVar[dict] = {}


def test_grants_match_wildcards_and_not_actions():
    allow = infra_hcl.Grant("s3:Get*", "Allow", "x")
    assert granted("s3:GetObject", [allow]) and not granted("s3:PutObject", [allow])
    assert not granted("s3:GetObject", [infra_hcl.Grant("s3:GetObject", "Deny", "x")])
    assert granted("sqs:SendMessage", [infra_hcl.Grant("s3:*", "Allow", "x", not_action=True)])


def test_the_hcl_reader_evaluates_what_the_modules_write():
    m = infra_hcl.module("response")
    names = m.evaluate("${merge({for k in keys(local.step_functions) : k => aws_iam_role.step[k].name}, {start = 1})}")
    assert len(names) == 1 and names[0]["explain"] == infra_hcl.Ref("aws_iam_role", "step", "explain", ("name",))
    assert m.evaluate('${var.x != null ? ["a"] : []}') == [["a"], []]
    assert m.evaluate('${length([for k, v in local.task_functions : k if v.role == "remediation"])}') == [3]
