"""``uhr4k models``: every registered model with its parameters and MACs at 4K."""
from __future__ import annotations

import click

from uhr4k.commands.options import parse_size


def model_rows(names, size: tuple[int, int]) -> list[dict]:
    """Per model: name, parameters, MACs of one forward pass at ``size`` (width, height), or why not."""
    from uhr4k.benchmark.profiling import count_macs, count_parameters
    from uhr4k.models import create_model

    rows = []
    for name in names:
        model = create_model(name)
        _, params = count_parameters(model)
        try:
            macs = count_macs(model, (1, 3, size[1], size[0]))
            macs_text = f"{macs / 1e12:.3f} T"
        except Exception as exc:  # a model that needs real values on the meta device: say so, keep going
            macs_text = f"n/a ({type(exc).__name__})"
        rows.append({"model": name, "params": f"{params / 1e6:.3f} M", "macs": macs_text})
    return rows


@click.command(name="models")
@click.argument("names", nargs=-1)
@click.option("--size", default="3840x2160", show_default=True, help="WIDTHxHEIGHT at which MACs are counted.")
def command(names, size):
    """List registered models (or only NAMES) with parameters and MACs.

    MACs are multiply-accumulates of one forward pass, counted by torch's FlopCounterMode (which counts 2
    FLOPs per MAC) divided by 2 on the meta device: the "FLOPs" of thop/ptflops and of most papers.
    """
    from uhr4k.models import list_models

    width_height = parse_size(size, "--size")
    known = list_models()
    unknown = [n for n in names if n not in known]
    if unknown:
        from uhr4k.errors import InputError
        raise InputError(f"unknown model {', '.join(map(repr, unknown))}; registered: {', '.join(known)}")
    rows = model_rows(names or known, width_height)
    click.echo(f"{'model':24s} {'parameters':>12s} {'MACs @ ' + size:>22s}")
    for row in rows:
        click.echo(f"{row['model']:24s} {row['params']:>12s} {row['macs']:>22s}")
    click.echo("MACs: FlopCounterMode total / 2 (multiply-accumulates, the 'FLOPs' of thop/ptflops), meta device.")
