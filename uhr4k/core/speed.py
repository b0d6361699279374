"""Execution switches shared by ``bench`` and ``train``: reduced precision, channels-last memory format and
``torch.compile``.

- ``precision``: ``fp32`` (no autocast), ``bf16`` or ``fp16`` through ``torch.autocast`` on the model's
  device: convolutions and matrix products run in half precision, reductions and normalizations stay in
  fp32 (autocast's own op lists). The weights stay fp32. On CPUs with AMX / AVX-512 BF16 bf16 is the fast
  path; fp16 is mainly for GPUs (training needs a gradient scaler, see ``uhr4k.models.train.loop``).
- ``channels_last``: the model's 4-D weights and its input in NHWC order, the layout oneDNN and cuDNN
  prefer for convolutions.
- ``compile``: ``torch.compile`` (inductor) of the model; the first call at each input size compiles. For
  inference the weights are frozen into the graph (inductor's ``freezing``): change them and compile again.

Scores measured in reduced precision are not fp32 scores: the bench tables carry a ``precision`` column
and label such models, so the two are never mixed.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Speed:
    """How to run a model: ``precision`` (fp32, bf16, fp16), ``channels_last``, ``compile``."""

    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

    @property
    def dtype(self) -> torch.dtype | None:
        """The autocast dtype, None for fp32."""
        return PRECISIONS[self.precision]

    @property
    def label(self) -> str:
        """``fp32``, ``bf16``, ``bf16+channels_last+compile``, ...: what a table row was measured with."""
        return "+".join([self.precision] + [name for name in ("channels_last", "compile") if getattr(self, name)])

    def autocast(self, device: torch.device | str):
        """The autocast context for ``device`` (a no-op context for fp32)."""
        device_type = torch.device(device).type
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type, dtype=self.dtype)

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """The model for inference in channels-last order and/or compiled with frozen weights (the module
        itself is converted in place; training compiles its own, unfrozen, see ``uhr4k.models.train.loop``)."""
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # stubs lack it
        if self.compile:
            # Inference only (bench): freezing folds the weights into the graph as constants, which lets
            # inductor pre-pack them for oneDNN and fuse the element-wise work around each convolution
            # (docs/benchmarks.md, speed: GLSGN compiled without it was slower than eager on this CPU).
            model = torch.compile(model, options={"freezing": True})  # type: ignore[assignment]  # an nn.Module
        return model

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in channels-last order when asked, else as it is."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.ndim == 4 else x


def to_float32(output):
    """A model's output (a tensor or a tuple/list of them) as fp32 tensors (autocast may return bf16/fp16)."""
    if isinstance(output, torch.Tensor):
        return output.float()
    if isinstance(output, tuple) and hasattr(output, "_fields"):   # a namedtuple (Zou et al.'s outputs)
        return type(output)(*(to_float32(o) for o in output))
    if isinstance(output, (tuple, list)):
        return type(output)(to_float32(o) for o in output)
    return output


class SpeedWrapper(nn.Module):
    """Runs ``model`` under a :class:`Speed`: input converted, forward under autocast, outputs in fp32.

    ``self.model`` is the prepared (possibly compiled) model; count parameters on the module itself.
    """

    def __init__(self, model: nn.Module, speed: Speed):
        super().__init__()
        self.speed = speed
        self.model = speed.prepare_model(model)

    def forward(self, x: torch.Tensor):
        with self.speed.autocast(x.device):
            return to_float32(self.model(self.speed.prepare_input(x)))
