"""Rich progress bars for long commands (disabled automatically when output is not a terminal)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from egress_optimizer.cli import stderr


def _progress(enabled: bool, *columns) -> Progress:
    return Progress(*columns, TimeElapsedColumn(), console=stderr, transient=False, disable=not enabled)


def _stage_update(progress: Progress, title: str) -> Callable[[str, float], None]:
    task = progress.add_task(title, total=1.0)

    def update(stage: str, fraction: float) -> None:
        progress.update(task, completed=min(max(fraction, 0.0), 1.0), description=f"{title}: {stage}")

    return update


def _bytes_update(progress: Progress, title: str) -> Callable:
    task = progress.add_task(title, total=None)

    def update(result, done: int, total: int) -> None:
        progress.update(task, completed=done, total=total, description=f"{title} {result.uri.rsplit('/', 1)[-1][:40]}")

    return update


@contextmanager
def stage_progress(title: str, enabled: bool = True) -> Iterator[Callable[[str, float], None]]:
    """Yields ``update(stage, fraction)`` driving one bar from 0 to 1."""
    with _progress(
        enabled, TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%")
    ) as p:
        yield _stage_update(p, title)


@contextmanager
def ingest_progress(enabled: bool = True) -> Iterator[Callable]:
    """Yields ``update(object_result, bytes_done, bytes_total)`` for ingestion, a bar in bytes. The bar appears
    with the first object, so input refused before any work (a missing path) leaves only its error line."""
    started: list[tuple[Progress, Callable]] = []

    def update(result, done: int, total: int) -> None:
        if not started:
            p = _progress(enabled, TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn())
            p.start()
            started.append((p, _bytes_update(p, "ingest")))
        started[0][1](result, done, total)

    try:
        yield update
    finally:
        if started:
            started[0][0].stop()


@contextmanager
def demo_progress(enabled: bool = True) -> Iterator[tuple[Callable[[str, float], None], Callable]]:
    """One display with a bar for generating the estate and one for ingesting it."""
    with _progress(enabled, TextColumn("[bold]{task.description}"), BarColumn()) as p:
        yield _stage_update(p, "generate"), _bytes_update(p, "ingest")
