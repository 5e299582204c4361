"""The architecture we keep, checked: the lake's table names live in the table registry only, the entry points
wire nothing themselves, and the import layers hold (``lint-imports``, run here so `make test` fails on a
broken contract)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from egress_optimizer.tables import ALL

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "egress_optimizer"
ENTRY_POINTS = ("lambdas", "glue_jobs", "sagemaker", "bench")
TABLE_NAMES = {t.name for t in ALL}


def _python_files(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


# Lake and DuckDB methods that take a table: a literal table name passed to one is a second registry.
TABLE_ARGUMENT_METHODS = {
    "read", "read_table", "write_part", "part_writer", "delete_files", "files", "has", "dataset", "exists",
    "write_table", "replace_table", "upsert", "register", "table", "sql", "execute",
}  # fmt: skip


def _table_literals(path: Path) -> list[tuple[int, str]]:
    """Table names written as literals where a table is meant: a Lake or DuckDB method's argument, a test of
    membership (``"vpc_flow" in tables``), or SQL that names a table after FROM / JOIN / TABLE."""
    import re

    sql_table = re.compile(r"\b(?:FROM|JOIN|TABLE|DESCRIBE)\s+([a-z0-9_]+)\b", re.IGNORECASE)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in TABLE_ARGUMENT_METHODS:
            args = [*node.args, *(k.value for k in node.keywords)]
            found += [(a.lineno, a.value) for a in args if isinstance(a, ast.Constant) and a.value in TABLE_NAMES]
        elif isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant):
            if node.left.value in TABLE_NAMES and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops):
                found.append((node.lineno, node.left.value))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [(node.lineno, name) for name in sql_table.findall(node.value) if name in TABLE_NAMES]
    return found


def test_table_names_are_spelled_only_in_the_registry():
    """Code outside the registry names a table through it (``tables.VPC_FLOW``), never as a literal; SQL
    reads the views ``Lake.connect`` registers under the registry's names (f-strings carry them)."""
    registry = PACKAGE / "tables"
    files = [p for p in _python_files(PACKAGE, *(ROOT / d for d in ENTRY_POINTS)) if registry not in p.parents]
    found = [f"{path.relative_to(ROOT)}:{line}: {value!r}" for path in files for line, value in _table_literals(path)]
    assert not found, "table names outside egress_optimizer.tables:\n" + "\n".join(found)


@pytest.mark.parametrize("folder", ["cli", *ENTRY_POINTS])
def test_entry_points_build_no_duckdb_connection(folder):
    """The CLI, Lambdas, Glue and SageMaker scripts and bench/ get their engine from the lake."""
    base = PACKAGE / folder if folder == "cli" else ROOT / folder
    offenders = []
    for path in _python_files(base):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "connect" and getattr(node.value, "id", "") == "duckdb":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders


def test_nothing_imports_the_cli_or_private_names_across_modules():
    offenders = []
    for path in _python_files(PACKAGE, *(ROOT / d for d in ENTRY_POINTS)):
        # the CLI's own modules, and ``python -m egress_optimizer`` (which is the CLI)
        module_is_cli = PACKAGE / "cli" in path.parents or path == PACKAGE / "__main__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("egress_optimizer"):
                continue
            if node.module.startswith("egress_optimizer.cli") and not module_is_cli:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {node.module}")
            private = [a.name for a in node.names if a.name.startswith("_") and a.name != "__version__"]
            if private:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {private} from {node.module}")
    assert not offenders, "\n".join(offenders)


def test_import_layers_hold():
    """The contracts in pyproject.toml ([tool.importlinter]): layers, no cycles, nothing imports the CLI."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is a dev dependency: lint-imports must be installed"
    proc = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
