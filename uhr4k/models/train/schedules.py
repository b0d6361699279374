"""Optimizers and learning-rate schedules of the published training recipes.

The schedule is a pure function of the training position (no scheduler state), so that a resumed run
sets exactly the learning rate the uninterrupted run had at the same step.

Schedules (``Schedule.name``), their lengths counted in ``unit``: ``epoch`` (the rate changes between
epochs, as the recipes that step their scheduler once per epoch do) or ``step`` (optimizer steps, as
BasicSR-style recipes count iterations). The position ``t`` is the 0-based epoch or step.

- ``constant``: ``lr`` throughout (the GLSGN paper states no decay).
- ``cosine``: cosine annealing from the cycle's peak to ``eta_min``; ``periods`` are consecutive cycles,
  each restarting at ``restart_weights[i] * lr`` (Restormer's CosineAnnealingRestartCyclicLR: periods
  92k + 208k iterations, floors 3e-4 and 1e-6); no periods: one cycle over the whole run after the
  warm-up (MPRNet: 3 warm-up epochs, then cosine to 1e-6).
- ``multistep``: ``lr * gamma ** (number of milestones passed)`` (PReNet: x0.2 at epochs 30, 50, 80).
- ``linear``: constant until ``start``, then linear to ``end_factor * lr`` at the end of the run.

``warmup`` (any schedule): over the first ``warmup`` units the rate is ``(t + 1) / warmup * lr``
(GradualWarmupScheduler with multiplier 1, as MPRNet uses it; BasicSR's ``warmup_iter``); the schedule
itself starts after the warm-up.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from uhr4k.models.train.plain import PlainData, above, at_least, from_to, one_of

SCHEDULES = ("constant", "cosine", "multistep", "linear")
OPTIMIZERS = ("adam", "adamw")
UNITS = ("epoch", "step")


@dataclass(frozen=True)
class Schedule(PlainData):
    """A learning-rate schedule; see the module docstring for each ``name``."""

    kind = "schedule"

    name: str = field(default="constant", metadata=one_of(*SCHEDULES))
    unit: str = field(default="epoch", metadata=one_of(*UNITS))
    warmup: float = field(default=0.0, metadata=at_least(0))
    periods: tuple[float, ...] = field(default=(), metadata=above(0))
    restart_weights: tuple[float, ...] = ()
    eta_min: tuple[float, ...] | float = 0.0
    milestones: tuple[float, ...] = ()
    gamma: float = 0.1
    start: float = 0.0
    end_factor: float = 0.0

    def __post_init__(self):
        super().__post_init__()             # each field checked against its type
        if isinstance(self.eta_min, tuple) and len(self.eta_min) == 1:
            object.__setattr__(self, "eta_min", self.eta_min[0])   # one floor is a number (as --eta-min reads it)
        if self.restart_weights and len(self.restart_weights) != len(self.periods):
            raise ValueError(f"{len(self.restart_weights)} restart weights for {len(self.periods)} periods")
        floors = self.eta_min if isinstance(self.eta_min, tuple) else ()
        if floors and len(floors) != max(len(self.periods), 1):
            raise ValueError(f"{len(floors)} eta_min values for {len(self.periods)} cosine periods")
        if list(self.milestones) != sorted(self.milestones):
            raise ValueError(f"multistep milestones must increase, got {list(self.milestones)}")

    @property
    def depends_on_length(self) -> bool:
        """Whether the run's length shapes the curve (then a resume with other epochs is another recipe)."""
        return self.name == "linear" or (self.name == "cosine" and not self.periods)

    def lr(self, base_lr: float, t: int, total: int) -> float:
        """The learning rate at position ``t`` (0-based, in ``unit``) of a run of length ``total``."""
        if t < self.warmup:
            return base_lr * min(1.0, (t + 1) / self.warmup)
        if self.name == "constant":
            return base_lr
        if self.name == "multistep":
            return base_lr * self.gamma ** sum(t >= m for m in self.milestones)
        if self.name == "linear":
            if t < self.start or total <= self.start:
                return base_lr
            progress = min(1.0, (t - self.start) / (total - self.start))
            return base_lr * (1.0 - (1.0 - self.end_factor) * progress)
        return self._cosine(base_lr, t, total)

    def _cosine(self, base_lr: float, t: float, total: float) -> float:
        floors = self.eta_min if isinstance(self.eta_min, tuple) else (self.eta_min,)
        if not self.periods:
            progress = min(1.0, (t - self.warmup) / max(total - self.warmup, 1))
            return floors[0] + (base_lr - floors[0]) * 0.5 * (1.0 + math.cos(math.pi * progress))
        start = self.warmup
        for i, period in enumerate(self.periods):
            if t < start + period or i == len(self.periods) - 1:
                progress = min(1.0, (t - start) / period)
                peak = base_lr * (self.restart_weights[i] if self.restart_weights else 1.0)
                floor = floors[i] if len(floors) > 1 else floors[0]
                return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
            start += period
        raise AssertionError("unreachable")  # pragma: no cover


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


@dataclass(frozen=True)
class OptimizerSpec(PlainData):
    """``adam`` or ``adamw`` with its betas, weight decay and eps (the recipes' settings)."""

    kind = "optimizer"

    name: str = field(default="adam", metadata=one_of(*OPTIMIZERS))
    betas: tuple[float, float] = field(default=(0.9, 0.999), metadata=from_to(0, 1))
    weight_decay: float = field(default=0.0, metadata=at_least(0))
    eps: float = 1e-8

    def build(self, params, lr: float) -> torch.optim.Optimizer:
        kind = torch.optim.AdamW if self.name == "adamw" else torch.optim.Adam
        return kind(params, lr=lr, betas=tuple(self.betas), weight_decay=self.weight_decay, eps=self.eps)
