"""The ``syndicate`` command line: a thin shell over the pipeline's functions.

Exit codes: 0 success; 1 some work failed (a source could not be read); 2 bad
configuration or usage; 3 the store could not be opened or written.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

# The root group imports each command's module when that command is used
# (``syndicate.cli.app.COMMANDS``), so importing this package stays light.
from syndicate.cli.app import cli
from syndicate.cli.failures import describe, first_line
from syndicate.errors import ConfigError, StoreError, SyndicateError

__all__ = ["cli", "main"]


def _fail(message: str, code: int) -> NoReturn:
    # Plain echo, not rich: paths and keys in error messages must not be wrapped.
    click.secho("error: ", fg="red", err=True, nl=False)
    click.echo(message, err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: maps our errors to messages and exit codes."""
    handlers: list[tuple[type[SyndicateError], int]] = [(ConfigError, 2), (StoreError, 3)]
    try:
        cli.main(args=argv, prog_name="syndicate", standalone_mode=False)
    except click.exceptions.Abort:
        _fail("aborted", 130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except SyndicateError as err:
        code = next((c for kind, c in handlers if isinstance(err, kind)), 1)
        # A store error's cause may append SQL and a link: the operator needs the line.
        _fail(first_line(str(err)) if code == 3 else str(err), code)
    except BrokenPipeError:
        sys.exit(1)  # output piped into a reader that stopped (e.g. head): nothing to say
    except Exception as err:
        failure = describe(err)
        if failure is None:
            raise
        _fail(*failure)
