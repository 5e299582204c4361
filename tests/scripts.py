"""Loading a script that is not part of the package (a Lambda handler, a Glue job, a bench or tools script)
as a fresh module."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def load_script(path: Path, name: str) -> ModuleType:
    """A fresh module named ``name`` from the file at ``path`` (executed now, as its runtime would)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
