"""Exponential moving average of a model's weights (BasicSR's ``net_g_ema``, saved as ``params_ema``).

After every optimizer step ``ema = decay * ema + (1 - decay) * param`` for each parameter; buffers (batch
statistics, counters) are copied. The averaged model is validated and checkpointed beside the trained one.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


class ModelEMA:
    """An averaged copy of ``model`` (eval mode, no gradients), updated by :meth:`update`."""

    def __init__(self, model: nn.Module, decay: float = 0.999):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must lie in (0, 1), got {decay}")
        self.decay = float(decay)
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One averaging step towards ``model``'s current weights (same architecture)."""
        ema_params = [p for p in self.module.parameters()]
        params = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema_params, params, 1.0 - self.decay)
        for ema_buffer, buffer in zip(self.module.buffers(), model.buffers(), strict=True):
            ema_buffer.copy_(buffer)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state)
