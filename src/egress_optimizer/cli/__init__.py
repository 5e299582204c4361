"""The ``egress`` command line (typer + rich).

Every command shares one error policy: bad input gives a one-line message and exit code 2; an internal
error gives a one-line message and exit code 1, with the traceback only under ``--debug``.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console
from typer.exceptions import TyperException

from egress_optimizer import __version__
from egress_optimizer.errors import EgressError, InputError

app = typer.Typer(
    name="egress",
    help="Egress Cost Optimizer: find who pays for data leaving AWS, catch and explain egress-cost anomalies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
stdout = Console()
stderr = Console(stderr=True)


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for internal errors.")) -> None:
    """Egress Cost Optimizer."""
    # --debug is read by run() before parsing, so errors raised during parsing honour it too.


@app.command()
def version(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print the version."""
    from egress_optimizer.pricing import load_catalog

    info = {"egress_optimizer": __version__, "price_table": load_catalog().version}
    if json_out:
        import json

        print(json.dumps(info))
    else:
        stdout.print(f"egress-optimizer {__version__} (price table {info['price_table']})")


def _register() -> None:
    """Import every module of this package: each registers its commands on ``app`` when imported."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        if module.name != "progress":
            importlib.import_module(f"{__name__}.{module.name}")


def _fail(message: str, code: int) -> int:
    first = " ".join(str(message).split())  # one line, whatever the message contained
    print(f"egress: error: {first}", file=sys.stderr)
    return code


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (used by ``main`` and by tests)."""
    _register()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        argv = ["--help"]
    debug = "--debug" in argv or os.environ.get("EGRESS_DEBUG") == "1"
    try:
        result = app(args=argv, prog_name="egress", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        return _fail("aborted", 130)
    except TyperException as e:  # bad option, missing argument, bad value (typer's vendored click errors)
        if type(e).__name__ == "NoArgsIsHelpError":  # help was printed: not an error
            return 0
        return _fail(e.format_message(), 2)
    except InputError as e:
        return _fail(str(e), 2)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except EgressError as e:
        if debug:
            raise
        return _fail(str(e), 1)
    except Exception as e:  # a bug: keep it short unless asked
        if debug:
            raise
        return _fail(f"internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)", 1)


def main() -> None:
    sys.exit(run())
