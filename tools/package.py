"""Build the deployable artefacts from the library: Lambda zips and layers, the wheel, Glue and SageMaker bundles.

``build/`` (or ``--out``) receives:

- ``egress_optimizer-<version>-py3-none-any.whl``: the library (Glue's ``--additional-python-modules``, layers);
- ``lambda-<name>.zip`` per ``lambdas/<name>/``: the function's own files, ``handler.py`` at the root;
- the Lambda layers, ``python/`` = the library and the third-party distributions the handlers import, installed
  for the Lambda runtime (Python 3.12, manylinux x86_64) at the versions and hashes of ``requirements.lock``:
  ``layer-egress.zip`` when everything fits in Lambda's 250 MB unzipped; otherwise the distributions are grouped
  by which functions need them, so no function carries what it does not import: ``layer-egress-core.zip`` (the
  library and what every function needs), ``layer-egress-ml.zip`` (scikit-learn, SciPy: detection only) and a
  ``layer-egress-<distribution>.zip`` per other group (numpy and pandas, pyarrow, duckdb);
- ``glue/<script>.py``: the Glue job scripts, which import the library from the wheel;
- ``sagemaker/`` and ``sagemaker-sourcedir.tar.gz``: the SageMaker source bundle (below);
- ``images/<name>/`` for the functions that deploy as container images (``IMAGE_FUNCTIONS``: ingest, process and
  detect, which with their layers exceed Lambda's 250 MB unzipped): a Docker build context (below);
- ``manifest.json``: for every artefact its path (relative to the manifest), size and sha256 (hex, and base64 for
  Terraform's ``source_code_hash``); for every Lambda its handler entry points, layers and distributions; for every
  image context its files' sha256, a digest of the whole context and the tag to push it under.

Every archive is deterministic (sorted entries, fixed timestamps and modes), so the same sources give the same
hashes and Terraform sees a change only when there is one.

Which distributions a Lambda needs: its handler's imports are followed through ``src/egress_optimizer``. A reached
module's top-level imports count; an import inside a function counts once reached code refers to that function (by
name in its module, through an import of it, or as ``module.function``; a method, by any attribute of its name),
so ``stages.detect`` brings scikit-learn to the detect Lambda while importing ``stages`` brings neither
scikit-learn nor pyspark; ``if TYPE_CHECKING`` blocks never count, an import guarded by ``except ImportError`` is
optional, and ``importlib.import_module(f"package.{...}")`` reaches every module of the package. The import names
map to distributions through this environment's metadata, and each distribution brings its requirements (markers
evaluated for the Lambda runtime). The manifest records what each function imports; the packaging test imports
all of it from the function's layers.

The SageMaker scikit-learn container (framework 1.4-2, Python 3.12) runs ``train.py`` / ``inference.py`` from
the source directory and installs its ``requirements.txt`` first; the bundle's requirements name the library's
wheel, which travels inside the bundle, so the scripts import exactly the code that was tested.

A container image's context (``images/<name>/``) holds a ``Dockerfile`` ``FROM`` AWS's Lambda base image for
Python 3.12, ``requirements.txt`` (the blocks of ``requirements.lock``, pin and hashes, of exactly the distributions
that function needs: the same per-function set the layers are grouped by, markers evaluated for the Lambda
runtime), ``library.txt`` (the library's wheel, beside it, with its sha256), and ``function/`` (the function's own
files, as in its zip). The Dockerfile installs both files with ``pip --require-hashes --no-deps --only-binary``,
copies the function in and names its single entry point as ``CMD``. Nothing here runs Docker: ``docker build`` (on
the function's architecture) and a push to its ECR repository are the deployment's (infra/modules/*/README.md).

The layer for the Lambda runtime is installed by pip from the indexes pip is configured with (``pip install
--platform manylinux2014_x86_64 --python-version 3.12 --only-binary=:all: --require-hashes``). When they cannot
serve it, the build says why and fails; ``--local-layer`` builds the layer for this interpreter's platform instead,
from the distributions installed in this environment (offline; what the packaging test imports from).

Usage: python tools/package.py [--out build] [--local-layer | --no-layer]
"""

import argparse
import ast
import base64
import functools
import gzip
import hashlib
import importlib.metadata as md
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
LIBRARY = "egress_optimizer"
LAMBDAS = ROOT / "lambdas"
GLUE_JOBS = ROOT / "glue_jobs"
SAGEMAKER_SCRIPTS = ("train.py", "inference.py")
LOCK = ROOT / "requirements.lock"
WORKFLOW = SRC / LIBRARY / "respond" / "workflow.py"

# Zip's earliest representable time; tar and gzip get the matching epoch.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
EPOCH = 315532800
# Lambda: function code plus all its layers, unzipped (the API's limit is 262,144,000 bytes).
LAMBDA_UNZIPPED_LIMIT = 262_144_000
# The Lambda runtime the layers are built for.
RUNTIME_PYTHON = "3.12"
RUNTIME_PLATFORM = "manylinux2014_x86_64"
# Amazon Linux 2023 (the python3.12 runtime) has glibc 2.34: wheels tagged for any older glibc run on it.
RUNTIME_PLATFORMS = [RUNTIME_PLATFORM, *(f"manylinux_2_{minor}_x86_64" for minor in range(34, 16, -1))]
RUNTIME_MARKERS = {
    "python_version": RUNTIME_PYTHON,
    "python_full_version": f"{RUNTIME_PYTHON}.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
}
# The functions deployed as container images: with their layers they exceed Lambda's 250 MB unzipped (pyarrow,
# duckdb, numpy and pandas; scikit-learn for detect), and an image may hold 10 GB. Their zips and layers are still
# built (the packaging tests import each handler from them).
IMAGE_FUNCTIONS = ("detect", "ingest", "process")
# AWS's base image for the runtime the layers are built for.
IMAGE_BASE = f"public.ecr.aws/lambda/python:{RUNTIME_PYTHON}"
# When layers are split, the group holding one of these is called the ML layer.
ML_ROOTS = ("scikit-learn", "scipy")
# A group of distributions smaller than this goes in the core layer rather than a layer of its own.
SMALL_LAYER = 16 * 2**20
# Never in a layer's python/: what only building or testing needs. Console scripts (bin/) name this machine's
# interpreter, and pip's direct_url.json a temporary path, so neither may reach an archive.
TRIM_DIRS = {"__pycache__", "tests"}
TRIM_SUFFIXES = (".pyc", ".pyx", ".pxd", ".pxi")
TRIM_FILES = {"direct_url.json"}


# ---- deterministic archives -----------------------------------------------------------------------------------
def _zip_write(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, so the mode below is honoured on extraction
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    archive.writestr(info, data, compresslevel=6)


def zip_tree(root: Path, archive: Path, prefix: str = "") -> Path:
    """Every file under ``root`` (sorted, fixed time and mode) into ``archive``, named ``prefix`` + relative path."""
    files = sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*") if p.is_file())
    with zipfile.ZipFile(archive, "w") as out:
        for rel, path in files:
            _zip_write(out, prefix + rel, path.read_bytes(), executable=os.access(path, os.X_OK))
    return archive


def normalise_zip(archive: Path) -> Path:
    """Rewrite a zip (a wheel) with fixed times and modes, keeping its entry order (a wheel's RECORD last)."""
    with zipfile.ZipFile(archive) as src:
        entries = [(info.filename, src.read(info), bool((info.external_attr >> 16) & 0o111)) for info in src.infolist()]
    with zipfile.ZipFile(archive, "w") as out:
        for name, data, executable in entries:
            _zip_write(out, name, data, executable)
    return archive


def tar_gz(files: Iterable[tuple[str, Path]], archive: Path) -> Path:
    """A reproducible ``.tar.gz``: sorted members, fixed time, owner and mode, and no time in the gzip header."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, path in sorted(files):
            info = tarfile.TarInfo(name)
            data = path.read_bytes()
            info.size, info.mtime, info.mode = len(data), EPOCH, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    with open(archive, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(buffer.getvalue())
    return archive


def digest(path: Path) -> dict[str, object]:
    """Size and sha256 of a file; ``sha256_base64`` is what Terraform's ``source_code_hash`` compares."""
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return {
        "size": path.stat().st_size,
        "sha256": sha.hexdigest(),
        "sha256_base64": base64.b64encode(sha.digest()).decode(),
    }


def unzipped_size(archive: Path) -> int:
    with zipfile.ZipFile(archive) as z:
        return sum(info.file_size for info in z.infolist())


# ---- the library's wheel, Glue, SageMaker -------------------------------------------------------------------------
def build_wheel(out: Path) -> Path:
    """The library as a wheel in ``out``, built without network from a copy of the sources (setuptools
    leaves build/ and egg-info folders where it builds: not in the checkout), normalised to be reproducible."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("egress_optimizer-*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "source"
        shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, src / name)
        pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH)}
        subprocess.run([*pip, "-w", str(out), str(src)], check=True, env=env)
    (wheel,) = out.glob("egress_optimizer-*.whl")
    return normalise_zip(wheel)


def glue_scripts(out: Path) -> list[Path]:
    """``out/glue/``: the Glue job scripts (``--additional-python-modules`` names the wheel beside them)."""
    folder = out / "glue"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    copied = []
    for script in sorted(GLUE_JOBS.glob("*.py")):
        target = folder / script.name
        target.write_bytes(script.read_bytes())
        copied.append(target)
    return copied


def sagemaker_bundle(out: Path, wheel: Path) -> Path:
    """``out/sagemaker/``: the entry scripts, the wheel and a requirements file naming it; and the same folder
    as ``out/sagemaker-sourcedir.tar.gz`` (what an estimator's ``source_dir`` may point at on S3)."""
    bundle = out / "sagemaker"
    if bundle.exists():
        shutil.rmtree(bundle)
    bundle.mkdir(parents=True)
    for script in SAGEMAKER_SCRIPTS:
        shutil.copy2(ROOT / "sagemaker" / script, bundle / script)
    shutil.copy2(wheel, bundle / wheel.name)
    (bundle / "requirements.txt").write_text(f"./{wheel.name}\n", encoding="utf-8")
    tar_gz(((p.name, p) for p in bundle.iterdir()), out / "sagemaker-sourcedir.tar.gz")
    return bundle


# ---- Lambda functions: their zips and entry points --------------------------------------------------------------
def lambda_dirs() -> list[Path]:
    return sorted(p.parent for p in LAMBDAS.glob("*/handler.py"))


def function_files(function_dir: Path) -> list[tuple[Path, Path]]:
    """The function's own files as (path below the function's folder, file), without caches or notes."""
    found = []
    for path in sorted(function_dir.rglob("*")):
        rel = path.relative_to(function_dir)
        if path.is_dir() or "__pycache__" in rel.parts or path.suffix in (".pyc", ".md"):
            continue
        found.append((rel, path))
    return found


def _copy_files(files: list[tuple[Path, Path]], into: Path) -> None:
    for rel, path in files:
        (into / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, into / rel)


def lambda_zip(function_dir: Path, out: Path) -> Path:
    """``out/lambda-<name>.zip``: the function's files (``handler.py`` at the root), without caches or notes."""
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp)
        _copy_files(function_files(function_dir), staged)
        return zip_tree(staged, out / f"lambda-{function_dir.name}.zip")


def entry_points(handler: Path) -> list[str]:
    """``handler.<function>`` for every public top-level function of the handler file that Lambda can call:
    one taking ``(event, context)``. Helpers (``_record``) and decorated non-entry points (an idempotent
    ``ingest(s3_object)``) are not."""
    tree = ast.parse(handler.read_text(encoding="utf-8"))
    found = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
            continue
        args = [a.arg for a in node.args.posonlyargs + node.args.args]
        if len(args) == 2 and args[1] == "context":
            found.append(f"{handler.stem}.{node.name}")
    return found


def workflow_tasks() -> list[str]:
    """The handler functions the response state machine names (``egress_optimizer.respond.workflow.TASKS``),
    read from the source without importing it."""
    for node in ast.parse(WORKFLOW.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "TASKS" for t in node.targets):
            return sorted(ast.literal_eval(node.value).values())
    raise LookupError(f"no TASKS in {WORKFLOW}")


def check_respond_entry_points(found: list[str]) -> None:
    """Every state of the response workflow, and ``start``, must be a function of ``lambdas/respond/handler.py``."""
    missing = sorted({f"handler.{name}" for name in [*workflow_tasks(), "start"]} - set(found))
    if missing:
        raise SystemExit(f"lambdas/respond/handler.py lacks the workflow's entry points {missing}")


# ---- what a handler imports, through the library ----------------------------------------------------------------
@dataclass
class _Unit:
    """One piece of code's imports and references: a module's top level (class bodies included), a function's
    body (nested functions included) or a method's."""

    imports: set[str] = field(default_factory=set)
    optional: set[str] = field(default_factory=set)  # imported inside `try: ... except ImportError`
    refs: set[str] = field(default_factory=set)  # names and dotted names (`stages.detect`) as written
    attrs: set[str] = field(default_factory=set)  # attribute names: what may call a method
    packages: set[str] = field(default_factory=set)  # importlib.import_module(f"<package>.{...}")


@dataclass
class _Module:
    name: str
    top: _Unit
    functions: dict[str, _Unit]  # top-level functions
    methods: dict[str, list[_Unit]]  # functions defined in classes, by name
    aliases: dict[str, str]  # a name an import binds -> the dotted name it stands for


def _is_type_checking(test: ast.expr) -> bool:
    return isinstance(test, ast.Name | ast.Attribute) and ast.unparse(test).endswith("TYPE_CHECKING")


def _catches_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        caught = [] if handler.type is None else getattr(handler.type, "elts", [handler.type])
        if any(ast.unparse(t).split(".")[-1] in ("ImportError", "ModuleNotFoundError") for t in caught):
            return True
    return False


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


@functools.cache
def _parse_module(path: Path, name: str, package: str) -> _Module:
    module = _Module(name, _Unit(), {}, {}, {})

    def absolute(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = package.split(".")
        base = base[: len(base) - (node.level - 1)]
        return ".".join([*base, *([node.module] if node.module else [])])

    def visit(node: ast.AST, unit: _Unit, optional: bool, scope: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for part in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
                if part is not None:
                    visit(part, unit, optional, scope)
            if scope == "function":  # a nested function is part of its enclosing function
                body = unit
            elif scope == "class":
                body = _Unit()
                module.methods.setdefault(node.name, []).append(body)
            else:
                body = module.functions.setdefault(node.name, _Unit())
            for stmt in node.body:
                visit(stmt, body, optional, "function")
            return
        if isinstance(node, ast.ClassDef):
            for part in [*node.decorator_list, *node.bases, *node.keywords]:
                visit(part, unit, optional, scope)
            for stmt in node.body:
                visit(stmt, unit, optional, "function" if scope == "function" else "class")
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for stmt in node.orelse:
                visit(stmt, unit, optional, scope)
            return
        if isinstance(node, ast.Try) and _catches_import_error(node):
            for stmt in node.body:
                visit(stmt, unit, True, scope)
            for stmt in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(stmt, unit, optional, scope)
            return
        target = unit.optional if optional else unit.imports
        if isinstance(node, ast.Import):
            for alias in node.names:
                target.add(alias.name)
                module.aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom):
            base = absolute(node)
            target.add(base)
            for alias in node.names:
                target.add(f"{base}.{alias.name}")
                module.aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
        elif isinstance(node, ast.Name | ast.Attribute):
            dotted = _dotted(node)
            if dotted:
                unit.refs.add(dotted)
            if isinstance(node, ast.Attribute):
                unit.attrs.add(node.attr)
        elif (
            isinstance(node, ast.Call)
            and ast.unparse(node.func).endswith("import_module")
            and node.args
            and isinstance(node.args[0], ast.JoinedStr)
            and node.args[0].values
            and isinstance(node.args[0].values[0], ast.Constant)
        ):
            unit.packages.add(str(node.args[0].values[0].value).rstrip("."))
        for child in ast.iter_child_nodes(node):
            visit(child, unit, optional, scope)

    for stmt in ast.parse(path.read_text(encoding="utf-8")).body:
        visit(stmt, module.top, False, "module")
    return module


def _library_file(name: str) -> Path | None:
    base = SRC.joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


@dataclass
class Imports:
    """What running a handler can import: library modules, and third-party top-level names (required and
    optional)."""

    modules: set[str]
    third_party: set[str]
    optional: set[str]


def handler_imports(handler: Path) -> Imports:
    """Follow ``handler``'s imports through the library (see the module docstring for the rules)."""
    parsed: dict[str, _Module] = {}
    attrs: set[str] = set()
    done: set[int] = set()
    third, optional = set(), set()
    pending: list[tuple[_Module, _Unit]] = []
    refs: set[str] = set()  # dotted names used by reached code, resolved once their module is parsed

    def reach(module: str) -> None:
        parts = module.split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            path = _library_file(name)
            if path is None or name in parsed:
                continue
            package = name if path.name == "__init__.py" else name.rpartition(".")[0]
            parsed[name] = _parse_module(path, name, package)
            pending.append((parsed[name], parsed[name].top))

    def function(dotted: str, depth: int = 0) -> None:
        """The library function ``dotted`` names (through re-exports), if any, is reached."""
        if dotted.split(".")[0] != LIBRARY:
            return
        parts = dotted.split(".")
        for i in range(len(parts) - 1, 0, -1):
            module = parsed.get(".".join(parts[:i]))
            if module is None:
                continue
            name = parts[i]
            if name in module.functions:
                if id(module.functions[name]) not in done:
                    pending.append((module, module.functions[name]))
            elif name in module.aliases and depth < 8:
                function(".".join([module.aliases[name], *parts[i + 1 :]]), depth + 1)
            return

    def take(module: _Module, unit: _Unit) -> None:
        attrs.update(unit.attrs)
        for imported, needed in [(m, True) for m in unit.imports] + [(m, False) for m in unit.optional]:
            top = imported.split(".")[0]
            if top == LIBRARY:
                reach(imported)
            elif top and top != "__future__" and top not in sys.stdlib_module_names:
                (third if needed else optional).add(top)
        for package in unit.packages:
            if package.split(".")[0] == LIBRARY and _library_file(package):
                for file in sorted(SRC.joinpath(*package.split(".")).glob("*.py")):
                    reach(package if file.stem == "__init__" else f"{package}.{file.stem}")
        for ref in unit.refs:
            head, _, rest = ref.partition(".")
            if head in module.aliases:
                refs.add(".".join(filter(None, [module.aliases[head], rest])))
            elif module.name != handler.stem:
                refs.add(f"{module.name}.{ref}")

    entry = _parse_module(handler, handler.stem, "")
    pending.append((entry, entry.top))
    pending.extend((entry, unit) for unit in entry.functions.values())
    while pending:
        while pending:
            module, unit = pending.pop()
            if id(unit) not in done:
                done.add(id(unit))
                take(module, unit)
        for ref in sorted(refs):
            function(ref)
        for module in list(parsed.values()):  # methods: reached once some reached code uses their name
            for name, units in module.methods.items():
                if name in attrs or (name.startswith("__") and name.endswith("__")):
                    pending.extend((module, u) for u in units if id(u) not in done)
    return Imports(set(parsed), third, optional - third)


# ---- distributions ------------------------------------------------------------------------------------------------
def _dist_of(import_names: Iterable[str]) -> tuple[set[str], set[str]]:
    """Canonical distribution names providing ``import_names`` here, and the names no distribution provides."""
    providers = _providers()
    dists, unknown = set(), set()
    for name in import_names:
        found = providers.get(name)
        if found:
            dists.update(canonicalize_name(d) for d in found)
        else:
            unknown.add(name)
    return dists, unknown


@functools.cache
def _providers() -> dict[str, list[str]]:
    return md.packages_distributions()


def requirement_closure(dists: Iterable[str], markers: dict[str, str]) -> set[str]:
    """``dists`` and everything they require (extras not taken), markers evaluated in ``markers``."""
    env = {**default_environment(), **markers, "extra": ""}
    seen: set[str] = set()
    todo = [canonicalize_name(d) for d in dists]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for spec in md.distribution(name).requires or []:
            req = Requirement(spec)
            if req.marker is None or Marker(str(req.marker)).evaluate(env):
                todo.append(canonicalize_name(req.name))
    return seen


@dataclass
class LambdaNeeds:
    name: str
    handlers: list[str]
    imports: list[str]  # third-party top-level modules its code can import
    distributions: list[str]  # the distributions providing them, with their requirements
    optional: list[str]  # imported behind `except ImportError`: not packaged


def lambda_needs(function_dir: Path, markers: dict[str, str]) -> LambdaNeeds:
    handler = function_dir / "handler.py"
    imports = handler_imports(handler)
    direct, unknown = _dist_of(imports.third_party)
    if unknown:
        raise SystemExit(f"{handler}: no installed distribution provides {sorted(unknown)}; run `make env`")
    found = entry_points(handler)
    if function_dir.name == "respond":
        check_respond_entry_points(found)
    return LambdaNeeds(
        function_dir.name,
        found,
        sorted(imports.third_party),
        sorted(requirement_closure(direct, markers)),
        sorted(imports.optional),
    )


# ---- layers -------------------------------------------------------------------------------------------------------
def _trimmed(rel: Path) -> bool:
    """What a layer leaves out: caches, test suites, sources only a compiler reads, console scripts (``bin/``,
    which name this machine's interpreter) and pip's ``direct_url.json`` (a temporary path)."""
    return (
        rel.parts[0] == "bin"
        or any(part in TRIM_DIRS for part in rel.parts)
        or rel.name.endswith(TRIM_SUFFIXES)
        or rel.name in TRIM_FILES
    )


def _pruned(path: Path, rel: Path) -> bool:
    """Parts of a distribution no handler can load: pyarrow's Flight RPC (nothing imports ``pyarrow.flight``; no
    other pyarrow library links it), its C++ test module, and the copies of its shared libraries that a wheel
    carries instead of symlinks (``libx.so`` and ``libx.so.N.M.P`` beside the ``libx.so.N`` the modules link)."""
    if rel.parts[0] != "pyarrow" or len(rel.parts) != 2:
        return False
    if "flight" in rel.name or rel.name.startswith("_pyarrow_cpp_tests"):
        return True
    if re.fullmatch(r"lib\w+\.so", rel.name):
        return any(path.parent.glob(f"{rel.name}.[0-9]*"))
    full = re.fullmatch(r"(lib\w+\.so\.\d+)\.\d+\.\d+", rel.name)
    return bool(full) and (path.parent / full.group(1)).is_file()


def _lock_entries(dists: Iterable[str]) -> str:
    """The blocks of ``requirements.lock`` (pin and hashes) for ``dists``."""
    wanted = set(dists)
    blocks, current = [], []
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            if current:
                blocks.append(current)
            current = [line]
        elif current and line.strip().startswith("--hash"):
            current.append(line)
    if current:
        blocks.append(current)
    chosen = {}
    for block in blocks:
        name = canonicalize_name(re.split(r"[=<>!~ ;\[]", block[0], maxsplit=1)[0])
        if name in wanted:
            chosen[name] = "\n".join(line.split(" #")[0].rstrip() for line in block).rstrip("\\ ")
    missing = wanted - set(chosen)
    if missing:
        raise SystemExit(f"requirements.lock pins none of {sorted(missing)}; run `make lock`")
    return "\n".join(chosen[n] for n in sorted(chosen)) + "\n"


class LayerUnavailable(RuntimeError):
    """The index pip uses cannot serve the Lambda runtime's wheels."""


def install_runtime_layer(site: Path, dists: list[str], wheel: Path) -> None:
    """``dists`` at the locked versions and hashes, for the Lambda runtime's platform, and the library, in ``site``."""
    with tempfile.TemporaryDirectory() as tmp:
        reqs = Path(tmp) / "layer.txt"
        reqs.write_text(_lock_entries(dists), encoding="utf-8")
        platforms = [arg for p in RUNTIME_PLATFORMS for arg in ("--platform", p)]
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--require-hashes"]
        cmd += ["--target", str(site), "--only-binary=:all:", "--implementation", "cp"]
        cmd += ["--python-version", RUNTIME_PYTHON, *platforms, "-r", str(reqs)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise LayerUnavailable("\n".join((done.stderr or done.stdout).strip().splitlines()[-6:]))
    _install_wheel(site, wheel)


def install_local_layer(site: Path, dists: list[str], wheel: Path) -> None:
    """``dists`` as installed in this environment (this interpreter's platform, the versions the tests use),
    copied file by file from their RECORDs, and the library from its wheel: offline."""
    here = Path(sysconfig.get_paths()["purelib"]).resolve()
    for name in dists:
        dist = md.distribution(name)
        for file in dist.files or []:
            source = Path(dist.locate_file(file)).resolve()
            if not source.is_file() or not source.is_relative_to(here) or _trimmed(source.relative_to(here)):
                continue  # console scripts and data outside site-packages; what the layer drops anyway
            target = site / source.relative_to(here)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    _install_wheel(site, wheel)


def _install_wheel(site: Path, wheel: Path) -> None:
    """The library's wheel, unpacked: a pure wheel without scripts or data installs so, and unlike pip this leaves
    no ``direct_url.json`` naming (in the RECORD too) the wheel's temporary path."""
    with zipfile.ZipFile(wheel) as z:
        if any(name.split("/")[0].endswith(".data") for name in z.namelist()):
            raise SystemExit(f"{wheel.name} has a .data folder: install it with pip")
        z.extractall(site)


def _trim(site: Path) -> list[str]:
    """Drop what no handler loads (``_trimmed``, ``_pruned``); returns the pruned files' paths."""
    pruned = []
    for path in sorted(site.rglob("*"), reverse=True):
        rel = path.relative_to(site)
        if path.is_symlink() or (path.is_file() and _trimmed(rel)):
            path.unlink()
        elif path.is_file() and _pruned(path, rel):
            pruned.append(rel.as_posix())
            path.unlink()
        elif path.is_dir() and (_trimmed(rel) or not any(path.iterdir())):
            shutil.rmtree(path)
    return sorted(pruned)


def _installed(site: Path) -> dict[str, tuple[str, set[Path]]]:
    """Each distribution installed in ``site``: canonical name -> (version, the files its RECORD names)."""
    found = {}
    for info in site.glob("*.dist-info"):
        dist = md.PathDistribution(info)
        files = {(site / f).resolve() for f in dist.files or []} | {p.resolve() for p in info.iterdir()}
        found[canonicalize_name(dist.metadata["Name"])] = (dist.version, files)
    return found


def _size(files: Iterable[Path]) -> int:
    return sum(p.stat().st_size for p in files)


def plan_layers(needs: list[LambdaNeeds], sizes: dict[str, int], largest_function: int = 0) -> dict[str, list[str]]:
    """Layer name -> its distributions (``sizes``: installed bytes by distribution). One layer,
    ``layer-egress.zip``, when everything fits beside the largest function; otherwise the distributions are grouped
    by the set of functions that need them, so no function carries what it does not import:
    ``layer-egress-core.zip`` (the library, what every function needs, and groups under ``SMALL_LAYER``),
    ``layer-egress-ml.zip`` (the group holding scikit-learn or SciPy) and ``layer-egress-<its largest
    distribution>.zip`` for any other group."""
    library = canonicalize_name(LIBRARY)
    functions = frozenset(n.name for n in needs)
    users: dict[str, set[str]] = {library: set(functions)}
    for n in needs:
        for dist in n.distributions:
            users.setdefault(dist, set()).add(n.name)
    if sum(sizes.get(d, 0) for d in users) + largest_function <= LAMBDA_UNZIPPED_LIMIT:
        return {"layer-egress.zip": sorted(users)}
    groups: dict[frozenset[str], list[str]] = {}
    for dist, who in users.items():
        groups.setdefault(frozenset(who), []).append(dist)
    core: list[str] = []
    layers: dict[str, list[str]] = {}
    for who, dists in groups.items():
        if who == functions or sum(sizes.get(d, 0) for d in dists) < SMALL_LAYER:
            core.extend(dists)
        elif any(d in ML_ROOTS for d in dists):
            layers["layer-egress-ml.zip"] = dists
        else:
            layers[f"layer-egress-{max(dists, key=lambda d: (sizes.get(d, 0), d))}.zip"] = dists
    layers["layer-egress-core.zip"] = core
    return {name: sorted(dists) for name, dists in sorted(layers.items())}


def build_layers(out: Path, needs: list[LambdaNeeds], wheel: Path, local: bool) -> dict[str, dict]:
    """Install what the functions need into one ``python/`` tree, measure it, and zip it as the layers
    ``plan_layers`` chooses. Returns layer name -> its description (distributions, size, the functions using it)."""
    wanted = {d for n in needs for d in n.distributions}
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        site.mkdir()
        (install_local_layer if local else install_runtime_layer)(site, sorted(wanted), wheel)
        pruned = _trim(site)
        installed = _installed(site)
        files = {p.resolve() for p in site.rglob("*") if p.is_file()}
        owner = {f: d for d, (_, owned) in installed.items() for f in owned}
        unowned = files - set(owner)
        if unowned:  # every file should belong to a distribution; if not, it cannot be placed
            raise SystemExit(f"files no distribution's RECORD names: {sorted(map(str, unowned))[:5]}")
        sizes: dict[str, int] = {}
        for f in files:
            sizes[owner[f]] = sizes.get(owner[f], 0) + f.stat().st_size
        plan = plan_layers(needs, sizes, max(unzipped_size(out / f"lambda-{n.name}.zip") for n in needs))
        layers, staged = {}, {}
        python = sysconfig.get_python_version() if local else RUNTIME_PYTHON
        for layer_name, dists in plan.items():
            members = {f for f in files if owner[f] in dists}
            staged[layer_name] = Path(tmp) / layer_name
            for path in members:
                target = staged[layer_name] / "python" / path.relative_to(site.resolve())
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(path, target)
            tops = {f.name for f in (staged[layer_name] / "python").iterdir()}
            layers[layer_name] = {
                "platform": _platform(local),
                "python": python,
                "compatible_runtimes": [f"python{python}"],
                "distributions": {d: installed[d][0] for d in dists if d in installed},
                "unzipped_bytes": sum(sizes.get(d, 0) for d in dists),
                "functions": sorted(
                    n.name
                    for n in needs
                    if layer_name in ("layer-egress.zip", "layer-egress-core.zip") or set(dists) & set(n.distributions)
                ),
                "pruned": [p for p in pruned if p.split("/")[0] in tops],
            }
        # zlib lets go of the GIL while it compresses: two layers at a time take half as long.
        with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
            list(pool.map(lambda name: zip_tree(staged[name], out / name), sorted(staged)))
    return layers


def _markers(local: bool) -> dict[str, str]:
    return {} if local else RUNTIME_MARKERS


def _platform(local: bool) -> str:
    return sysconfig.get_platform().replace("-", "_").replace(".", "_") if local else RUNTIME_PLATFORM


# ---- container images ---------------------------------------------------------------------------------------------
DOCKERFILE = """\
# Generated by tools/package.py (`make package`) from lambdas/{name}/: the {name} function as a Lambda container
# image. Build it for the function's architecture and push it to the function's ECR repository, e.g.
#   docker buildx build --platform linux/amd64 --provenance=false -t <repository_url>:{tag} build/images/{name}
# then give Terraform the image's URI (see the module's README). Edit the sources, not this file.
FROM {base}

# What lambdas/{name}/handler.py imports through the library, and what that requires: requirements.lock's pins
# and hashes, wheels only, for this image's platform. The library itself, from the wheel built beside it.
COPY requirements.txt library.txt {wheel} /tmp/build/
RUN pip install --no-cache-dir --disable-pip-version-check --require-hashes --no-deps --only-binary=:all: \\
        --target "${{LAMBDA_TASK_ROOT}}" -r /tmp/build/requirements.txt \\
    && pip install --no-cache-dir --disable-pip-version-check --require-hashes --no-deps \\
        --target "${{LAMBDA_TASK_ROOT}}" -r /tmp/build/library.txt \\
    && rm -rf /tmp/build

# The function's own files, handler.py at the task root (as in build/lambda-{name}.zip).
COPY function/ ${{LAMBDA_TASK_ROOT}}/

# Powertools' Logger reads the service name; the function's Lambda environment holds only what the code reads.
ENV POWERTOOLS_SERVICE_NAME=egress-{name}

CMD ["{handler}"]
"""


def image_context(out: Path, function_dir: Path, needs: LambdaNeeds, wheel: Path) -> dict:
    """``out/images/<name>/``: the Docker build context of a function deployed as a container image (the module
    docstring says what it holds). ``needs`` is the function's, its markers the Lambda runtime's. Returns its
    manifest entry: the context's path, base image, command, distributions, each file's sha256, a digest of them
    all and a tag (its first 16 hex digits: the same sources give the same tag)."""
    if len(needs.handlers) != 1:
        raise SystemExit(f"lambdas/{needs.name}: an image runs one entry point, the handler has {needs.handlers}")
    (handler,) = needs.handlers
    folder = out / "images" / needs.name
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "function").mkdir(parents=True)
    _copy_files(function_files(function_dir), folder / "function")
    shutil.copy2(wheel, folder / wheel.name)
    (folder / "requirements.txt").write_text(_lock_entries(needs.distributions), encoding="utf-8")
    wheel_sha256 = digest(wheel)["sha256"]
    (folder / "library.txt").write_text(f"/tmp/build/{wheel.name} --hash=sha256:{wheel_sha256}\n", encoding="utf-8")
    files = {
        p.relative_to(folder).as_posix(): digest(p)["sha256"]
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "Dockerfile"
    }
    # The tag names everything but the Dockerfile, which names the tag.
    context_sha256 = hashlib.sha256("".join(f"{h}  {n}\n" for n, h in sorted(files.items())).encode()).hexdigest()
    tag = context_sha256[:16]
    (folder / "Dockerfile").write_text(
        DOCKERFILE.format(name=needs.name, base=IMAGE_BASE, wheel=wheel.name, handler=handler, tag=tag),
        encoding="utf-8",
    )
    files["Dockerfile"] = digest(folder / "Dockerfile")["sha256"]
    return {
        "context": folder.relative_to(out).as_posix(),
        "dockerfile": (folder / "Dockerfile").relative_to(out).as_posix(),
        "base_image": IMAGE_BASE,
        "command": [handler],
        "distributions": needs.distributions,
        "files": dict(sorted(files.items())),
        "context_sha256": context_sha256,
        "tag": tag,
    }


def build_images(out: Path, wheel: Path) -> dict[str, dict]:
    """``out/images/<name>/`` for every function of ``IMAGE_FUNCTIONS`` (the distributions it needs evaluated for
    the Lambda runtime, whatever platform the layers were built for)."""
    if (out / "images").exists():
        shutil.rmtree(out / "images")
    images = {}
    for name in IMAGE_FUNCTIONS:
        function_dir = LAMBDAS / name
        images[name] = image_context(out, function_dir, lambda_needs(function_dir, RUNTIME_MARKERS), wheel)
    return images


# ---- all of it ----------------------------------------------------------------------------------------------------
OWNED = ("egress_optimizer-*.whl", "lambda-*.zip", "layer-*.zip", "sagemaker-sourcedir.tar.gz", "manifest.json")


def build(out: Path, layer: str = "runtime") -> dict:
    """Every artefact into ``out`` and ``out/manifest.json``; ``layer`` is ``runtime`` (the Lambda runtime's
    platform, from the index), ``local`` (this platform, from this environment) or ``none``. Returns the manifest;
    ``manifest["problems"]`` says what could not be built or will not deploy."""
    out.mkdir(parents=True, exist_ok=True)
    for pattern in OWNED:
        for old in out.glob(pattern):
            old.unlink()
    wheel = build_wheel(out)
    glue = glue_scripts(out)
    bundle = sagemaker_bundle(out, wheel)
    needs = []
    for function_dir in lambda_dirs():
        lambda_zip(function_dir, out)
        needs.append(lambda_needs(function_dir, _markers(layer == "local")))
    images = build_images(out, wheel)
    problems: list[str] = []
    layers: dict[str, dict] = {}
    if layer != "none":
        try:
            layers = build_layers(out, needs, wheel, local=layer == "local")
        except LayerUnavailable as exc:
            problems.append(
                f"no Lambda layer: the index pip uses could not serve the {RUNTIME_PLATFORM} / Python "
                f"{RUNTIME_PYTHON} wheels ({exc}). `--local-layer` builds one for this platform (what the tests use)."
            )

    def entry(path: Path) -> dict:
        return {"path": path.relative_to(out).as_posix(), **digest(path)}

    artefacts = {p.name: entry(p) for p in [wheel, out / "sagemaker-sourcedir.tar.gz"]}
    artefacts.update({f"glue/{p.name}": entry(p) for p in glue})
    artefacts.update({f"lambda-{n.name}.zip": entry(out / f"lambda-{n.name}.zip") for n in needs})
    artefacts.update({name: entry(out / name) for name in layers})
    lambdas = {}
    for n in needs:
        attached = [name for name, info in layers.items() if n.name in info["functions"]]
        own = unzipped_size(out / f"lambda-{n.name}.zip")
        total = own + sum(layers[name]["unzipped_bytes"] for name in attached)
        lambdas[n.name] = {
            "artefact": f"lambda-{n.name}.zip",
            "handlers": n.handlers,
            "layers": attached,
            "imports": n.imports,
            "distributions": n.distributions,
            "optional_imports": n.optional,
            "unzipped_bytes": own,
            "unzipped_bytes_with_layers": total if layers else None,
            "image": images[n.name]["context"] if n.name in images else None,
        }
        if layers and total > LAMBDA_UNZIPPED_LIMIT and n.name not in images:
            problems.append(
                f"lambda {n.name}: {total / 2**20:.0f} MiB unzipped with its layers, over Lambda's 250 MB "
                "(a container image has 10 GB)"
            )
        if len(attached) > 5:
            problems.append(f"lambda {n.name}: {len(attached)} layers, over Lambda's 5")
    manifest = {
        "artefacts": dict(sorted(artefacts.items())),
        "lambdas": lambdas,
        "layers": layers,
        "glue": {f"glue/{p.name}": {"additional_python_modules": wheel.name} for p in glue},
        "sagemaker": {
            "source_dir": "sagemaker-sourcedir.tar.gz",
            "folder": bundle.relative_to(out).as_posix(),
            "entry_points": list(SAGEMAKER_SCRIPTS),
        },
        "images": images,
        "wheel": wheel.name,
        "limits": {"lambda_unzipped_bytes": LAMBDA_UNZIPPED_LIMIT, "layers_per_function": 5},
        "problems": problems,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "build")
    how = ap.add_mutually_exclusive_group()
    how.add_argument("--local-layer", action="store_true", help="the layer for this platform, from this environment")
    how.add_argument("--no-layer", action="store_true", help="everything but the Lambda layer")
    args = ap.parse_args(argv)
    manifest = build(args.out, "local" if args.local_layer else "none" if args.no_layer else "runtime")
    for name, art in manifest["artefacts"].items():
        print(f"{art['size']:>12,}  {art['sha256'][:16]}  {name}")
    for name, info in manifest["layers"].items():
        size = info["unzipped_bytes"] / 2**20
        print(f"{name}: {size:.0f} MiB unzipped ({info['platform']}, Python {info['python']}): {info['functions']}")
    for name, info in manifest["lambdas"].items():
        total = info["unzipped_bytes_with_layers"]
        size = f"{total / 2**20:.0f} MiB with layers" if total else "no layers built"
        print(f"lambda {name}: {', '.join(info['handlers'])}; {', '.join(info['layers']) or '-'}; {size}")
    for name, image in manifest["images"].items():
        print(f"image {name}: {args.out / image['context']} (tag {image['tag']}; docker build, see its Dockerfile)")
    for problem in manifest["problems"]:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    print(f"manifest: {args.out / 'manifest.json'}")
    # A layer that could not be built fails the build; sizes over Lambda's limits are reported, not fatal.
    return 1 if not args.no_layer and not manifest["layers"] else 0


if __name__ == "__main__":
    sys.exit(main())
