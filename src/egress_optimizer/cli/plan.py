"""``egress plan``: planners that turn observed traffic into cheaper designs, with dollar figures."""

from __future__ import annotations

import typer

from egress_optimizer.cli import app

plan_app = typer.Typer(
    name="plan",
    help="Planners: replication trees, percentile-billing link allocation, routing, recommendations from the lake.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(plan_app, name="plan")
