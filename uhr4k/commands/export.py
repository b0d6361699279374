"""``uhr4k export``: a training checkpoint -> a weights-only model folder (library call:
:func:`uhr4k.app.models.export`)."""
from __future__ import annotations

import click

from uhr4k.app.models import export


@click.command(name="export")
@click.argument("checkpoint", type=click.Path())
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder for model.safetensors and config.json (created; those two files are replaced).")
def command(checkpoint, out):
    """Export CHECKPOINT (e.g. RUN/best.pt) as OUT/model.safetensors + OUT/config.json.

    The folder is a Hugging Face model folder (upload it with huggingface_hub unchanged) that loads offline
    with `uhr4k.models.from_pretrained(OUT)`, `create_model(NAME, pretrained=OUT)` or
    `uhr4k bench --weights OUT`. Keep the .pt checkpoint for `uhr4k train --resume`.
    """
    folder = export(checkpoint, out)
    click.echo(f"exported {checkpoint} -> {folder / 'model.safetensors'}, {folder / 'config.json'}")
