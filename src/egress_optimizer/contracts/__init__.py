"""Typed, versioned contracts between stages (and with the world): what one stage emits and the next reads.

Each contract is a pydantic model with its JSON Schema shipped beside it (``schemas/<name>.schema.json``),
so consumers in other languages validate what we send, and ``egress schema <name>`` prints it. The shipped
files are generated (``python -m egress_optimizer.contracts``); a test fails when one drifts from its model.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from egress_optimizer.contracts.incident import Incident

CONTRACTS = {"incident": Incident}


def schema_path(name: str) -> str:
    return f"schemas/{name}.schema.json"


def shipped_schema(name: str) -> dict:
    """The JSON Schema shipped in the package for contract ``name``."""
    if name not in CONTRACTS:
        raise KeyError(name)
    return json.loads((resources.files(__package__) / schema_path(name)).read_text(encoding="utf-8"))


def generated_schema(name: str) -> dict:
    """The JSON Schema the model defines today (the shipped file must equal it; tests check)."""
    schema = CONTRACTS[name].model_json_schema(by_alias=True, mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def write_schemas() -> list[Path]:
    """Regenerate every shipped schema file from its model; returns the files written."""
    written = []
    for name in CONTRACTS:
        path = Path(__file__).parent / schema_path(name)
        path.write_text(json.dumps(generated_schema(name), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
