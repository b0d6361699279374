"""GLSGN, the Global-Local Stepwise Generative Network (paper section III; docs/paper.md, "GLSGN").

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
   bands of B_1, B_2, B_g and ``l = u(d(B_3))``, each band gated by a learned mask (``lp_masks=False``:
   the plain pyramid recurrence, no masks; ``lp_bands=1`` or ``2``: only the finest one or two bands,
   Table V's "h0" and "h0 + h1"). Without ``lp`` the output is B_N (the last, "cleanest" pathway)
   upsampled bilinearly to full size, ``no_lp_output="b3"`` (our reading: the paper does not say what
   Table III's variants without LP output; B_N is where its stepwise restoration ends);
   ``no_lp_output="b1"`` takes the other defensible reading, the full-resolution first pathway's B_1.

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

**Memory.** :meth:`Pathway.forward` is the one pass of a pathway, for training, ``torch.compile`` and
inference alike; it runs its patch-local operations through a chunk plan
(:mod:`~uhr4k.models.archs.glsgn.memory`). With autograd or under compilation the plan is the whole batch
of patches; without autograd (``torch.no_grad``/``inference_mode``) it is ``patch_chunk`` patches at a
time (default 4), which bounds the transient tensors at 4K; patch normalization still sees all patches.
Chunking changes memory only, never the result.
"""
from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from uhr4k.models.archs.glsgn.blocks import (
    PatchNorm,
    PathwayContext,
    PathwayResult,
    ResBlock,
    SpatialAttention,
    apply_gate,
    consistent_attention,
)
from uhr4k.models.archs.glsgn.laplacian import LaplacianSynthesis
from uhr4k.models.archs.glsgn.memory import WHOLE, ChunkPlan, from_patches, inference_plan, regrid, to_patches
from uhr4k.models.archs.image_batch import check_image_batch, pad_to_multiple
from uhr4k.models.registry import register_model

# Channels per scale relative to ``width``: doubling per halving, a wider bottleneck (see the docstring).
WIDTH_MULTIPLIERS = (1, 2, 4, 8, 17)
TAIL_INIT_SCALE = 0.1
# What a model without the Laplacian synthesis outputs: the last local pathway upsampled, or the first's.
NO_LP_OUTPUTS = ("b3", "b1")


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
        self.encoders = nn.ModuleList(nn.Sequential(*[ResBlock(widths[i]) for _ in range(enc_blocks[i])])
                                      for i in range(scales))
        self.attention = nn.ModuleList(SpatialAttention(widths[i]) for i in range(scales))
        self.downs = nn.ModuleList(nn.Conv2d(widths[i], widths[i + 1], 2, stride=2) for i in range(scales))
        self.middle = nn.Sequential(*[ResBlock(widths[-1]) for _ in range(mid_blocks)])
        self.ups = nn.ModuleList(nn.Sequential(nn.Conv2d(widths[i + 1], 4 * widths[i], 1), nn.PixelShuffle(2))
                                 for i in range(scales))
        inputs = 2 + int(takes_previous) + int(takes_global)
        self.fuses = nn.ModuleList(nn.Conv2d(inputs * widths[i], widths[i], 1) for i in range(scales))
        self.decoders = nn.ModuleList(nn.ModuleList(ResBlock(widths[i]) for _ in range(dec_blocks[i]))
                                      for i in range(scales))
        self.patch_norms = nn.ModuleList(nn.ModuleList(PatchNorm(widths[i], max_factor=pn_max_factor)
                                                       for _ in range(dec_blocks[i]))
                                         for i in range(scales)) if patch_norm else None
        self.tail = nn.Conv2d(widths[0], 3, 3, padding=1)
        # Start near the identity (output = input + a small residual), as restoration networks usually do:
        # an untrained GLSGN then scores about the input's PSNR instead of far below it.
        with torch.no_grad():
            self.tail.weight.mul_(TAIL_INIT_SCALE)
            self.tail.bias.zero_()

    @property
    def scales(self) -> int:
        return len(self.downs)

    def gate(self, level: int, own: torch.Tensor, context: PathwayContext, grid: tuple[int, int],
             consistency: bool) -> torch.Tensor:
        """The attention A that re-weights the skip at ``level``: eq. 2 with PAC, else f_k(E_k) alone."""
        if not consistency:
            return own
        return consistent_attention(own, context.previous_attention[level],
                                    context.expand_global(context.global_attention[level], grid),
                                    self.sigma1, self.sigma2)

    def decoder_inputs(self, level: int, context: PathwayContext, grid: tuple[int, int]) -> list[torch.Tensor]:
        """The decoded features of S_{k-1} and Sg that eq. 1 fuses at ``level``, as this pathway's patches."""
        inputs = []
        if self.takes_previous:
            inputs.append(context.previous_features[level])
        if self.takes_global:
            inputs.append(context.expand_global(context.global_features[level], grid))
        return inputs

    def fuse(self, level: int, features: torch.Tensor, skip: torch.Tensor, *others: torch.Tensor) -> torch.Tensor:
        """Eq. 1: upsample, concatenate with the skip and the other pathways' features, 1x1 convolution."""
        return self.fuses[level](torch.cat([self.ups[level](features), skip, *others], 1))

    def residual(self, x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """The restored patches: the input plus the tail's residual of the last decoded features."""
        return x + self.tail(features)

    def forward(self, x: torch.Tensor, grid: tuple[int, int], context: PathwayContext, *,
                consistency: bool, export_pooled: bool = False, plan: ChunkPlan = WHOLE) -> PathwayResult:
        """
        Args:
            x: (B*gh*gw, 3, h, w) patches, h and w multiples of 2^scales.
            grid: (gh, gw) patches per image.
            context: what earlier pathways pass on.
            consistency: PAC on (fuse attention of S_{k-1} and Sg) or plain spatial attention.
            export_pooled: pool decoded features and attention maps x2 for the next pathway.
            plan: how the patch-local operations run: all patches at once (``WHOLE``) or in chunks.
        """
        skips, attention, bottom = self.encode(x, grid, context, consistency, export_pooled, plan)
        decoded, features = self.decode(bottom, skips, grid, context, export_pooled, plan)
        return PathwayResult(plan.map(self.residual, x, features), decoded, attention)

    def encode(self, x: torch.Tensor, grid: tuple[int, int], context: PathwayContext, consistency: bool,
               export_pooled: bool, plan: ChunkPlan) -> tuple[list, list, torch.Tensor]:
        """The encoder and the bottleneck: the gated skips (eq. 2-3, finest first), the pathway's own
        attention maps f_k(E_k) (pooled x2 when exported) and the bottleneck's features."""
        features = plan.map(self.head, x)
        skips, attention = [], []
        for level in range(self.scales):
            features = plan.map(self.encoders[level], features)                    # E_k at this scale
            own = plan.map(self.attention[level], features)                        # f_k(E_k)
            gate = self.gate(level, own, context, grid, consistency)               # A_k, eq. 2
            skips.append(plan.map(apply_gate, features, gate))                     # eq. 3
            attention.append(F.avg_pool2d(own, 2) if export_pooled else own)
            del features  # freed before the next tensor is allocated: at 4K each is 0.53 GB
            features = plan.map(self.downs[level], skips[-1])
        return skips, attention, plan.map(self.middle, features)

    def decode(self, features: torch.Tensor, skips: list, grid: tuple[int, int], context: PathwayContext,
               export_pooled: bool, plan: ChunkPlan) -> tuple[list, torch.Tensor]:
        """The decoder from the bottleneck's ``features``, popping ``skips``: the decoded features per scale
        (pooled x2 when exported) and the last scale's, unpooled, for the tail."""
        decoded = [None] * self.scales
        for level in reversed(range(self.scales)):
            z = plan.map(partial(self.fuse, level), features, skips.pop(),
                         *self.decoder_inputs(level, context, grid))                 # eq. 1
            for j, block in enumerate(self.decoders[level]):
                z_hat = plan.map(block, z)
                if self.patch_norms is not None:
                    norm = self.patch_norms[level][j]
                    # eq. 4 over all patches of an image (the intensities chunk by chunk), eq. 5 per patch
                    factor = norm.factor(plan.map(norm.intensity, z, z_hat), grid)
                    del z  # the block input is no longer needed: one full-size tensor less at the peak
                    z_hat = plan.map(norm.modulate, z_hat, factor)
                z = z_hat  # one name per tensor: nothing full-size outlives its use
            decoded[level] = F.avg_pool2d(z, 2) if export_pooled else z
            features = z
        return decoded, features


class GLSGN(nn.Module):
    """GLSGN with N local pathways and one global pathway.

    Args:
        num_local_pathways: N (paper: 3; Fig. 9 sweeps it).
        width: channels at the first scale; the scales have ``width * (1, 2, 4, 8, 17)`` channels.
        widths: explicit channels per scale (overrides ``width``), the last the bottleneck's.
        enc_blocks, dec_blocks, mid_blocks: residual blocks per scale.
        pn, pac, lp: patch normalization, perceptual attention consistency, Laplacian synthesis.
        lp_masks: learned masks on the bands (eq. 6); False: the plain Laplacian recurrence.
        lp_bands: the synthesis keeps only the finest this many bands (None: all N; 1 and 2 are Table V's
            GLSGN-h0 and GLSGN-h0+h1).
        no_lp_output: what a model without ``lp`` outputs: ``"b3"`` the last local pathway's B_N upsampled
            (B_3 for N = 3, the default), ``"b1"`` the first pathway's full-resolution B_1.
        iterative_decoding: fuse decoded features of S_{k-1} and Sg into S_k's decoder.
        global_only: the Global-Only ablation (Sg alone, its output upsampled).
        sigma1, sigma2: the weights of eq. 2 (the paper says only that they lie in [0, 1]).
        mask_width: hidden channels of the Laplacian mask networks.
        pn_max_factor: patch normalization's factor is bounded to [1/this, this] (None: unbounded eq. 4).
        patch_chunk: patches per chunk without autograd (None: 4); with autograd or under
            ``torch.compile`` all patches at once (``memory.inference_plan``).

    ``forward(x)``: x (B, 3, H, W) in [0, 1] -> ``(B_out, B_1, ..., B_N, B_g)`` (Global-Only: ``(B_out, B_g)``).
    """

    def __init__(self, num_local_pathways: int = 3, width: int = 16, enc_blocks=(0, 1, 1, 1),
                 dec_blocks=(1, 1, 1, 1), mid_blocks: int = 2, pn: bool = True, pac: bool = True, lp: bool = True,
                 iterative_decoding: bool = True, global_only: bool = False, sigma1: float = 0.5,
                 sigma2: float = 0.5, mask_width: int = 16, patch_chunk: int | None = None,
                 widths: tuple[int, ...] | None = None, pn_max_factor: float | None = 2.0,
                 lp_masks: bool = True, lp_bands: int | None = None, no_lp_output: str = "b3"):
        super().__init__()
        if no_lp_output not in NO_LP_OUTPUTS:
            raise ValueError(f"no_lp_output must be one of {NO_LP_OUTPUTS}, got {no_lp_output!r}")
        self.no_lp_output = no_lp_output
        if num_local_pathways < 1:
            raise ValueError(f"num_local_pathways must be >= 1, got {num_local_pathways}")
        if not (0.0 <= sigma1 <= 1.0 and 0.0 <= sigma2 <= 1.0):
            raise ValueError(f"sigma1 and sigma2 must lie in [0, 1], got {sigma1}, {sigma2}")
        self.num_local_pathways = num_local_pathways
        self.pac, self.global_only = pac and not global_only, global_only
        self.patch_chunk = patch_chunk
        widths = list(widths) if widths is not None else [width * m for m in WIDTH_MULTIPLIERS]
        if len(widths) != len(enc_blocks) + 1:
            raise ValueError(f"widths {widths} must have one entry per scale plus the bottleneck")
        common = {"widths": widths, "enc_blocks": tuple(enc_blocks), "dec_blocks": tuple(dec_blocks),
                  "mid_blocks": mid_blocks, "sigma1": sigma1, "sigma2": sigma2, "pn_max_factor": pn_max_factor}
        self.global_pathway = Pathway(**common, patch_norm=False, takes_previous=False, takes_global=False)
        self.local_pathways = nn.ModuleList() if global_only else nn.ModuleList(
            Pathway(**common, patch_norm=pn, takes_previous=iterative_decoding and k > 0,
                    takes_global=iterative_decoding)
            for k in range(num_local_pathways))
        self.synthesis = LaplacianSynthesis(num_local_pathways, mask_width, learn_masks=lp_masks,
                                            used_bands=lp_bands) if lp and not global_only else None

    @property
    def grid_side(self) -> int:
        """g = 2^(N-1): S_1's patches per side, and the global pathway's downscale factor."""
        return 2 ** (self.num_local_pathways - 1)

    @property
    def multiple(self) -> int:
        """Height and width are padded to a multiple of this."""
        return self.grid_side * 2 ** self.global_pathway.scales

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        check_image_batch(x)
        x, height, width = pad_to_multiple(x, self.multiple)
        g, levels = self.grid_side, self.global_pathway.scales

        global_result = self._run(self.global_pathway, _downscale(x, g), (1, 1), PathwayContext(levels),
                                  consistency=False)
        b_global = global_result.output
        if self.global_only:
            return _crop(_upscale(b_global, g), height, width, 1), _crop(b_global, height, width, g)

        # f_g(F_g): the global pathway's attention applied to its decoded features (eq. 2).
        global_attention = [self.global_pathway.attention[level](f) if self.pac else None
                            for level, f in enumerate(global_result.decoded)]
        previous = (None, None)          # S_{k-1}'s decoded features and attention, in S_k's patches
        local_outputs = []
        for k, pathway in enumerate(self.local_pathways):
            output, previous = self._local_pathway(k, pathway, x, previous, global_result.decoded, global_attention)
            local_outputs.append(output)

        if self.synthesis is not None:
            out = self.synthesis(local_outputs[:-1] + [b_global], local_outputs[-1])     # eq. 6-7
        elif self.no_lp_output == "b1":
            out = local_outputs[0]
        else:
            out = _upscale(local_outputs[-1], g)
        stages = [_crop(o, height, width, 2 ** k) for k, o in enumerate(local_outputs)]
        return (_crop(out, height, width, 1), *stages, _crop(b_global, height, width, g))

    def _local_pathway(self, k: int, pathway: Pathway, x: torch.Tensor, previous: tuple, global_decoded: list,
                       global_attention: list) -> tuple[torch.Tensor, tuple]:
        """S_{k+1} on the padded image x: its output (B, 3, H / 2^k, W / 2^k) and what it passes on, cut
        into the next pathway's patches (its own result, with full-size maps, is dropped on return)."""
        side = self.grid_side // 2 ** k
        grid = (side, side)
        context = PathwayContext(self.global_pathway.scales, *previous, global_decoded, global_attention,
                                 global_scale=side)
        last = k == self.num_local_pathways - 1
        result = self._run(pathway, to_patches(_downscale(x, 2 ** k), grid), grid, context, consistency=self.pac,
                           export_pooled=not last)
        if last:
            return from_patches(result.output, grid), (None, None)
        next_grid = (side // 2, side // 2)
        return from_patches(result.output, grid), ([regrid(f, grid, next_grid) for f in result.decoded],
                                                   [regrid(a, grid, next_grid) for a in result.attention])

    def _run(self, pathway: Pathway, patches: torch.Tensor, grid, context, **kwargs) -> PathwayResult:
        """One pathway, its patches in the chunks the memory plan picks now (all at once with autograd)."""
        return pathway(patches, grid, context, plan=inference_plan(self.patch_chunk), **kwargs)


def _downscale(x: torch.Tensor, factor: int) -> torch.Tensor:
    return F.avg_pool2d(x, factor) if factor > 1 else x


def _upscale(x: torch.Tensor, factor: int) -> torch.Tensor:
    return F.interpolate(x, scale_factor=float(factor), mode="bilinear", align_corners=False) if factor > 1 else x


def _crop(t: torch.Tensor, height: int, width: int, scale: int) -> torch.Tensor:
    """Crop a padded output at 1/scale back to ceil(height/scale) x ceil(width/scale)."""
    return t[..., :-(-height // scale), :-(-width // scale)]


# The paper evaluates GLSGN on all three (Tables VII, VIII, IX); the first decides the default training subset.
TASKS = ("reflection", "deraining", "dehazing")
# What every configuration declares alike in the registry (docs/models.md).
FACTS = {"tasks": TASKS, "paper": "GLSGN (Feng et al., docs/paper.md)"}


@register_model("glsgn", **FACTS, default_loss="glsgn", recipe="glsgn", published_params="15.69 M (Table I)",
                summary="the paper's model: 3 local pathways, PN, PAC and LP")
def glsgn(**kwargs) -> GLSGN:
    """The paper's configuration: 3 local pathways, PN, PAC and LP."""
    return GLSGN(**kwargs)


@register_model("glsgn-global-only", **FACTS, default_loss="glsgn", recipe="glsgn-global-only",
                summary="Table III, Global-Only: the global pathway alone")
def glsgn_global_only(**kwargs) -> GLSGN:
    """Table III, Global-Only: the global pathway alone."""
    return GLSGN(**{"global_only": True, **kwargs})


@register_model("glsgn-global-local", **FACTS, default_loss="glsgn", recipe="glsgn-global-local",
                summary="Table III, Global-Local: all pathways with iterative decoding, no PN, PAC or LP")
def glsgn_global_local(**kwargs) -> GLSGN:
    """Table III, Global-Local: all pathways with iterative decoding, no PN, PAC or LP."""
    return GLSGN(**{"pn": False, "pac": False, "lp": False, **kwargs})


@register_model("glsgn-pn", **FACTS, default_loss="glsgn", recipe="glsgn-pn",
                summary="Table III, GLSGN-PN: Global-Local + patch normalization")
def glsgn_pn(**kwargs) -> GLSGN:
    """Table III, GLSGN-PN: Global-Local + patch normalization."""
    return GLSGN(**{"pn": True, "pac": False, "lp": False, **kwargs})


@register_model("glsgn-pac", **FACTS, default_loss="glsgn", recipe="glsgn-pac",
                summary="Table III, GLSGN-PAC: + perceptual attention consistency (no LP)")
def glsgn_pac(**kwargs) -> GLSGN:
    """Table III, GLSGN-PAC: + perceptual attention consistency (no LP)."""
    return GLSGN(**{"pn": True, "pac": True, "lp": False, **kwargs})


@register_model("glsgn-ssim", **FACTS, default_loss="glsgn_ssim", recipe="glsgn-ssim",
                summary="Table V, GLSGN-SSIM: GLSGN-PAC's network trained with eq. 11 + (1 - SSIM)")
def glsgn_ssim(**kwargs) -> GLSGN:
    """Table V, GLSGN-SSIM ("the difference between LP and SSIM loss"). Our reading: the Laplacian
    synthesis replaced by an SSIM loss, i.e. GLSGN-PAC's network (PN and PAC, no LP: its output is the
    last pathway's, as every variant without LP) trained with the GLSGN loss plus ``1 - SSIM`` of the
    final image (loss ``glsgn_ssim``)."""
    return GLSGN(**{"pn": True, "pac": True, "lp": False, **kwargs})


@register_model("glsgn-h0", **FACTS, default_loss="glsgn", recipe="glsgn-h0",
                summary="Table V, GLSGN-h0: the synthesis keeps the finest band only")
def glsgn_h0(**kwargs) -> GLSGN:
    """Table V, GLSGN-h0 ("the effect of different scale of high-frequency information in LP"). Our
    reading: the complete model whose synthesis keeps only the finest band h0 (from B_1):
    ``B_out = h'_1 + u(u(l))``, h2 and h3 (from B_2 and B_g) and their masks removed."""
    return GLSGN(**{"lp_bands": 1, **kwargs})


@register_model("glsgn-h0h1", **FACTS, default_loss="glsgn", recipe="glsgn-h0h1",
                summary="Table V, GLSGN-h0+h1: the synthesis keeps the two finest bands")
def glsgn_h0h1(**kwargs) -> GLSGN:
    """Table V, GLSGN-h0+h1: the synthesis keeps the two finest bands (from B_1 and B_2):
    ``B_out = h'_1 + u(h'_2 + u(l))``, the global pathway's band h3 and its mask removed."""
    return GLSGN(**{"lp_bands": 2, **kwargs})
