"""Zheng et al. (CVPR 2021), "Ultra-High-Definition Image Dehazing via Multi-Guided Bilateral Learning".

Our implementation of the released architecture (zzr-idam/4KDehazing). Heavy processing happens at a
fixed low resolution, so the cost at 4K is dominated by a few cheap full-resolution convolutions:

1. A U-Net on the input resized to 256 x 256 predicts a 3 x 256 x 256 map; average-pooled to
   3 x 64 x 256 and reinterpreted as a bilateral grid of 12 affine coefficients (a 3 x 4 colour
   transform) over 16 x 16 spatial cells x 16 intensity bins.
2. Three tiny guidance networks (one per colour channel, full resolution) each predict a guide map
   in [-1, 1]; the grid is sliced with it (trilinear lookup at (x, y, guide)).
3. A second U-Net on the input resized to 320 x 320, upsampled back to full size, is projected per
   colour channel (1 x 1 conv + PReLU) and each sliced transform is applied to it: 3 x 3 channels.
4. A fusion net maps the 9 channels to an estimate ``J``; the output is
   ``PReLU(g(J) * x - J + 1)`` with ``g`` a two-layer conv net (the released formula).

Registered configuration ``zheng2021``: 34.55 M parameters (the paper's Table I lists 34.54 M). The
released code also registers one PReLU it never uses (``smooth``, 1 parameter); we leave it out.
Trained with L1.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from uhr4k.models.archs.image_batch import check_image_batch
from uhr4k.models.registry import register_model
from uhr4k.models.weights.keys import substitute_keys


class DoubleConv(nn.Sequential):
    """(conv 3x3 -> BatchNorm -> ReLU) x 2."""

    def __init__(self, cin: int, cout: int, mid: int | None = None):
        mid = mid or cout
        super().__init__(nn.Conv2d(cin, mid, 3, padding=1), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                         nn.Conv2d(mid, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UpBlock(nn.Module):
    """Bilinear x2 (align_corners), pad to the skip's size, concatenate [skip, up], DoubleConv."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = DoubleConv(cin, cout, cin // 2)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        dy, dx = skip.shape[2] - x.shape[2], skip.shape[3] - x.shape[3]
        x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, x], 1))


class UNet(nn.Module):
    """The classic 4-level U-Net (64-1024 channels, bilinear decoder), 3 channels in, a sigmoid
    3-channel map out: (B, 3, h, w) -> (B, 3, h, w)."""

    def __init__(self, channels: int = 3):
        super().__init__()
        self.inc = DoubleConv(channels, 64)
        self.downs = nn.ModuleList(nn.Sequential(nn.MaxPool2d(2), DoubleConv(cin, cout))
                                   for cin, cout in ((64, 128), (128, 256), (256, 512), (512, 512)))
        self.ups = nn.ModuleList(UpBlock(cin, cout) for cin, cout in ((1024, 256), (512, 128), (256, 64), (128, 64)))
        self.head = nn.Conv2d(64, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for up in self.ups:
            y = up(y, skips.pop())
        return torch.sigmoid(self.head(y))


class GuideNet(nn.Module):
    """One colour channel (B, 1, H, W) -> guide map (B, 1, H, W) in [-1, 1]."""

    def __init__(self, hidden: int = 16):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, hidden, 3, padding=1), nn.BatchNorm2d(hidden), nn.PReLU(),
            nn.Conv2d(hidden, hidden, 3, padding=1), nn.BatchNorm2d(hidden), nn.PReLU(),
            nn.Conv2d(hidden, 1, 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def slice_grid(grid: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """Trilinear lookup of a bilateral grid.

    Args:
        grid: (B, K, D, Gh, Gw) coefficients over D intensity bins and Gh x Gw spatial cells.
        guide: (B, 1, H, W) in [-1, 1], the intensity coordinate of each pixel.

    Returns:
        (B, K, H, W): the grid sampled at (x / (W - 1), y / (H - 1), guide), corners aligned.
    """
    b, _, h, w = guide.shape
    ys = torch.linspace(-1, 1, h, device=guide.device, dtype=guide.dtype)
    xs = torch.linspace(-1, 1, w, device=guide.device, dtype=guide.dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    coords = torch.stack([gx.expand(b, h, w), gy.expand(b, h, w), guide[:, 0]], dim=-1)  # (B, H, W, 3)
    return F.grid_sample(grid, coords[:, None], mode="bilinear", align_corners=True)[:, :, 0]


def apply_affine(coeffs: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Per-pixel 3 x 4 colour transform: coeffs (B, 12, H, W) rows [a_r a_g a_b bias] x 3, image
    (B, 3, H, W) -> (B, 3, H, W)."""
    out = [(image * coeffs[:, 4 * i:4 * i + 3]).sum(1, keepdim=True) + coeffs[:, 4 * i + 3:4 * i + 4]
           for i in range(3)]
    return torch.cat(out, 1)


class Zheng2021(nn.Module):
    """4K dehazing by multi-guided bilateral learning.

    Args:
        grid_size: input size of the coefficient U-Net (256 in the release); its output is pooled to
            3 x 64 x 256 whatever this size, exactly the 12 x 16^3 values of the grid.
        context_size: input size of the second U-Net (320 in the release).

    ``forward(x)``: x (B, 3, H, W) in [0, 1] -> (B, 3, H, W). Any H, W: both U-Nets see resized copies
    of fixed size, everything else is stride-1 at full resolution.
    """

    grid_bins = 16

    def __init__(self, grid_size: int = 256, context_size: int = 320):
        super().__init__()
        self.grid_size, self.context_size = grid_size, context_size
        self.grid_net = UNet()
        self.context_net = UNet()
        self.guides = nn.ModuleList(GuideNet() for _ in range(3))
        self.points = nn.ModuleList(nn.Conv2d(3, 3, 1) for _ in range(3))
        self.act = nn.PReLU()  # one slope, shared by the projections and the output, as released
        self.fusion = nn.Sequential(nn.Conv2d(9, 16, 3, padding=1), nn.PReLU(), nn.Conv2d(16, 3, 1), nn.PReLU())
        self.gain = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.PReLU(), nn.Conv2d(8, 3, 3, padding=1), nn.PReLU())

    def bilateral_grid(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, 12, 16, 16, 16): the U-Net's 3 x 256 x 256 map pooled to 3 x 64 x 256
        (= 12 x 16^3 values) and reinterpreted as 12 coefficients x 16 bins x 16 x 16 cells."""
        small = F.interpolate(x, (self.grid_size, self.grid_size), mode="bicubic", align_corners=True)
        n = self.grid_bins
        pooled = F.adaptive_avg_pool2d(self.grid_net(small), (n * n // 4, n * n))
        return pooled.reshape(x.shape[0], 12, n, n, n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x)
        h, w = x.shape[-2:]
        grid = self.bilateral_grid(x)
        context = F.interpolate(x, (self.context_size, self.context_size), mode="bicubic", align_corners=True)
        context = F.interpolate(self.context_net(context), (h, w), mode="bicubic", align_corners=True)
        per_channel = []
        for c in range(3):
            coeffs = slice_grid(grid, self.guides[c](x[:, c:c + 1]))
            per_channel.append(apply_affine(coeffs, self.act(self.points[c](context))))
        estimate = self.fusion(torch.cat(per_channel, 1))
        return self.act(self.gain(estimate) * x - estimate + 1)


_GUIDE_LAYERS = {"conv1.conv": 0, "conv1.bn": 1, "conv1.activation": 2, "conv2.conv": 3, "conv2.bn": 4,
                 "conv2.activation": 5, "conv3.conv": 6}


def convert_release(state: dict) -> dict:
    """The authors' release (zzr-idam/4KDehazing ``network.py`` ``B_transformer``, e.g. ``4K_ohaze.pth``)
    -> ours: ``u_net`` / ``u_net_mini`` are ``grid_net`` / ``context_net`` (``down1`` -> ``downs.0``,
    ``pre`` -> ``head``), ``guide_r/g/b`` -> ``guides.0-2``, ``r/g/b_point`` -> ``points.0-2``, ``p`` ->
    ``act``, ``x_r_fusion`` -> ``gain``; the PReLU ``smooth`` that the release registers but never uses is
    dropped."""
    kept = {k: v for k, v in state.items() if not k.startswith("smooth.")}
    return substitute_keys(kept, [
        (r"^u_net_mini\.", "context_net."),
        (r"^u_net\.", "grid_net."),
        (r"\.double_conv\.", "."),
        (r"\.down(\d)\.maxpool_conv\.", lambda m: f".downs.{int(m[1]) - 1}."),
        (r"\.up(\d)\.conv\.", lambda m: f".ups.{int(m[1]) - 1}.conv."),
        (r"\.pre\.", ".head."),
        (r"^guide_([rgb])\.(conv\d\.(?:conv|bn|activation))\.",
         lambda m: f"guides.{'rgb'.index(m[1])}.body.{_GUIDE_LAYERS[m[2]]}."),
        (r"^([rgb])_point\.", lambda m: f"points.{'rgb'.index(m[1])}."),
        (r"^p\.", "act."),
        (r"^x_r_fusion\.", "gain."),
    ])


@register_model("zheng2021", tasks=("dehazing",), paper="Zheng et al. (CVPR 2021)",
                summary="4K dehazing by multi-guided bilateral learning", release=("zzr-idam/4KDehazing", "network.py"),
                published_params="34.55 M (Table I: 34.54 M)", default_loss="l1", recipe="zheng2021",
                converter=convert_release)
def zheng2021(**kwargs) -> nn.Module:
    return Zheng2021(**kwargs)
