"""DMGN (Feng et al., IEEE TIP 2021), "Deep Masking Generative Network", reflection configuration.

Our implementation of the released reflection model (funkdub/DMGN-Deep-Masking-Generative-Network-TIP2021),
by the authors of GLSGN; its gating mask is the spatial attention GLSGN reuses. The network:

1. **Hypercolumn head**: the image concatenated with frozen VGG-19 features (relu1_1 ... relu5_1,
   bilinearly resized to full resolution; 3 + 64 + 128 + 256 + 512 + 512 = 1475 channels), two 3x3 convs
   to 64 channels. VGG sees the network's [-1, 1] image without ImageNet normalisation, as released.
2. **Transit mask**: two convs and a learned mask ``m`` split the features into a background part
   ``f * m`` and a reflection part ``f * (1 - m)``.
3. **Coarse branches**: each part runs through a masked U-shaped network (separation modules: two convs,
   a learned 1x1 -> tanh -> 1x1 -> sigmoid mask, ``x + mask * conv(x)``; 2 stride-2 downsamplings to 256
   channels, 8 modules there, 2 bilinear upsamplings with skips) giving a coarse background and a
   reflection estimate (each added to the input).
4. **Refinement**: the coarse background, the background features re-weighted by a squeeze-excitation
   gate and the reflection features with the sign-flipped gate are concatenated; six dilated separation
   modules (dilations 1, 2, 4, 8, 16, 1) blend their own masks with a global mask predicted from the
   hypercolumns of the input and of the reflection (weights 0.4 * 0.5^k).

``forward`` returns ``(background, coarse_background, reflection_plus_input)``, each (B, 3, H, W).

**Value range.** The release feeds the network [-1, 1] images (``Normalize((0.5,) * 3, (0.5,) * 3)`` in
``datasyn/transforms.py``) and maps its outputs back with ``(y + 1) / 2`` (``eval.py``); every residual
(``+ I``) and every hypercolumn is computed in that range. ``DMGN.forward`` takes and returns [0, 1] RGB
like every uhr4k model and does that mapping inside, so released weights compute what they were trained
to compute.

**Prior-mask normalisation, and batches.** Before the refinement the release stretches the prior mask
``m`` as ``(m - mean) / (max - mean)`` with the mean and maximum of the *whole batch* (no epsilon). Here
they are taken per image, so one image's result does not depend on the other images of its batch; at
batch 1 (how the release evaluates: ``eval.py`` uses batch 1) the two agree exactly. Where an image's
mask is constant (max = mean) the release divides 0 by 0 (NaN); there we divide by 1 (the stretched
mask is 0). The difference only shows at batch size > 1, in training or in batched evaluation.

Released weights (``Dereflection_netG.pth``: a ``state_dict``, from DataParallel with ``module.``)
load with ``create_model("dmgn", pretrained=PATH)``; the converter renames the release's modules and
keeps its VGG-19 tensors up to relu5_1 (the release registers the whole torchvision trunk, 16 convs,
and reads the first 13).

Parameter count, as the paper counts it: 45.49 M = every parameter the release registers except the
frozen VGG-19 (``requires_grad=False`` there; buffers here, built up to relu5_1 only). The release
registers a stride-2 conv in *every* separation module but uses it only in the two per branch that
downsample: 20.05 M of the 45.49 M are never read by forward. With ``register_unused=True`` (the
registered ``dmgn``) we register the same tensors, frozen because nothing reads them, so
``count_parameters`` gives (25.44 M trainable, 45.49 M total); ``register_unused=False`` builds only what
forward uses (25.44 M). A figure of 24.70 M "used in forward" circulates; we could not reproduce it
(docs/paper.md, "Baselines"): tracing the release's forward module by module, 25.44 M trainable
parameters are read (and all receive gradients).

Pretrained VGG-19 weights are never downloaded: pass ``vgg_weights`` (a torchvision-format
``vgg19`` state dict path, read by :func:`uhr4k.models.archs.vgg.load_vgg19`) to load them; otherwise the VGG
part is randomly initialised (and still frozen, as released). Trained here with L1 (the release adds
VGG perceptual, gradient and adversarial terms).

At 4K the hypercolumn is one 1475 x 2160 x 3840 tensor (12.2 G values, 49 GB in fp32, beyond PyTorch's
32-bit indexing of padding kernels): run it tiled (``uhr4k bench --tile``).
"""
from __future__ import annotations

import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from uhr4k.models.archs.image_batch import check_image_batch
from uhr4k.models.archs.vgg import PERCEPTUAL_LAYERS, VGG19Features, load_vgg19
from uhr4k.models.registry import register_model
from uhr4k.models.weights.keys import substitute_keys

# Indices (into torchvision's ``features``) of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1.
HYPERCOLUMN_LAYERS = PERCEPTUAL_LAYERS


class FrozenConv2d(nn.Module):
    """A padding-1 convolution whose weight and bias are buffers, not parameters.

    The VGG-19 trunk is a fixed feature extractor: holding it as buffers keeps it out of optimizers and
    out of the parameter count (the paper's 45.49 M excludes it), while ``weight``/``bias`` keep
    torchvision's state-dict names.
    """

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.register_buffer("weight", conv.weight.detach().clone())
        self.register_buffer("bias", conv.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias, padding=1)


def vgg19_features() -> nn.Sequential:
    """The frozen VGG-19 trunk up to relu5_1 (index 29), with torchvision's module indices."""
    trunk = VGG19Features(HYPERCOLUMN_LAYERS).features
    for i, layer in enumerate(trunk):
        if isinstance(layer, nn.Conv2d):
            trunk[i] = FrozenConv2d(layer)
    return trunk


def _conv3(cin: int, cout: int, bias: bool = True, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """Reflection-padded 3x3 conv (the release pads by reflection everywhere)."""
    return nn.Sequential(nn.ReflectionPad2d(dilation),
                         nn.Conv2d(cin, cout, 3, stride=stride, dilation=dilation, bias=bias))


def _mask_head(cin: int, hidden: int, bias: bool = True) -> nn.Sequential:
    """The DMGN gating mask: 1x1 conv -> tanh -> 1x1 conv to one channel -> sigmoid; (B, 1, H, W)."""
    return nn.Sequential(nn.Conv2d(cin, hidden, 1, bias=bias), nn.Tanh(),
                         nn.Conv2d(hidden, 1, 1, bias=bias), nn.Sigmoid())


class Hypercolumn(nn.Module):
    """(B, 3, H, W) -> (B, 64, H, W): image + resized VGG-19 features, two 3x3 convs with ReLU."""

    def __init__(self, vgg: nn.Sequential):
        super().__init__()
        self.vgg = vgg
        self.conv = nn.Sequential(_conv3(1475, 64), nn.ReLU(inplace=True), _conv3(64, 64), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats, y = [x], x
        for i in range(HYPERCOLUMN_LAYERS[-1] + 1):
            y = self.vgg[i](y)
            if i in HYPERCOLUMN_LAYERS:
                # Detached, as released: VGG is a fixed feature extractor.
                feats.append(F.interpolate(y.detach(), size=x.shape[-2:], mode="bilinear", align_corners=False))
        return self.conv(torch.cat(feats, 1))


class TransitMask(nn.Module):
    """Two 3x3 convs, then a mask ``m``: returns (features, m), features (B, C, H, W), m (B, 1, H, W)."""

    def __init__(self, cin: int, cout: int = 64, mask_bias: bool = True):
        super().__init__()
        self.conv = nn.Sequential(_conv3(cin, cout), nn.ReLU(inplace=True), _conv3(cout, cout), nn.ReLU(inplace=True))
        self.mask = _mask_head(cout, 64, mask_bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat = self.conv(x)
        return feat, self.mask(feat)


class SeparationModule(nn.Module):
    """``x + mask * conv(x)`` with a learned mask; optionally a stride-2 conv to 2C channels after.

    With a ``prior`` mask and weight ``alpha`` (the refinement stage), the learned mask is blended:
    ``(mask + alpha * prior) / (1 + alpha)``.

    ``register_down=True`` without ``downsample`` registers the (unused, frozen) stride-2 conv, as the
    release does in every module.
    """

    def __init__(self, channels: int, downsample: bool = False, dilation: int = 1, register_down: bool = False):
        super().__init__()
        self.mask = _mask_head(channels, channels)
        self.conv = nn.Sequential(_conv3(channels, channels, False, dilation=dilation), nn.ReLU(inplace=True),
                                  _conv3(channels, channels, False, dilation=dilation), nn.ReLU(inplace=True))
        self.downsample = downsample
        if downsample or register_down:
            self.down = nn.Sequential(_conv3(channels, 2 * channels, False, stride=2), nn.ReLU(inplace=True))
            if not downsample:
                self.down.requires_grad_(False)  # never read by forward (registered for the count)

    def forward(self, x: torch.Tensor, prior: torch.Tensor | None = None, alpha: float = 0.0):
        feat = self.conv(x)
        mask = self.mask(feat)
        if prior is not None:
            mask = (mask + alpha * prior) / (1 + alpha)
        out = mask * feat + x
        if self.downsample:
            return self.down(out), out
        return out


class UpSample(nn.Module):
    """Bilinear to the skip's size (align_corners=True), concatenate [up, skip], two 3x3 convs."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Sequential(_conv3(cin, cout), nn.ReLU(inplace=True), _conv3(cout, cout), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=True)
        return self.conv(torch.cat([x, skip], 1))


class MaskedUNet(nn.Module):
    """The coarse branch: (B, 64, H, W) -> (B, 64, H, W) through 64 -> 128 -> 256 channels and back."""

    def __init__(self, register_unused: bool):
        super().__init__()
        ru = register_unused
        self.enc0 = SeparationModule(64, downsample=True)
        self.enc1 = SeparationModule(128, downsample=True)
        self.middle = nn.ModuleList(SeparationModule(256, register_down=ru) for _ in range(8))
        self.up1 = UpSample(256 + 128, 128)
        self.dec1 = SeparationModule(128, register_down=ru)
        self.up0 = UpSample(128 + 64, 64)
        self.dec0 = SeparationModule(64, register_down=ru)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, skip0 = self.enc0(x)
        y, skip1 = self.enc1(y)
        for module in self.middle:
            y = module(y)
        y = self.dec1(self.up1(y, skip1))
        return self.dec0(self.up0(y, skip0))


def _out_conv() -> nn.Sequential:
    return nn.Sequential(_conv3(64, 64), nn.ReLU(inplace=True), nn.Conv2d(64, 3, 1))


class SqueezeExcite(nn.Module):
    """Channel re-weighting of (B, C, H, W): a masked stride-4 depthwise summary, global average,
    two bias-free linear layers, sigmoid; ``sign=-1`` flips the weights (for the reflection features)."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.summary = nn.Sequential(nn.ReflectionPad2d(1),
                                     nn.Conv2d(channels, channels, 5, stride=4, groups=channels, bias=False),
                                     nn.ReLU(inplace=True))
        self.mask = nn.Sequential(nn.Conv2d(channels, channels, 1, groups=channels, bias=False), nn.Sigmoid())
        self.fc = nn.Sequential(nn.Linear(channels, channels // reduction, bias=False), nn.ReLU(inplace=True),
                                nn.Linear(channels // reduction, channels, bias=False))

    def forward(self, x: torch.Tensor, sign: float = 1.0) -> torch.Tensor:
        feat = self.summary(x)
        feat = feat * self.mask(feat)
        weight = torch.sigmoid(self.fc(feat.mean(dim=(2, 3)))) * sign
        return x * weight[:, :, None, None]


class Refinement(nn.Module):
    """(B, 192, H, W) features and a prior mask (B, 1, H, W) -> background residual (B, 3, H, W) in [-1, 1]."""

    DILATIONS = (1, 2, 4, 8, 16, 1)

    def __init__(self, register_unused: bool):
        super().__init__()
        self.conv = nn.Sequential(_conv3(192, 64), nn.ReLU(inplace=True))
        self.modules_ = nn.ModuleList(SeparationModule(64, dilation=d, register_down=register_unused)
                                      for d in self.DILATIONS)
        self.out = nn.Sequential(nn.Conv2d(64, 64, 1), nn.ReLU(inplace=True), nn.Conv2d(64, 3, 1), nn.Tanh())

    def forward(self, x: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        for k, module in enumerate(self.modules_):
            y = module(y, prior, 0.4 * 0.5 ** k)
        return self.out(y)


class DMGN(nn.Module):
    """DMGN single-image reflection removal.

    Args:
        register_unused: register the tensors the release holds but never uses (see the module
            docstring); True reproduces the paper's parameter count.
        vgg_weights: optional path to a torchvision ``vgg19`` state dict for the frozen VGG-19.

    ``forward(x)``: x (B, 3, H, W) RGB in [0, 1] -> ``(background, coarse_background, reflection + x)``,
    each (B, 3, H, W) in [0, 1] scale (mapped to and from the release's [-1, 1] inside). Any H, W >= 17
    (the dilation-16 reflection padding needs it; smaller inputs are replicate-padded inside and cropped
    back).
    """

    MIN_SIZE = 17

    def __init__(self, register_unused: bool = True, vgg_weights: str | os.PathLike | None = None):
        super().__init__()
        vgg = vgg19_features()
        if vgg_weights is not None:
            # uhr4k.models.archs.vgg reads and checks the torchvision file; its tensors become our buffers.
            pretrained = load_vgg19(vgg_weights).features.state_dict()
            vgg.load_state_dict(pretrained)
        self.head = Hypercolumn(vgg)
        self.separator = TransitMask(64)
        self.prior_mask = TransitMask(128, mask_bias=False)
        self.background = MaskedUNet(register_unused)
        self.reflection = MaskedUNet(register_unused)
        self.out_coarse = _out_conv()
        self.out_reflection = _out_conv()
        self.channel_weight = SqueezeExcite(64)
        self.refine = Refinement(register_unused)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        check_image_batch(x)
        x = x * 2 - 1   # the release's Normalize(0.5, 0.5): the network works on [-1, 1]
        h, w = x.shape[-2:]
        pad_h, pad_w = max(0, self.MIN_SIZE - h), max(0, self.MIN_SIZE - w)
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        hyper = self.head(x)
        feat, mask = self.separator(hyper)
        feat_b, feat_r = feat * mask, feat * (1 - mask)
        coarse = self.out_coarse(self.background(feat_b)) + x
        reflection = self.out_reflection(self.reflection(feat_r)) + x
        hyper_r = self.head(reflection)
        hyper_coarse = self.head(coarse)
        refine_in = torch.cat([hyper_coarse, self.channel_weight(feat_b), self.channel_weight(hyper_r, -1.0)], 1)
        _, prior = self.prior_mask(torch.cat([hyper, hyper_r], 1))
        prior = stretch_prior(prior)
        background = self.refine(refine_in, 1 - prior) + x
        return tuple(((t + 1) / 2)[..., :h, :w] for t in (background, coarse, reflection))


def stretch_prior(prior: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) prior mask -> ``(m - mean) / (max - mean)`` per image (see the module docstring).

    The release uses the batch's mean and max and no epsilon; an image whose spread is zero (a constant
    mask, which the release would turn into NaN) gets 0.
    """
    mean = prior.mean(dim=(1, 2, 3), keepdim=True)
    spread = prior.amax(dim=(1, 2, 3), keepdim=True) - mean
    return (prior - mean) / torch.where(spread == 0, torch.ones_like(spread), spread)


# The release's (model_reflection.py ``Model``) modules -> ours, applied in order to every key.
_UNET = [(r"s_m0\.", "enc0."), (r"s_m1\.", "enc1."), (r"s_m2\.", "middle.0."), (r"s_m3\.", "middle.1."),
         (r"s_m4\.", "middle.2."), (r"s_m5\.", "middle.3."), (r"s_m21\.", "middle.4."), (r"s_m31\.", "middle.5."),
         (r"s_m41\.", "middle.6."), (r"s_m51\.", "middle.7."), (r"up1\.", "up1."), (r"s_m6\.", "dec1."),
         (r"up2\.", "up0."), (r"s_m7\.", "dec0.")]
RELEASE_RULES = [
    # Module names.
    (r"^head_feat\.vgg\.vgg_pretrained_features\.", "head.vgg."),
    (r"^head_feat\.", "head."),
    (r"^seperator2\.", "prior_mask."),
    (r"^seperator\.", "separator."),
    *[(rf"^r_branch\.{a}", f"reflection.{b}") for a, b in _UNET],
    *[(rf"^{a}", f"background.{b}") for a, b in _UNET],
    (r"^outconv_B_coarse\.outconv\.", "out_coarse."),
    (r"^outconv_R\.outconv\.", "out_reflection."),
    (r"^Channel_weight\.Depthwise_conv\.", "channel_weight.summary."),
    (r"^Channel_weight\.Channelwise_conv1\.", "channel_weight.fc."),
    (r"^Channel_weight\.mask\.", "channel_weight.mask."),
    (r"^refine\.s_m(\d)\.", r"refine.modules_.\1."),
    (r"^refine\.outconv\.", "refine.out."),
    # Inside modules: the release's flat (pad, conv, ReLU, pad, conv, ReLU) sequences are our
    # ((pad, conv), ReLU, (pad, conv), ReLU); out convs (pad, conv, ReLU, conv) our ((pad, conv), ReLU, conv).
    (r"\.mask_1\.mask\.", ".mask."),
    (r"\.conv3\.conv\.1\.weight$", ".down.0.1.weight"),   # before the rule below would take its .conv.1.
    (r"\.(?:conv1|conv|up)\.1\.(weight|bias)$", r".conv.0.1.\1"),
    (r"\.(?:conv1|conv|up)\.4\.(weight|bias)$", r".conv.2.1.\1"),
    (r"^(out_coarse|out_reflection)\.1\.", r"\1.0.1."),
    (r"^(out_coarse|out_reflection)\.3\.", r"\1.2."),
]


def convert_release(state: dict) -> dict:
    """The authors' release (funkdub/DMGN..., ``model_reflection.py`` ``Model``) -> ours.

    The release registers the whole torchvision VGG-19 ``features`` (up to index 34) and reads it up to
    relu5_1 (index 29); the tensors it never reads (indices 30-34) are dropped.
    """
    import re


    unread = re.compile(r"^head_feat\.vgg\.vgg_pretrained_features\.(\d+)\.")
    kept = {k: v for k, v in state.items()
            if not ((m := unread.match(k)) and int(m[1]) > HYPERCOLUMN_LAYERS[-1])}
    return substitute_keys(kept, RELEASE_RULES)


@register_model("dmgn", tasks=("reflection",), paper="DMGN (Feng et al., TIP 2021; the GLSGN authors)",
                summary="the reflection release; the frozen VGG-19 is not counted, its unused convolutions are",
                release=("funkdub/DMGN-Deep-Masking-Generative-Network-TIP2021", "model_reflection.py"),
                published_params="45.49 M", default_loss="l1", recipe="dmgn", converter=convert_release)
def dmgn(**kwargs) -> nn.Module:
    return DMGN(**kwargs)
