"""Running a Lambda handler file in-process: its module loaded from `lambdas/`, and the context object."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from egress_optimizer.respond.local import LocalContext
from tests.scripts import load_script

LAMBDAS = Path(__file__).resolve().parents[1] / "lambdas"


def context(function: str) -> LocalContext:
    """The context object Powertools reads, as the local workflow runner gives it to handlers."""
    return LocalContext(function)


def load_handler(name: str) -> ModuleType:
    """A fresh module of ``lambdas/<name>/handler.py`` (its clients are made at import, as in Lambda)."""
    return load_script(LAMBDAS / name / "handler.py", f"{name}_handler")
