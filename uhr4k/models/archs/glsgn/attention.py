"""GLSGN's perceptual-attention maps, as the paper's Figure 8 shows them (plain spatial attention vs PAC).

For every pathway and encoder scale, :func:`attention_maps` returns the pathway's own spatial attention
``f_k(E_k)`` ("ASP", plain) and the map that actually re-weights its skip ``A_k`` (eq. 2: "APAC" when the
model has PAC; the same map when it has not), stitched from the pathway's patches into whole images.
The maps are read off the model's own forward pass (the pathways' ``gate`` calls are recorded): nothing
is recomputed, so they are exactly what the model used.

:func:`write_attention` renders them as heat-map PNGs, plus a contact sheet per image
(input | plain | PAC per pathway), for ``uhr4k attention``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from uhr4k.benchmark.report import comparison_grid
from uhr4k.core.images import from_float, write_image
from uhr4k.models.archs.glsgn.memory import from_patches
from uhr4k.models.archs.glsgn.model import GLSGN


@dataclass
class AttentionMap:
    """One pathway's attention at one encoder scale, for every image of the batch.

    ``plain`` is ``f_k(E_k)`` and ``applied`` the map that re-weighted the skip (eq. 2-3), both
    (B, 1, h, w) in (0, 1), h and w the pathway's feature size at that scale over the whole image.
    """

    pathway: str        # "global", "local1", "local2", ...
    level: int          # encoder scale, 0 = the pathway's full patch resolution
    scale: int          # the map's pixel is this many input pixels on a side
    plain: torch.Tensor
    applied: torch.Tensor


def attention_maps(model: GLSGN, x: torch.Tensor) -> list[AttentionMap]:
    """Every pathway's attention maps on the (B, 3, H, W) input ``x`` in [0, 1], global pathway first.

    Runs ``model(x)`` once without autograd; the maps are cropped back to the unpadded image.
    """
    if not isinstance(model, GLSGN):
        raise TypeError(f"attention maps are GLSGN's; got {type(model).__name__}")
    pathways = [("global", model.global_pathway, (1, 1), model.grid_side)]
    for k, pathway in enumerate(model.local_pathways):
        side = model.grid_side // 2 ** k
        pathways.append((f"local{k + 1}", pathway, (side, side), 2 ** k))
    records: dict[str, list] = {name: [] for name, *_ in pathways}
    for name, pathway, _, _ in pathways:
        def recording_gate(level, own, context, grid, consistency, _gate=pathway.gate, _store=records[name]):
            applied = _gate(level, own, context, grid, consistency)
            _store.append((level, own.detach(), applied.detach()))
            return applied
        pathway.gate = recording_gate       # an instance attribute shadows the method for this pass only
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for _, pathway, _, _ in pathways:
            del pathway.gate                # back to the class's method
        model.train(was_training)
    height, width = x.shape[-2:]
    maps = []
    for name, _, grid, scale in pathways:
        for level, own, applied in records[name]:
            s = scale * 2 ** level
            h, w = -(-height // s), -(-width // s)
            maps.append(AttentionMap(name, level, s, from_patches(own, grid)[..., :h, :w],
                                     from_patches(applied, grid)[..., :h, :w]))
    return maps


def heatmap(a: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """(1, h, w) map in [0, 1] -> (H, W, 3) uint8 RGB heat map (OpenCV's JET, nearest-neighbour upscaled to
    ``size`` = (width, height) so that each attention pixel stays visible as a block)."""
    gray = from_float(a[0].float().cpu().numpy())
    gray = cv2.resize(gray, size, interpolation=cv2.INTER_NEAREST)
    return cv2.cvtColor(cv2.applyColorMap(gray, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def write_attention(maps: list[AttentionMap], image: np.ndarray, out: Path, level: int = 0,
                    index: int = 0) -> list[Path]:
    """Heat maps of batch item ``index`` at encoder ``level`` into ``out``: ``<pathway>-level<l>-plain.png``
    and ``-pac.png`` (when the applied map differs from the plain one), and ``sheet.png``: input | each
    pathway's plain map | its applied map, captioned. Returns the paths written."""
    size = (image.shape[1], image.shape[0])
    written, panels = [], [("input", image)]

    def save(name, img):
        write_image(out / name, img)
        written.append(out / name)
    chosen = [m for m in maps if m.level == level]
    if not chosen:
        raise ValueError(f"no attention maps at level {level} (levels {sorted({m.level for m in maps})})")
    for m in chosen:
        plain = heatmap(m.plain[index], size)
        save(f"{m.pathway}-level{m.level}-plain.png", plain)
        panels.append((f"{m.pathway}: plain f(E)\n1 px = {m.scale} px", plain))
        if not torch.equal(m.plain, m.applied):
            pac = heatmap(m.applied[index], size)
            save(f"{m.pathway}-level{m.level}-pac.png", pac)
            panels.append((f"{m.pathway}: PAC A (eq. 2)\n1 px = {m.scale} px", pac))
    save("sheet.png", comparison_grid(panels, panel_width=min(480, size[0]), columns=5))
    return written
