"""Rich progress bars for long commands (disabled automatically when output is not a terminal)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from egress_optimizer.cli import stderr


@contextmanager
def stage_progress(title: str, enabled: bool = True) -> Iterator[Callable[[str, float], None]]:
    """Yields ``update(stage, fraction)`` driving one bar from 0 to 1."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=stderr,
        transient=False,
        disable=not enabled,
    ) as progress:
        task = progress.add_task(title, total=1.0)

        def update(stage: str, fraction: float) -> None:
            progress.update(task, completed=min(max(fraction, 0.0), 1.0), description=f"{title}: {stage}")

        yield update
