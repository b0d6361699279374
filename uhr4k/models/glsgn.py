"""GLSGN, the Global-Local Stepwise Generative Network (paper section III; REFERENCE.md section 1).

One global pathway ``Sg`` and ``N`` local pathways ``S_1..S_N`` (N = 3 in the paper), all encoder-decoders
with the same structure and their own weights, all working on tensors of the same size, H/g x W/g with
``g = 2^(N-1)``:

======  ==========================  =================  ==================
path    input                       patches            output
======  ==========================  =================  ==================
Sg      the image at 1/g            1                  ``B_g`` (H/g)
S_k     the image at 1/2^(k-1)      (g/2^(k-1))^2      ``B_k`` (H/2^(k-1))
======  ==========================  =================  ==================

They run in the order Sg, S_1, S_2, ..., S_N and are tied by four mechanisms, each switchable for the
ablation of Table III:

1. **Iterative decoding** (eq. 1): at every decoder scale, S_k concatenates its upsampled features and
   its encoder skip with the decoded features of S_{k-1} (average-pooled x2 to S_k's scale: S_{k-1} works
   at twice the resolution) and of Sg (bilinearly upsampled by S_k's grid side, then cut into S_k's patches),
   fused by a 1x1 convolution.
2. **Perceptual attention consistency** (``pac``, eq. 2-3): every encoder scale has a spatial attention
   ``f`` (DMGN's gating mask); the skip is re-weighted by ``A_k = (f_k(E_k) + s1 f_{k-1}(E_{k-1}) + s2 f_g(F_g))
   / (1 + s1 + s2)``, ``F_g`` the global *decoded* features. Without ``pac`` each pathway keeps its own plain
   spatial attention ``A_k = f_k(E_k)`` (the "w/o PAC" of Fig. 8), so the switch removes only the consistency.
3. **Patch normalization** (``pn``, eq. 4-5) after every residual block of the local decoders; the
   statistics couple the patches of one image, so decoders process an image's patches as one grid.
4. **Laplacian-pyramid synthesis** (``lp``, eq. 6-7): ``B_out = h'_1 + u(h'_2 + u(h'_3 + l))`` with the
   bands of B_1, B_2, B_g and ``l = u(d(B_3))``, each band gated by a learned mask. Without ``lp`` the output
   is B_N (the last, "cleanest" pathway) upsampled bilinearly to full size (our reading: the paper does
   not say what Table III's variants without LP output; B_N is where its stepwise restoration ends).

**Size: why this encoder-decoder.** The paper gives 15.69 M parameters and 0.625 T MACs at 3840 x 2160
but not the layers. Every pathway sees H/4 x W/4 pixels per patch, 22 patch-images in all at 4K
(1 + 16 + 4 + 1), about 11.5 M pixels, so the budget is about 54 k MACs per pixel and about 3.9 M
parameters per pathway. A U-Net whose width doubles at each of 4 halvings (16, 32, 64, 128, 256
channels) costs the same MACs at every scale (4x the channels squared, 1/4 of the pixels) while its
parameters grow 4x per scale. With one residual block per decoder scale, one per encoder scale below
the first (at full patch resolution the head convolution feeds the skip directly: a block there costs
53 G MACs at 4K) and two in the bottleneck, widened to 272 channels (17 x 16) to carry the parameters
where they cost least (1/16 of the patch size, 34 x 60 at 4K, which also gives the global pathway a
receptive field of the whole image), the counts land at 15.688 M parameters (paper 15.69 M) and
0.628 T MACs at 3840 x 2160 (paper 0.625 T), FlopCounterMode / 2 on the padded 3840 x 2176 input.

Any height and width: the input is padded (reflect) to a multiple of ``2^(N-1) * 2^4`` inside ``forward``
and every output cropped back. ``forward`` returns ``(B_out, B_1, ..., B_N, B_g)``: element 0 the final
image (B, 3, H, W), then each pathway's output at its own scale (ceil(H / 2^(k-1)), ...).

**Memory.** Without autograd (``torch.no_grad``/``inference_mode``) each pathway runs its patch-local
operations in chunks of ``patch_chunk`` patches (default 4) and only the decoded features that the next
pathway needs (pooled x2) are kept; patch normalization still sees all patches (its statistics are
(N, C) numbers computed chunk by chunk). Chunking changes memory only, never the result.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from uhr4k.models.glsgn_blocks import (
    PatchNorm,
    ResBlock,
    SpatialAttention,
    consistent_attention,
    from_patches,
    map_chunks,
    to_patches,
)
from uhr4k.models.laplacian import LaplacianSynthesis
from uhr4k.models.registry import register_model

INFERENCE_PATCH_CHUNK = 4
# Channels per scale relative to ``width``: doubling per halving, a wider bottleneck (see the docstring).
WIDTH_MULTIPLIERS = (1, 2, 4, 8, 17)
TAIL_INIT_SCALE = 0.1


@dataclass
class PathwayContext:
    """What a pathway receives from the pathways that ran before it, per decoder scale l.

    ``previous_*``: S_{k-1}'s decoded features / attention maps, already pooled to this pathway's scale
    and cut into its patches, (N, C_l, h_l, w_l) / (N, 1, h_l, w_l). ``global_*``: Sg's decoded features
    and f_g(F_g), whole-image maps (B, C_l, h_l, w_l), upsampled by ``global_scale`` on use.
    """

    levels: int
    previous_features: list = field(default=None)
    previous_attention: list = field(default=None)
    global_features: list = field(default=None)
    global_attention: list = field(default=None)
    global_scale: int = 1

    def __post_init__(self):
        for name in ("previous_features", "previous_attention", "global_features", "global_attention"):
            if getattr(self, name) is None:
                setattr(self, name, [None] * self.levels)

    def expand_global(self, whole: torch.Tensor | None, grid: tuple[int, int]) -> torch.Tensor | None:
        """A global whole-image map (B, C, h, w) -> this pathway's patches (B*gh*gw, C, h, w)."""
        if whole is None:
            return None
        if self.global_scale > 1:
            whole = F.interpolate(whole, scale_factor=float(self.global_scale), mode="bilinear",
                                  align_corners=False)
        return to_patches(whole, grid)


@dataclass
class PathwayResult:
    output: torch.Tensor      # (N, 3, h, w) restored patches
    decoded: list             # per decoder scale l: (N, C_l, h_l, w_l), pooled x2 when exported
    attention: list           # per encoder scale l: f(E_l), (N, 1, h_l, w_l), pooled x2 when exported


class Pathway(nn.Module):
    """One encoder-decoder of GLSGN, run on a batch of patches (N, 3, h, w) -> (N, 3, h, w).

    Args:
        widths: channels per scale, the last one the bottleneck's (len = scales + 1).
        enc_blocks, dec_blocks: residual blocks per encoder / decoder scale.
        mid_blocks: residual blocks in the bottleneck.
        patch_norm: patch normalization after every decoder block (local pathways).
        takes_previous, takes_global: decoded features of S_{k-1} / Sg are fused in the decoder.
        sigma1, sigma2: eq. 2's weights of S_{k-1}'s and Sg's attention (used when ``consistency``).
        pn_max_factor: bound of patch normalization's factor (None: the bare eq. 4).
    """

    def __init__(self, widths, enc_blocks, dec_blocks, mid_blocks, *, patch_norm, takes_previous, takes_global,
                 sigma1: float = 0.5, sigma2: float = 0.5, pn_max_factor: float | None = 2.0):
        super().__init__()
        self.sigma1, self.sigma2 = sigma1, sigma2
        scales = len(widths) - 1
        if len(enc_blocks) != scales or len(dec_blocks) != scales:
            raise ValueError(f"need {scales} encoder and decoder block counts, got {enc_blocks}, {dec_blocks}")
        self.takes_previous, self.takes_global = takes_previous, takes_global
        self.head = nn.Conv2d(3, widths[0], 3, padding=1)
        self.encoders = nn.ModuleList(nn.Sequential(*[ResBlock(widths[l]) for _ in range(enc_blocks[l])])
                                      for l in range(scales))
        self.attention = nn.ModuleList(SpatialAttention(widths[l]) for l in range(scales))
        self.downs = nn.ModuleList(nn.Conv2d(widths[l], widths[l + 1], 2, stride=2) for l in range(scales))
        self.middle = nn.Sequential(*[ResBlock(widths[-1]) for _ in range(mid_blocks)])
        self.ups = nn.ModuleList(nn.Sequential(nn.Conv2d(widths[l + 1], 4 * widths[l], 1), nn.PixelShuffle(2))
                                 for l in range(scales))
        inputs = 2 + int(takes_previous) + int(takes_global)
        self.fuses = nn.ModuleList(nn.Conv2d(inputs * widths[l], widths[l], 1) for l in range(scales))
        self.decoders = nn.ModuleList(nn.ModuleList(ResBlock(widths[l]) for _ in range(dec_blocks[l]))
                                      for l in range(scales))
        self.patch_norms = nn.ModuleList(nn.ModuleList(PatchNorm(widths[l], max_factor=pn_max_factor)
                                                       for _ in range(dec_blocks[l]))
                                         for l in range(scales)) if patch_norm else None
        self.tail = nn.Conv2d(widths[0], 3, 3, padding=1)
        # Start near the identity (output = input + a small residual), as restoration networks usually do:
        # an untrained GLSGN then scores about the input's PSNR instead of far below it.
        with torch.no_grad():
            self.tail.weight.mul_(TAIL_INIT_SCALE)
            self.tail.bias.zero_()

    @property
    def scales(self) -> int:
        return len(self.downs)

    def forward(self, x: torch.Tensor, grid: tuple[int, int], context: PathwayContext, *,
                consistency: bool, chunk: int | None = None, export_pooled: bool = False) -> PathwayResult:
        """
        Args:
            x: (B*gh*gw, 3, h, w) patches, h and w multiples of 2^scales.
            grid: (gh, gw) patches per image.
            context: what earlier pathways pass on.
            consistency: PAC on (fuse attention of S_{k-1} and Sg) or plain spatial attention.
            chunk: patches per chunk for patch-local operations (None: all at once).
            export_pooled: pool decoded features and attention maps x2 for the next pathway.
        """
        n = x.shape[0]
        pool = (lambda t: F.avg_pool2d(t, 2)) if export_pooled else (lambda t: t)
        h = map_chunks(lambda s, e: self.head(x[s:e]), n, chunk)
        skips, attention_out = [], []
        for l in range(self.scales):
            h = map_chunks(lambda s, e: self.encoders[l](h[s:e]), n, chunk)
            own = map_chunks(lambda s, e: self.attention[l](h[s:e]), n, chunk)  # its hidden layer is full width
            if consistency:
                gate = consistent_attention(own, context.previous_attention[l],
                                            context.expand_global(context.global_attention[l], grid),
                                            self.sigma1, self.sigma2)
            else:
                gate = own
            skip = h * gate
            del h
            skips.append(skip)
            attention_out.append(pool(own))
            h = map_chunks(lambda s, e: self.downs[l](skip[s:e]), n, chunk)
        h = map_chunks(lambda s, e: self.middle(h[s:e]), n, chunk)

        decoded = [None] * self.scales
        for l in reversed(range(self.scales)):
            extra = []
            if self.takes_previous:
                extra.append(context.previous_features[l])
            if self.takes_global:
                extra.append(context.expand_global(context.global_features[l], grid))
            skip = skips[l]
            skips[l] = None

            def fuse(s, e):
                return self.fuses[l](torch.cat([self.ups[l](h[s:e]), skip[s:e]] + [t[s:e] for t in extra], 1))
            z = map_chunks(fuse, n, chunk)
            del skip, extra
            for j, block in enumerate(self.decoders[l]):
                z_hat = map_chunks(lambda s, e: block(z[s:e]), n, chunk)
                if self.patch_norms is not None:
                    norm = self.patch_norms[l][j]
                    r = map_chunks(lambda s, e: norm.intensity(z[s:e], z_hat[s:e]), n, chunk)
                    a = norm.factor(r, grid)
                    del z
                    z = map_chunks(lambda s, e: norm.modulate(z_hat[s:e], a[s:e]), n, chunk)
                else:
                    z = z_hat
                del z_hat
            decoded[l] = pool(z)
            h = z
        output = map_chunks(lambda s, e: x[s:e] + self.tail(h[s:e]), n, chunk)
        return PathwayResult(output, decoded, attention_out)


class GLSGN(nn.Module):
    """GLSGN with N local pathways and one global pathway.

    Args:
        local_pathways: N (paper: 3; Fig. 9 sweeps it).
        width: channels at the first scale; the scales have ``width * (1, 2, 4, 8, 17)`` channels.
        widths: explicit channels per scale (overrides ``width``), the last the bottleneck's.
        enc_blocks, dec_blocks, mid_blocks: residual blocks per scale.
        pn, pac, lp: patch normalization, perceptual attention consistency, Laplacian synthesis.
        iterative_decoding: fuse decoded features of S_{k-1} and Sg into S_k's decoder.
        global_only: the Global-Only ablation (Sg alone, its output upsampled).
        sigma1, sigma2: the weights of eq. 2 (the paper says only that they lie in [0, 1]).
        mask_width: hidden channels of the Laplacian mask networks.
        pn_max_factor: patch normalization's factor is bounded to [1/this, this] (None: unbounded eq. 4).
        patch_chunk: patches per chunk without autograd (None: 4); with autograd all at once.

    ``forward(x)``: x (B, 3, H, W) in [0, 1] -> ``(B_out, B_1, ..., B_N, B_g)`` (Global-Only: ``(B_out, B_g)``).
    """

    default_loss = "glsgn"

    def __init__(self, local_pathways: int = 3, width: int = 16, enc_blocks=(0, 1, 1, 1), dec_blocks=(1, 1, 1, 1),
                 mid_blocks: int = 2, pn: bool = True, pac: bool = True, lp: bool = True,
                 iterative_decoding: bool = True, global_only: bool = False, sigma1: float = 0.5,
                 sigma2: float = 0.5, mask_width: int = 16, patch_chunk: int | None = None,
                 widths: tuple[int, ...] | None = None, pn_max_factor: float | None = 2.0):
        super().__init__()
        if local_pathways < 1:
            raise ValueError(f"local_pathways must be >= 1, got {local_pathways}")
        if not (0.0 <= sigma1 <= 1.0 and 0.0 <= sigma2 <= 1.0):
            raise ValueError(f"sigma1 and sigma2 must lie in [0, 1], got {sigma1}, {sigma2}")
        self.local_count = local_pathways
        self.pac, self.global_only = pac and not global_only, global_only
        self.patch_chunk = patch_chunk
        widths = list(widths) if widths is not None else [width * m for m in WIDTH_MULTIPLIERS]
        if len(widths) != len(enc_blocks) + 1:
            raise ValueError(f"widths {widths} must have one entry per scale plus the bottleneck")
        common = dict(widths=widths, enc_blocks=tuple(enc_blocks), dec_blocks=tuple(dec_blocks),
                      mid_blocks=mid_blocks, sigma1=sigma1, sigma2=sigma2, pn_max_factor=pn_max_factor)
        self.global_pathway = Pathway(**common, patch_norm=False, takes_previous=False, takes_global=False)
        self.local_pathways = nn.ModuleList() if global_only else nn.ModuleList(
            Pathway(**common, patch_norm=pn, takes_previous=iterative_decoding and k > 0,
                    takes_global=iterative_decoding)
            for k in range(local_pathways))
        self.synthesis = LaplacianSynthesis(local_pathways, mask_width) if lp and not global_only else None

    @property
    def grid_side(self) -> int:
        """g = 2^(N-1): S_1's patches per side, and the global pathway's downscale factor."""
        return 2 ** (self.local_count - 1)

    @property
    def multiple(self) -> int:
        """Height and width are padded to a multiple of this."""
        return self.grid_side * 2 ** self.global_pathway.scales

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected (B, 3, H, W), got shape {tuple(x.shape)}")
        height, width = x.shape[-2:]
        m, g = self.multiple, self.grid_side
        pad_h, pad_w = -height % m, -width % m
        if pad_h or pad_w:
            mode = "reflect" if pad_h < height and pad_w < width else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        chunk = (self.patch_chunk or INFERENCE_PATCH_CHUNK) if not torch.is_grad_enabled() else None
        levels = self.global_pathway.scales

        global_input = F.avg_pool2d(x, g) if g > 1 else x
        global_result = self.global_pathway(global_input, (1, 1), PathwayContext(levels), consistency=False,
                                            chunk=chunk)
        b_global = global_result.output
        if self.global_only:
            out = F.interpolate(b_global, scale_factor=float(g), mode="bilinear", align_corners=False) if g > 1 \
                else b_global
            return _crop(out, height, width, 1), _crop(b_global, height, width, g)

        global_attention = [self.global_pathway.attention[l](f) if self.pac else None
                            for l, f in enumerate(global_result.decoded)]
        previous_features, previous_attention = [None] * levels, [None] * levels
        local_outputs = []
        for k, pathway in enumerate(self.local_pathways):
            scale, side = 2 ** k, g // 2 ** k
            grid = (side, side)
            image = F.avg_pool2d(x, scale) if scale > 1 else x
            context = PathwayContext(levels, previous_features, previous_attention, global_result.decoded,
                                     global_attention, global_scale=side)
            last = k == self.local_count - 1
            result = pathway(to_patches(image, grid), grid, context, consistency=self.pac, chunk=chunk,
                             export_pooled=not last)
            local_outputs.append(from_patches(result.output, grid))
            if not last:
                next_grid = (side // 2, side // 2)
                previous_features = [to_patches(from_patches(f, grid), next_grid) for f in result.decoded]
                previous_attention = [to_patches(from_patches(a, grid), next_grid) for a in result.attention]
            del result

        if self.synthesis is not None:
            out = self.synthesis(local_outputs[:-1] + [b_global], local_outputs[-1])
        else:
            out = F.interpolate(local_outputs[-1], scale_factor=float(g), mode="bilinear", align_corners=False) \
                if g > 1 else local_outputs[-1]
        stages = [_crop(o, height, width, 2 ** k) for k, o in enumerate(local_outputs)]
        return (_crop(out, height, width, 1), *stages, _crop(b_global, height, width, g))


def _crop(t: torch.Tensor, height: int, width: int, scale: int) -> torch.Tensor:
    """Crop a padded output at 1/scale back to ceil(height/scale) x ceil(width/scale)."""
    return t[..., :-(-height // scale), :-(-width // scale)]


@register_model("glsgn")
def glsgn(**kwargs) -> GLSGN:
    """The paper's configuration: 3 local pathways, PN, PAC and LP."""
    return GLSGN(**kwargs)


@register_model("glsgn-global-only")
def glsgn_global_only(**kwargs) -> GLSGN:
    """Table III, Global-Only: the global pathway alone."""
    return GLSGN(**{"global_only": True, **kwargs})


@register_model("glsgn-global-local")
def glsgn_global_local(**kwargs) -> GLSGN:
    """Table III, Global-Local: all pathways with iterative decoding, no PN, PAC or LP."""
    return GLSGN(**{"pn": False, "pac": False, "lp": False, **kwargs})


@register_model("glsgn-pn")
def glsgn_pn(**kwargs) -> GLSGN:
    """Table III, GLSGN-PN: Global-Local + patch normalization."""
    return GLSGN(**{"pn": True, "pac": False, "lp": False, **kwargs})


@register_model("glsgn-pac")
def glsgn_pac(**kwargs) -> GLSGN:
    """Table III, GLSGN-PAC: + perceptual attention consistency (no LP)."""
    return GLSGN(**{"pn": True, "pac": True, "lp": False, **kwargs})
