"""The model jobs beside training and bench: a checkpoint exported as a model folder, and GLSGN's
perceptual-attention maps written as images (the paper's Figure 8).

Both load torch, so it is imported inside them: importing this module (``uhr4k export --help``) stays light.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from uhr4k.core.errors import InputError


def export(checkpoint: str | os.PathLike, out: str | os.PathLike) -> Path:
    """``checkpoint`` (a training .pt) as ``out/model.safetensors`` + ``out/config.json``, a Hugging Face
    model folder; returns the folder (see :func:`uhr4k.models.weights.export.export_checkpoint`)."""
    from uhr4k.models.weights.export import export_checkpoint

    return export_checkpoint(checkpoint, out)


@dataclass
class AttentionImages:
    """The maps of one input image: ``written`` the PNGs in ``folder`` (``sheet.png`` among them)."""

    image: Path
    folder: Path
    written: list[Path]

    def line(self) -> str:
        return f"{self.image}: {len(self.written)} images in {self.folder} (sheet.png)"


def attention(images, model: str = "glsgn", *, checkpoint: str | os.PathLike | None = None, level: int = 0,
              out: str | os.PathLike = "attention-out", device: str = "cpu", echo=None) -> list[AttentionImages]:
    """Write the perceptual-attention maps of every pathway of the GLSGN ``model`` for each of ``images``
    into ``out/<image stem>/`` (:func:`uhr4k.models.archs.glsgn.attention.write_attention`).

    Args:
        checkpoint: trained weights (uhr4k .pt, exported folder, ...); None: random weights, which ``echo``
            is told (called with that warning before any image is read; None: silent).
        level: encoder scale of the maps (0: each pathway's full patch resolution).
    Raises:
        InputError: ``model`` is not a GLSGN, or ``level`` is deeper than its encoder.
    """
    import torch

    from uhr4k.core.images import read_image, to_uint8  # numpy, OpenCV
    from uhr4k.data import to_tensor  # torch
    from uhr4k.models.archs.glsgn.attention import attention_maps, write_attention
    from uhr4k.models.archs.glsgn.model import GLSGN
    from uhr4k.models.factory import create_model

    net = create_model(model, pretrained=checkpoint) if checkpoint else create_model(model)
    if not isinstance(net, GLSGN):
        raise InputError(f"{model!r} is not a GLSGN: attention maps are GLSGN's", "--model")
    if checkpoint is None and echo is not None:
        echo(f"warning: {model} has random weights (no --checkpoint): the maps show the initialisation")
    net = net.to(device)
    done = []
    for path in map(Path, images):
        image = read_image(path)
        with torch.no_grad():
            maps = attention_maps(net, to_tensor(image)[None].to(device))
        folder = Path(out) / path.stem
        try:
            written = write_attention(maps, to_uint8(image), folder, level=level)
        except ValueError as exc:
            raise InputError(str(exc), "--level") from None
        done.append(AttentionImages(path, folder, written))
    return done
