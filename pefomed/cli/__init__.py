"""The ``pefomed`` command line. Each subcommand lives in its own module and registers on ``main``.

Bad input (a :class:`~pefomed.errors.PefomedError`) prints one line and exits with status 2;
tracebacks are for bugs only.
"""
from __future__ import annotations

import sys

import click

from pefomed.cli.app import main

# importing the command modules registers their commands on `main`
from pefomed.cli import ls  # noqa: E402,F401
from pefomed.cli import inspect  # noqa: E402,F401,A004
from pefomed.cli import plan  # noqa: E402,F401
from pefomed.cli import report, sweep  # noqa: E402,F401
from pefomed.cli import eval, train  # noqa: E402,F401,A004
from pefomed.cli import convert, export, predict  # noqa: E402,F401

__all__ = ["main"]
