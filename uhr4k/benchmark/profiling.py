"""Model size and cost: parameters, multiply-accumulates, runtime, peak memory.

Conventions (REFERENCE.md section 8): MACs are ``FlopCounterMode`` total / 2 (it counts 2 FLOPs per
multiply-accumulate; papers that say "FLOPs" usually mean thop/ptflops MACs), counted at the true input
size because the global pathway and bilateral-grid models are not size-linear.
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """Returns (trainable, total) parameter counts; shared tensors are counted once."""
    seen, trainable, total = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
    return trainable, total


def count_macs(model: nn.Module, shape: tuple[int, int, int, int] = (1, 3, 2160, 3840),
               device: str | torch.device = "meta") -> int:
    """Multiply-accumulates of one forward pass on an input of ``shape`` (B, C, H, W).

    On the ``meta`` device no activation is allocated, so a 4K count costs no memory; the model is
    copied there and left untouched. Models whose forward needs real values (data-dependent control
    flow) can pass ``device="cpu"``.
    """
    device = torch.device(device)
    counted = copy.deepcopy(model).to(device) if device.type == "meta" else model
    counted.eval()
    x = torch.zeros(shape, device=device)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        counted(x)
    return counter.get_total_flops() // 2
