"""MPRNet (Zamir et al., CVPR 2021): multi-stage progressive restoration.

Our implementation of the published architecture (swz30/MPRNet). Three stages see the image as
4 patches (quarters), 2 patches (halves) and the whole image:

- stages 1 and 2 are small U-Nets of channel-attention blocks (CAB) over 3 scales; stage 2 also
  receives stage 1's encoder and decoder features ("cross-stage feature fusion");
- a supervised attention module (SAM) between stages makes an intermediate image and gates the
  features passed on with it;
- stage 3 works at full resolution only (ORSNet: 3 original-resolution blocks of 8 CABs each),
  fed with upsampled features of stage 2.

``forward`` returns ``(stage3, stage2, stage1)`` images, each (B, 3, H, W); the training loss
(Charbonnier + 0.05 x edge loss) is summed over all three.

Registered configurations (``n_feat`` / ``scale_unetfeats`` / ``scale_orsnetfeats``):

- ``mprnet-derain``: 40 / 20 / 16, 3.64 M parameters;
- ``mprnet-deblur``: 96 / 48 / 32, 20.13 M parameters.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from uhr4k.models.archs.image_batch import check_image_batch, pad_to_multiple
from uhr4k.models.registry import register_model
from uhr4k.models.weights.keys import one_based, substitute_keys


def _conv(cin: int, cout: int, kernel: int, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=bias)


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation gate: (B, C, H, W) times a per-channel weight in (0, 1)."""

    def __init__(self, channels: int, reduction: int, bias: bool):
        super().__init__()
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, channels // reduction, 1, bias=bias), nn.ReLU(inplace=True),
            nn.Conv2d(channels // reduction, channels, 1, bias=bias), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class CAB(nn.Module):
    """Channel-attention block: x + CA(conv(act(conv(x)))), (B, C, H, W)."""

    def __init__(self, channels: int, kernel: int, reduction: int, bias: bool, act: nn.Module):
        super().__init__()
        self.body = nn.Sequential(_conv(channels, channels, kernel, bias), act,
                                  _conv(channels, channels, kernel, bias))
        self.attention = ChannelAttention(channels, reduction, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.attention(self.body(x))


def _cabs(n: int, channels: int, kernel: int, reduction: int, bias: bool, act: nn.Module) -> nn.Sequential:
    return nn.Sequential(*[CAB(channels, kernel, reduction, bias, act) for _ in range(n)])


class SAM(nn.Module):
    """Supervised attention module.

    From features (B, C, H, W) and the stage's input image (B, 3, H, W): the stage's restored image
    ``img = conv(feat) + x_img`` and the features gated by ``sigmoid(conv(img))``, plus a residual.
    """

    def __init__(self, channels: int, kernel: int, bias: bool):
        super().__init__()
        self.conv1 = _conv(channels, channels, kernel, bias)
        self.conv2 = _conv(channels, 3, kernel, bias)
        self.conv3 = _conv(3, channels, kernel, bias)

    def forward(self, feat: torch.Tensor, x_img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        img = self.conv2(feat) + x_img
        gated = self.conv1(feat) * torch.sigmoid(self.conv3(img)) + feat
        return gated, img


class Resample(nn.Module):
    """Bilinear x ``scale`` then a bias-free 1x1 conv from ``cin`` to ``cout`` channels."""

    def __init__(self, cin: int, cout: int, scale: float):
        super().__init__()
        self.scale = scale
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return self.conv(x)


class Encoder(nn.Module):
    """Three levels of 2 CABs with channels n, n + s, n + 2s; returns the three level outputs.

    With ``csff`` the level outputs also add 1x1-conv projections of the previous stage's encoder
    and decoder features (cross-stage feature fusion).
    """

    def __init__(self, n: int, s: int, kernel: int, reduction: int, bias: bool, act: nn.Module, csff: bool):
        super().__init__()
        widths = (n, n + s, n + 2 * s)
        self.levels = nn.ModuleList(_cabs(2, c, kernel, reduction, bias, act) for c in widths)
        self.downs = nn.ModuleList([Resample(n, n + s, 0.5), Resample(n + s, n + 2 * s, 0.5)])
        if csff:
            self.csff_enc = nn.ModuleList(nn.Conv2d(c, c, 1, bias=bias) for c in widths)
            self.csff_dec = nn.ModuleList(nn.Conv2d(c, c, 1, bias=bias) for c in widths)

    def forward(self, x, enc_prev=None, dec_prev=None) -> list[torch.Tensor]:
        outs = []
        for i, level in enumerate(self.levels):
            if i > 0:
                x = self.downs[i - 1](x)
            x = level(x)
            if enc_prev is not None:
                x = x + self.csff_enc[i](enc_prev[i]) + self.csff_dec[i](dec_prev[i])
            outs.append(x)
        return outs


class Decoder(nn.Module):
    """Mirror of :class:`Encoder`; skips pass through a CAB and are added after upsampling."""

    def __init__(self, n: int, s: int, kernel: int, reduction: int, bias: bool, act: nn.Module):
        super().__init__()
        widths = (n, n + s, n + 2 * s)
        self.levels = nn.ModuleList(_cabs(2, c, kernel, reduction, bias, act) for c in widths)
        self.skip_attn = nn.ModuleList(CAB(c, kernel, reduction, bias, act) for c in widths[:2])
        self.ups = nn.ModuleList([Resample(n + s, n, 2), Resample(n + 2 * s, n + s, 2)])

    def forward(self, enc: list[torch.Tensor]) -> list[torch.Tensor]:
        dec3 = self.levels[2](enc[2])
        dec2 = self.levels[1](self.ups[1](dec3) + self.skip_attn[1](enc[1]))
        dec1 = self.levels[0](self.ups[0](dec2) + self.skip_attn[0](enc[0]))
        return [dec1, dec2, dec3]


class ORB(nn.Module):
    """Original-resolution block: x + conv(CAB^num_cab(x))."""

    def __init__(self, channels: int, kernel: int, reduction: int, bias: bool, act: nn.Module, num_cab: int):
        super().__init__()
        self.body = nn.Sequential(*_cabs(num_cab, channels, kernel, reduction, bias, act),
                                  _conv(channels, channels, kernel))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ORSNet(nn.Module):
    """Stage 3: three ORBs at full resolution with n + o channels, each followed by the stage-2
    encoder and decoder features of one scale, upsampled to full resolution and projected."""

    def __init__(self, n: int, o: int, s: int, kernel: int, reduction: int, bias: bool, act: nn.Module,
                 num_cab: int):
        super().__init__()
        self.orbs = nn.ModuleList(ORB(n + o, kernel, reduction, bias, act, num_cab) for _ in range(3))
        self.up_enc1 = Resample(n + s, n, 2)
        self.up_dec1 = Resample(n + s, n, 2)
        self.up_enc2 = nn.Sequential(Resample(n + 2 * s, n + s, 2), Resample(n + s, n, 2))
        self.up_dec2 = nn.Sequential(Resample(n + 2 * s, n + s, 2), Resample(n + s, n, 2))
        self.conv_enc = nn.ModuleList(nn.Conv2d(n, n + o, 1, bias=bias) for _ in range(3))
        self.conv_dec = nn.ModuleList(nn.Conv2d(n, n + o, 1, bias=bias) for _ in range(3))

    def forward(self, x, enc: list[torch.Tensor], dec: list[torch.Tensor]) -> torch.Tensor:
        enc_full = [enc[0], self.up_enc1(enc[1]), self.up_enc2(enc[2])]
        dec_full = [dec[0], self.up_dec1(dec[1]), self.up_dec2(dec[2])]
        for i, orb in enumerate(self.orbs):
            x = orb(x) + self.conv_enc[i](enc_full[i]) + self.conv_dec[i](dec_full[i])
        return x


def _cat_lists(a: list[torch.Tensor], b: list[torch.Tensor], dim: int) -> list[torch.Tensor]:
    return [torch.cat((u, v), dim) for u, v in zip(a, b, strict=True)]


class MPRNet(nn.Module):
    """MPRNet image restorer.

    Args:
        n_feat: channels of the shallow features and U-Net level 1.
        scale_unetfeats: channels added per U-Net level.
        scale_orsnetfeats: channels added in stage 3 (ORSNet).
        num_cab: CABs per original-resolution block.
        kernel, reduction, bias: convolution size, channel-attention reduction, conv biases.

    ``forward(x)``: x (B, 3, H, W) in [0, 1] -> ``(stage3, stage2, stage1)``, each (B, 3, H, W);
    element 0 is the restored image. Any H, W: padded inside to a multiple of 8 (quarters that halve
    twice in the U-Nets), cropped back.
    """

    def __init__(self, n_feat: int = 40, scale_unetfeats: int = 20, scale_orsnetfeats: int = 16,
                 num_cab: int = 8, kernel: int = 3, reduction: int = 4, bias: bool = False):
        super().__init__()
        n, s, o = n_feat, scale_unetfeats, scale_orsnetfeats
        # One PReLU (one learned slope) is shared by every block, as in the published model.
        act = nn.PReLU()
        self.shallow = nn.ModuleList(
            nn.Sequential(_conv(3, n, kernel, bias), CAB(n, kernel, reduction, bias, act)) for _ in range(3))
        self.stage1_encoder = Encoder(n, s, kernel, reduction, bias, act, csff=False)
        self.stage1_decoder = Decoder(n, s, kernel, reduction, bias, act)
        self.stage2_encoder = Encoder(n, s, kernel, reduction, bias, act, csff=True)
        self.stage2_decoder = Decoder(n, s, kernel, reduction, bias, act)
        self.stage3_orsnet = ORSNet(n, o, s, kernel, reduction, bias, act, num_cab)
        self.sam12 = SAM(n, 1, bias)
        self.sam23 = SAM(n, 1, bias)
        self.concat12 = _conv(2 * n, n, kernel, bias)
        self.concat23 = _conv(2 * n, n + o, kernel, bias)
        self.tail = _conv(n + o, 3, kernel, bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        check_image_batch(x)
        img, h, w = pad_to_multiple(x, 8)
        hh, hw = img.shape[2] // 2, img.shape[3] // 2
        halves = [img[:, :, :hh], img[:, :, hh:]]                      # top, bottom
        quarters = [[half[..., :hw], half[..., hw:]] for half in halves]  # [top|bottom][left|right]

        # Stage 1: the four quarters through one encoder; left/right features joined per half.
        stage1_enc, stage1_dec, stage1_img, sam_feats = [], [], [], []
        for half, (left, right) in zip(halves, quarters, strict=True):
            enc_l = self.stage1_encoder(self.shallow[0](left))
            enc_r = self.stage1_encoder(self.shallow[0](right))
            enc = _cat_lists(enc_l, enc_r, 3)
            dec = self.stage1_decoder(enc)
            feat, restored = self.sam12(dec[0], half)
            stage1_enc.append(enc)
            stage1_dec.append(dec)
            stage1_img.append(restored)
            sam_feats.append(feat)

        # Stage 2: the two halves, fed with stage 1's features; top/bottom joined.
        stage2_enc = []
        for i, half in enumerate(halves):
            feat = self.concat12(torch.cat([self.shallow[1](half), sam_feats[i]], 1))
            stage2_enc.append(self.stage2_encoder(feat, stage1_enc[i], stage1_dec[i]))
        enc2 = _cat_lists(stage2_enc[0], stage2_enc[1], 2)
        dec2 = self.stage2_decoder(enc2)
        feat, stage2_img = self.sam23(dec2[0], img)

        # Stage 3: full resolution.
        y = self.concat23(torch.cat([self.shallow[2](img), feat], 1))
        y = self.stage3_orsnet(y, enc2, dec2)
        stage3_img = self.tail(y) + img
        stage1_img = torch.cat(stage1_img, 2)
        return tuple(t[..., :h, :w] for t in (stage3_img, stage2_img, stage1_img))


def convert_release(state: dict) -> dict:
    """The authors' release (swz30/MPRNet ``model_deraining.pth`` / ``model_deblurring.pth``, ``state_dict``
    of ``MPRNet.py``) -> ours: numbered modules (``shallow_feat1``, ``encoder_level1``, ``down12``, ``orb1``,
    ``csff_enc1`` ...) become lists, ``CA.conv_du.{0,2}`` our ``attention.gate.{1,3}``, ``down.1`` / ``up.1``
    our ``conv``."""
    return substitute_keys(state, [
        (r"^shallow_feat(\d)", one_based("shallow")),
        (r"\.CA\.conv_du\.0\.", ".attention.gate.1."),
        (r"\.CA\.conv_du\.2\.", ".attention.gate.3."),
        (r"\.(?:en|de)coder_level(\d)\.", lambda m: f".levels.{int(m[1]) - 1}."),
        (r"\.down12\.down\.1\.", ".downs.0.conv."),
        (r"\.down23\.down\.1\.", ".downs.1.conv."),
        (r"\.up21\.up\.1\.", ".ups.0.conv."),
        (r"\.up32\.up\.1\.", ".ups.1.conv."),
        (r"\.up\.1\.", ".conv."),   # ORSNet's up_enc1 / up_enc2.N / up_dec...
        (r"\.skip_attn(\d)", one_based(".skip_attn")),
        (r"\.csff_(enc|dec)(\d)\.", lambda m: f".csff_{m[1]}.{int(m[2]) - 1}."),
        (r"\.orb(\d)\.", lambda m: f".orbs.{int(m[1]) - 1}."),
        (r"\.conv_(enc|dec)(\d)\.", lambda m: f".conv_{m[1]}.{int(m[2]) - 1}."),
    ])


@register_model("mprnet-derain", tasks=("deraining",), paper="MPRNet (Zamir et al., CVPR 2021)",
                summary="the deraining release: 40 / 20 / 16 features",
                release=("swz30/MPRNet", "Deraining/MPRNet.py"), published_params="3.64 M",
                default_loss="charbonnier_edge", recipe="mprnet-derain", converter=convert_release)
def mprnet_derain(**kwargs) -> nn.Module:
    return MPRNet(**{"n_feat": 40, "scale_unetfeats": 20, "scale_orsnetfeats": 16, **kwargs})


@register_model("mprnet-deblur", tasks=("deblurring",), paper="MPRNet (Zamir et al., CVPR 2021)",
                summary="the deblurring release: 96 / 48 / 32 features",
                release=("swz30/MPRNet", "Deblurring/MPRNet.py"), published_params="20.13 M",
                default_loss="charbonnier_edge", recipe="mprnet-deblur", converter=convert_release)
def mprnet_deblur(**kwargs) -> nn.Module:
    return MPRNet(**{"n_feat": 96, "scale_unetfeats": 48, "scale_orsnetfeats": 32, **kwargs})
