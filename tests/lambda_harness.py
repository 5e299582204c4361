"""Running a Lambda handler file in-process: its module loaded from `lambdas/`, and the context object."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from tests.scripts import load_script

LAMBDAS = Path(__file__).resolve().parents[1] / "lambdas"


@dataclass
class FakeLambdaContext:
    """What Powertools reads from the Lambda context object (not an AWS client)."""

    function_name: str = "egress-function"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:egress-function"
    aws_request_id: str = "6f1d2a3b-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def context(function: str) -> FakeLambdaContext:
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function}"
    return FakeLambdaContext(function, invoked_function_arn=arn)


def load_handler(name: str) -> ModuleType:
    """A fresh module of ``lambdas/<name>/handler.py`` (its clients are made at import, as in Lambda)."""
    return load_script(LAMBDAS / name / "handler.py", f"{name}_handler")
