"""GLSGN's memory mechanics, apart from its equations: the patch batch and its memory order, the one-channel
gate laid out for channels-last inference, and the chunk plan of the low-memory inference pass.

**Patches.** A pathway's patches travel as one batch ``(B * gh * gw, C, h, w)``, ordered image by image and,
inside an image, row by row (``n = (b * gh + i) * gw + j``), so that the grid of an image can be rebuilt for
the statistics that couple patches (patch normalization) and for stitching. :func:`to_patches` and
:func:`from_patches` keep the memory order of their input: channels-last images give channels-last patches.

**Chunks.** At 3840 x 2160 the first local pathway holds 16 patches of 544 x 960 whose 16-channel features
take 0.53 GB per tensor in fp32; running each patch-local operation on a few patches at a time bounds the
transient tensors (the concatenation fused by eq. 1 is 4x that) and lowers the peak resident memory by about
a third (docs/benchmarks.md, glsgn). :meth:`Pathway.forward <uhr4k.models.archs.glsgn.model.Pathway.forward>`
runs every patch-local operation through :meth:`ChunkPlan.map`; :data:`WHOLE` (training, ``torch.compile``)
runs it on all patches at once, :func:`inference_plan` picks chunks of ``patch_chunk`` patches where no
autograd graph keeps the chunks' activations anyway. Only patch-local operations go through the plan, so
it changes memory and never the result (a test compares the two).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

# Patches per chunk of the inference pass when the model does not set ``patch_chunk``.
INFERENCE_PATCH_CHUNK = 4


def is_channels_last(x: torch.Tensor) -> bool:
    """True for a 4-D tensor stored in NHWC order (and not also NCHW-contiguous, as C = 1 or 1 x 1 maps are)."""
    return x.ndim == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)


def to_patches(x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """(B, C, gh*h, gw*w) -> (B*gh*gw, C, h, w), patches row by row, in the memory order of ``x``."""
    b, c, height, width = x.shape
    gh, gw = grid
    if height % gh or width % gw:
        raise ValueError(f"cannot cut shape {tuple(x.shape)} into a {gh}x{gw} grid")
    h, w = height // gh, width // gw
    if is_channels_last(x):
        # Cut the NHWC view so that the patches stay channels-last: a plain reshape would return them in
        # NCHW order and every convolution after it would convert them back (a copy of each tensor).
        nhwc = x.permute(0, 2, 3, 1).reshape(b, gh, h, gw, w, c).permute(0, 1, 3, 2, 4, 5)
        return nhwc.reshape(b * gh * gw, h, w, c).permute(0, 3, 1, 2)
    return x.reshape(b, c, gh, h, gw, w).permute(0, 2, 4, 1, 3, 5).reshape(b * gh * gw, c, h, w)


def from_patches(p: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """(B*gh*gw, C, h, w) -> (B, C, gh*h, gw*w): the inverse of :func:`to_patches`."""
    n, c, h, w = p.shape
    gh, gw = grid
    if n % (gh * gw):
        raise ValueError(f"{n} patches do not fill whole {gh}x{gw} grids")
    b = n // (gh * gw)
    if is_channels_last(p):
        nhwc = p.permute(0, 2, 3, 1).reshape(b, gh, gw, h, w, c).permute(0, 1, 3, 2, 4, 5)
        return nhwc.reshape(b, gh * h, gw * w, c).permute(0, 3, 1, 2)
    return p.reshape(b, gh, gw, c, h, w).permute(0, 3, 1, 4, 2, 5).reshape(b, c, gh * h, gw * w)


def regrid(p: torch.Tensor, grid: tuple[int, int], new_grid: tuple[int, int]) -> torch.Tensor:
    """Patches of one grid -> the same images cut into another grid."""
    return to_patches(from_patches(p, grid), new_grid)


def gate_layout(features: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """The one-channel gate (N, 1, h, w) as it should meet ``features`` (N, C, h, w) in their product.

    In channels-last order the gate is expanded over the channels: broadcasting over the innermost
    (channel) dimension takes a slow element-wise path, in bf16 1.7x slower than the expansion and a plain
    product together (10.3 ms against 6.2 ms for 4 x 16 x 272 x 480 on this project's CPU,
    benchmarks/cpu_kernels.py). Not under ``torch.compile``, which fuses the broadcast product and would
    only write the expanded gate out (the compiled 4K forward took 9.6 s with it, 7.1 s without), and not
    under autograd, where the product would save the expanded gate (one more full feature map per scale)
    for its backward. Otherwise the gate as it is.
    """
    if (gate.shape[1] == 1 and features.shape[1] > 1 and is_channels_last(features)
            and not torch.compiler.is_compiling() and not torch.is_grad_enabled()):
        return gate.expand_as(features).contiguous(memory_format=torch.channels_last)
    return gate


def map_chunks(fn: Callable[..., torch.Tensor], tensors: tuple[torch.Tensor, ...], chunk: int | None) -> torch.Tensor:
    """``fn(*slices)`` over aligned slices of at most ``chunk`` patches of ``tensors`` (N, ...), results
    concatenated on dim 0 into one preallocated tensor in the memory order of the results. ``chunk`` None
    (or >= N): ``fn(*tensors)`` itself."""
    n = tensors[0].shape[0]
    if chunk is None or chunk >= n:
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


@dataclass(frozen=True)
class ChunkPlan:
    """How a pathway runs its patch-local operations: on at most ``chunk`` patches at a time (None: all)."""

    chunk: int | None = None

    def __post_init__(self):
        if self.chunk is not None and self.chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {self.chunk}")

    def map(self, fn: Callable[..., torch.Tensor], *tensors: torch.Tensor) -> torch.Tensor:
        """``fn(*tensors)`` for a patch-local ``fn`` of aligned (N, ...) tensors, chunk by chunk."""
        return map_chunks(fn, tensors, self.chunk)


WHOLE = ChunkPlan()


def inference_plan(patch_chunk: int | None) -> ChunkPlan:
    """The plan of a pathway's pass now: :data:`WHOLE` with autograd (every chunk's activations would be
    kept anyway) or under compilation (one graph on all patches), else chunks of ``patch_chunk`` patches
    (None: :data:`INFERENCE_PATCH_CHUNK`)."""
    if torch.is_grad_enabled() or torch.compiler.is_compiling():
        return WHOLE
    return ChunkPlan(patch_chunk or INFERENCE_PATCH_CHUNK)
