"""``uhr4k attention IMAGE...``: GLSGN's perceptual-attention maps as images (the paper's Figure 8)
(library call: :func:`uhr4k.app.models.attention`)."""
from __future__ import annotations

from pathlib import Path

import click

from uhr4k.app.models import attention


@click.command(name="attention")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--model", default="glsgn", show_default=True,
              help="A registered GLSGN (glsgn, glsgn-pn, glsgn-pac, ...).")
@click.option("--checkpoint", type=click.Path(exists=True, path_type=Path), default=None,
              help="Trained weights (uhr4k .pt, exported folder, ...); without: random weights (said).")
@click.option("--level", type=click.IntRange(min=0), default=0, show_default=True,
              help="Encoder scale of the maps (0: each pathway's full patch resolution).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("attention-out"),
              show_default=True, help="Writes OUT/<image stem>/<pathway>-level<l>-{plain,pac}.png and sheet.png.")
@click.option("--device", default="cpu", show_default=True)
def command(images, model, checkpoint, level, out, device):
    """Write the perceptual-attention maps of every GLSGN pathway for each IMAGE: the plain spatial
    attention f(E) of each pathway and, with PAC, the consistent map A of eq. 2 that re-weights its
    features (Figure 8: ASP vs APAC)."""
    done = attention(images, model, checkpoint=checkpoint, level=level, out=out, device=device,
                     echo=lambda line: click.echo(line, err=True))
    for result in done:
        click.echo(result.line())
