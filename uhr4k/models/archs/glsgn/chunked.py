"""Chunked inference of a GLSGN pathway: the same computation as :meth:`Pathway.forward`, with the
patch-local operations run on at most ``chunk`` patches at a time.

At 3840 x 2160 the first local pathway holds 16 patches of 544 x 960 whose 16-channel features take
0.53 GB per tensor in fp32; running each operation on a few patches at a time bounds the transient
tensors (the concatenation fused by eq. 1 is 4x that) and lowers the peak resident memory by about a
third (docs/benchmarks.md, glsgn). Patch normalization couples the patches of an image, so its per-patch
intensities are gathered chunk by chunk and its factors (eq. 4) computed once over all patches.

Every operation that goes through :func:`map_chunks` is patch-local, so chunking changes memory and
never the result (a test compares it with the straight pass).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from uhr4k.models.archs.glsgn.blocks import PathwayContext, PathwayResult, apply_gate, is_channels_last


def map_chunks(fn: Callable[..., torch.Tensor], tensors: tuple[torch.Tensor, ...], chunk: int) -> torch.Tensor:
    """``fn(*slices)`` over aligned slices of at most ``chunk`` patches of ``tensors`` (N, ...), results
    concatenated on dim 0 into one preallocated tensor in the memory order of the results."""
    n = tensors[0].shape[0]
    if chunk >= n:
        return fn(*tensors)
    out = None
    for start in range(0, n, chunk):
        part = fn(*(t[start:start + chunk] for t in tensors))
        if out is None:
            # In the chunk's memory order: an NCHW buffer for channels-last chunks would make every copy
            # into it a strided scatter and every convolution after it convert the whole tensor back.
            layout = torch.channels_last if is_channels_last(part) else torch.contiguous_format
            out = torch.empty((n, *part.shape[1:]), dtype=part.dtype, device=part.device, memory_format=layout)
        out[start:start + chunk] = part
    return out


def chunked_pathway(pathway, x: torch.Tensor, grid: tuple[int, int], context: PathwayContext, *,
                    consistency: bool, chunk: int, export_pooled: bool = False) -> PathwayResult:
    """:meth:`Pathway.forward` (same arguments) with patch-local steps in chunks of ``chunk`` patches.

    Meant for inference (no autograd): with autograd every chunk's activations are kept anyway.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")

    def each(fn, *tensors):
        return map_chunks(fn, tensors, chunk)

    features = each(pathway.head, x)
    skips, attention = [], []
    for level in range(pathway.scales):
        features = each(pathway.encoders[level], features)
        own = each(pathway.attention[level], features)
        gate = pathway.gate(level, own, context, grid, consistency)
        skips.append(each(apply_gate, features, gate))
        attention.append(F.avg_pool2d(own, 2) if export_pooled else own)
        del features  # freed before the next tensor is allocated: at 4K each is 0.53 GB
        features = each(pathway.downs[level], skips[-1])
    features = each(pathway.middle, features)

    decoded = [None] * pathway.scales
    for level in reversed(range(pathway.scales)):
        z = each(partial(pathway.fuse, level), features, skips.pop(), *pathway.decoder_inputs(level, context, grid))
        for j, block in enumerate(pathway.decoders[level]):
            z_hat = each(block, z)
            if pathway.patch_norms is not None:
                norm = pathway.patch_norms[level][j]
                factor = norm.factor(each(norm.intensity, z, z_hat), grid)
                del z  # the block input is no longer needed: one full-size tensor less at the peak
                z_hat = each(norm.modulate, z_hat, factor)
            z = z_hat  # one name per tensor: nothing full-size outlives its use
        decoded[level] = F.avg_pool2d(z, 2) if export_pooled else z
        features = z
    output = each(lambda image, f: image + pathway.tail(f), x, features)
    return PathwayResult(output, decoded, attention)
