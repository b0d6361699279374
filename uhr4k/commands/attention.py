"""``uhr4k attention IMAGE...``: GLSGN's perceptual-attention maps as images (the paper's Figure 8)
(library calls: :func:`uhr4k.models.archs.glsgn.attention.attention_maps` and ``write_attention``)."""
from __future__ import annotations

from pathlib import Path

import click

from uhr4k.core.errors import InputError


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
    import torch

    from uhr4k.core.images import read_image, to_uint8
    from uhr4k.data import to_tensor
    from uhr4k.models.archs.glsgn.attention import attention_maps, write_attention
    from uhr4k.models.archs.glsgn.model import GLSGN
    from uhr4k.models.factory import create_model

    net = create_model(model, pretrained=checkpoint) if checkpoint else create_model(model)
    if not isinstance(net, GLSGN):
        raise InputError(f"{model!r} is not a GLSGN: attention maps are GLSGN's", "--model")
    if checkpoint is None:
        click.echo(f"warning: {model} has random weights (no --checkpoint): the maps show the initialisation",
                   err=True)
    net = net.to(device)
    for path in images:
        image = read_image(path)
        x = to_tensor(image)[None].to(device)
        with torch.no_grad():
            maps = attention_maps(net, x)
        try:
            written = write_attention(maps, to_uint8(image), out / path.stem, level=level)
        except ValueError as exc:
            raise InputError(str(exc), "--level") from None
        click.echo(f"{path}: {len(written)} images in {out / path.stem} (sheet.png)")
