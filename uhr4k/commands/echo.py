"""Printing what the application layer says (:class:`uhr4k.app.reports.Line`), each line on its stream."""
from __future__ import annotations

import click


def echo_lines(lines) -> None:
    """Each line's text on stdout, or on stderr where ``line.err`` (warnings and failures)."""
    for line in lines:
        click.echo(line.text, err=line.err)
