"""Retrying a delivery with exponential backoff and full jitter, for errors worth retrying only.

A few quick attempts inside one run ride out a dropped connection or a brief 5xx; what is still failing after
them is the caller's to hand on (the alert run fails its queue message, which SQS redelivers later and, after
its last attempt, moves to the dead-letter queue), so nothing here waits long or gives up silently.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class Exhausted(Exception):
    """Every attempt failed (or the error was not worth retrying); ``last`` is the final error."""

    def __init__(self, what: str, attempts: int, last: BaseException) -> None:
        super().__init__(f"{what}: failed after {attempts} attempt(s): {type(last).__name__}: {last}")
        self.attempts = attempts
        self.last = last


@dataclass(frozen=True)
class Backoff:
    attempts: int = 4
    base_seconds: float = 0.5
    cap_seconds: float = 8.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_seconds < 0:
            raise ValueError("a backoff needs at least one attempt and a non-negative base delay")

    def delay(self, attempt: int) -> float:
        """Full jitter (a random wait up to base x 2^attempt, capped): retries of many runs do not align."""
        return random.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt))


def call(
    what: str,
    fn: Callable[[], T],
    retryable: Callable[[BaseException], bool],
    backoff: Backoff,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``fn()``, retried while it raises an error ``retryable`` accepts; ``Exhausted`` otherwise."""
    for attempt in range(backoff.attempts):
        try:
            return fn()
        except Exception as exc:
            if not retryable(exc) or attempt == backoff.attempts - 1:
                raise Exhausted(what, attempt + 1, exc) from exc
            sleep(backoff.delay(attempt))
    raise AssertionError("unreachable: the loop returns or raises")
