"""PReNet (Ren et al., CVPR 2019): progressive recurrent deraining network.

Our implementation of the published architecture (csdwren/PReNet). One small network is applied
``stages`` times with shared weights; each stage sees the rainy input concatenated with the previous
stage's estimate, carries a convolutional LSTM state across stages, runs 5 residual blocks and
predicts a residual added to the input.

Registered configuration ``prenet``: 6 stages, 32 channels; 0.169 M parameters. Trained with the
negative SSIM of the final stage.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from uhr4k.models.archs.image_batch import check_image_batch
from uhr4k.models.registry import register_model
from uhr4k.models.weights.keys import rename_keys


class ConvLSTMGates(nn.Module):
    """The four gates of a convolutional LSTM on [x, h] (B, 2C, H, W), each (B, C, H, W)."""

    def __init__(self, channels: int):
        super().__init__()
        def gate(act: nn.Module) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(2 * channels, channels, 3, padding=1), act)
        self.input_gate = gate(nn.Sigmoid())
        self.forget_gate = gate(nn.Sigmoid())
        self.cell = gate(nn.Tanh())
        self.output_gate = gate(nn.Sigmoid())

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xh = torch.cat([x, h], 1)
        c = self.forget_gate(xh) * c + self.input_gate(xh) * self.cell(xh)
        h = self.output_gate(xh) * torch.tanh(c)
        return h, c


class PReNet(nn.Module):
    """PReNet deraining network.

    Args:
        stages: recurrent stages (weights shared).
        channels: feature channels.
        res_blocks: residual blocks per stage.

    ``forward(x)``: x (B, 3, H, W) in [0, 1] -> ``(final, stage_1, ..., stage_{stages-1})``, each
    (B, 3, H, W). Fully convolutional at stride 1: any H, W without padding.
    """

    def __init__(self, stages: int = 6, channels: int = 32, res_blocks: int = 5):
        super().__init__()
        if stages < 1:
            raise ValueError(f"stages must be >= 1, got {stages}")
        self.stages = stages
        self.channels = channels
        self.head = nn.Sequential(nn.Conv2d(6, channels, 3, padding=1), nn.ReLU())
        self.lstm = ConvLSTMGates(channels)
        self.res_blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU())
            for _ in range(res_blocks))
        self.tail = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        check_image_batch(x)
        b, _, h, w = x.shape
        state_h = x.new_zeros(b, self.channels, h, w)
        state_c = x.new_zeros(b, self.channels, h, w)
        estimate, outputs = x, []
        for _ in range(self.stages):
            y = self.head(torch.cat([x, estimate], 1))
            state_h, state_c = self.lstm(y, state_h, state_c)
            y = state_h
            for block in self.res_blocks:
                y = torch.relu(block(y) + y)
            estimate = self.tail(y) + x
            outputs.append(estimate)
        return (outputs[-1], *outputs[:-1])


# The release's (csdwren/PReNet, networks.py ``PReNet``) module names -> ours.
RELEASE_RULES = [
    (r"conv0\.0\.(weight|bias)", r"head.0.\1"),
    (r"conv_i\.0\.(weight|bias)", r"lstm.input_gate.0.\1"),
    (r"conv_f\.0\.(weight|bias)", r"lstm.forget_gate.0.\1"),
    (r"conv_g\.0\.(weight|bias)", r"lstm.cell.0.\1"),
    (r"conv_o\.0\.(weight|bias)", r"lstm.output_gate.0.\1"),
    (r"conv\.0\.(weight|bias)", r"tail.\1"),
]


def convert_release(state: dict) -> dict:
    """The authors' ``net_latest.pth`` (``conv0``, ``res_conv1..5``, ``conv_i/f/g/o``, ``conv``) -> ours."""
    renamed = rename_keys(state, RELEASE_RULES)
    return {_res_block(k): v for k, v in renamed.items()}


def _res_block(key: str) -> str:
    # res_conv{k}.{0,2}.* (k = 1..5) -> res_blocks.{k-1}.{0,2}.*
    if key.startswith("res_conv"):
        index, rest = key[len("res_conv"):].split(".", 1)
        return f"res_blocks.{int(index) - 1}.{rest}"
    return key


@register_model("prenet", tasks=("deraining",), paper="PReNet (Ren et al., CVPR 2019)", summary="6 recurrent stages",
                release=("csdwren/PReNet", "networks.py"), published_params="0.169 M", default_loss="neg_ssim",
                recipe="prenet", converter=convert_release)
def prenet(**kwargs) -> nn.Module:
    return PReNet(**kwargs)
