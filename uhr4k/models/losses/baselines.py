"""The published training losses of the baselines, as modules ``build_loss`` can look up.

Each loss takes ``forward(outputs, target) -> (total, parts)``: ``outputs`` is what the model returned
(a tensor, or a tuple/list whose element 0 is the final image), ``target`` a (B, 3, H, W) tensor in
[0, 1]; ``total`` is a scalar tensor to back-propagate and ``parts`` a dict of floats for logging.

- ``charbonnier_edge`` (MPRNet): over every output image, Charbonnier(eps 1e-3) + 0.05 x the
  Charbonnier distance of Laplacian-pyramid edges (5 x 5 binomial-like kernel [.05 .25 .4 .25 .05]).
- ``psnr`` (NAFNet): ``10 / ln 10 * mean_b log(MSE_b + 1e-8)``, i.e. minus the mean per-image PSNR
  (up to a constant); on the final output.
- ``neg_ssim`` (PReNet): minus the SSIM (11 x 11 Gaussian window, sigma 1.5, zero "same" padding)
  of the final output.
- ``mse_stages`` (RESCAN): the sum over every output image of its MSE to the target (RESCAN sums the
  MSE of each stage's rain layer to the true one; with image = input - rain that is the same number).
- ``mse`` (MSBDN): MSE of the final output.
- ``l1_contrastive`` (AECR-Net): L1 of the final output plus ``perceptual_weight`` (0.1, the paper's beta)
  x the contrastive regulariser ``sum_i w_i * L1(phi_i(out), phi_i(target)) / (L1(phi_i(out), phi_i(input))
  + 1e-7)`` over VGG-19 relu1_1 ... relu5_1 with w = (1/32, 1/16, 1/8, 1/4, 1): the output pulled towards
  the clear target (positive) and pushed from the hazy input (negative). As released, VGG sees the [0, 1]
  image without ImageNet normalisation.
- ``derainrlnet`` (DerainRLNet): ``L1(rain, true rain) - SSIM(x - rain, target)`` plus, when the model
  returned its training outputs (``forward(x, target=)``), ``0.6 * (L1(h_b, rain at 1/2) + L1(x3, y3) +
  L1(x4, y4) + 0.01 * mean(k3^2) + 0.01 * mean(k4^2))``: the half-scale tower, the two multi-scale rain
  estimates against their feedback-corrected targets, and the feedback maps kept small.
- ``gaussian_kl`` (VRGNet's deraining network): outputs ``(image, mu, logvar)``; the KL divergence of
  N(mu, exp(logvar)) from the prior N(target, eps2), ``0.5 * mean((mu - t)^2 / eps2 + v - 1 - log v)``
  with ``v = exp(logvar) / eps2``, logvar clamped to [log 1e-8, log 1e4] first.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from uhr4k.models.archs.vgg import load_vgg19
from uhr4k.models.losses.registry import register_losses
from uhr4k.models.losses.terms import gaussian_window, raw_vgg_features, ssim_map


def _images(outputs) -> list[torch.Tensor]:
    return list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.ndim != 4 or pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} must be the same "
                         "(B, C, H, W) shape")


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Mean of sqrt((pred - target)^2 + eps^2) over all elements; a smooth L1."""
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()


class LaplacianEdges(nn.Module):
    """One Laplacian-pyramid band of (B, C, H, W): x minus its blurred, 2x-decimated and re-expanded
    version (the MPRNet edge loss's feature). Same shape as the input."""

    def __init__(self):
        super().__init__()
        k = torch.tensor([0.05, 0.25, 0.4, 0.25, 0.05])
        self.register_buffer("kernel", torch.outer(k, k)[None, None], persistent=False)

    def _blur(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        x = F.pad(x, (2, 2, 2, 2), mode="replicate")
        return F.conv2d(x, self.kernel.to(x.dtype).expand(c, 1, 5, 5), groups=c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        blurred = self._blur(x)
        # Keep every second sample, zero the rest, x4 to restore the mean, blur again: an expansion.
        expanded = torch.zeros_like(blurred)
        expanded[:, :, ::2, ::2] = blurred[:, :, ::2, ::2] * 4
        return x - self._blur(expanded)


class CharbonnierEdgeLoss(nn.Module):
    """MPRNet: sum over output images of Charbonnier + ``edge_weight`` x edge Charbonnier."""

    def __init__(self, edge_weight: float = 0.05, eps: float = 1e-3):
        super().__init__()
        self.edge_weight = edge_weight
        self.eps = eps
        self.edges = LaplacianEdges()

    def forward(self, outputs, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        char, edge = 0.0, 0.0
        target_edges = self.edges(target)
        for pred in _images(outputs):
            _check_pair(pred, target)
            char = char + charbonnier(pred, target, self.eps)
            edge = edge + charbonnier(self.edges(pred), target_edges, self.eps)
        total = char + self.edge_weight * edge
        return total, {"charbonnier": char.item(), "edge": edge.item(), "total": total.item()}


class PSNRLoss(nn.Module):
    """NAFNet: ``weight * 10 / ln 10 * mean over the batch of log(MSE + 1e-8)`` on the final output.

    Lower is better; ``-loss`` is the mean per-image PSNR of [0, 1] images (up to the 1e-8 guard).
    """

    def __init__(self, weight: float = 1.0):
        super().__init__()
        self.weight = weight
        self.scale = 10.0 / math.log(10.0)

    def forward(self, outputs, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        pred = _images(outputs)[0]
        _check_pair(pred, target)
        mse = ((pred - target) ** 2).mean(dim=(1, 2, 3))
        total = self.weight * self.scale * torch.log(mse + 1e-8).mean()
        return total, {"psnr": -total.item() / self.weight, "total": total.item()}


class NegSSIMLoss(nn.Module):
    """PReNet: ``-SSIM(final output, target)``."""

    def __init__(self, window_size: int = 11, sigma: float = 1.5):
        super().__init__()
        self.register_buffer("window", gaussian_window(window_size, sigma), persistent=False)

    def forward(self, outputs, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        pred = _images(outputs)[0]
        _check_pair(pred, target)
        value = ssim_map(pred, target, self.window).mean()
        return -value, {"ssim": value.item(), "total": -value.item()}


class MSEStagesLoss(nn.Module):
    """RESCAN: ``sum_i MSE(output_i, target)`` over every output image (one per stage)."""

    def forward(self, outputs, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        total, parts = 0.0, {}
        for i, pred in enumerate(_images(outputs)):
            _check_pair(pred, target)
            term = F.mse_loss(pred, target)
            total = total + term
            parts[f"mse{i}"] = term.item()
        parts["total"] = total.item()
        return total, parts


class MSELoss(nn.Module):
    """MSBDN: MSE of the final output."""

    def forward(self, outputs, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        pred = _images(outputs)[0]
        _check_pair(pred, target)
        total = F.mse_loss(pred, target)
        return total, {"mse": total.item(), "total": total.item()}


CONTRASTIVE_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)


class L1ContrastiveLoss(nn.Module):
    """AECR-Net: ``L1(out, target) + perceptual_weight * contrastive(out, target, inputs)``.

    Args:
        perceptual_weight: weight of the contrastive regulariser (the paper's beta, 0.1); 0 drops it and
            the need for VGG-19 weights (``uhr4k train --perc-weight``).
        vgg_weights: torchvision VGG-19 state dict path (else ``$UHR4K_VGG19_WEIGHTS``).
        vgg: an already built :class:`uhr4k.models.archs.vgg.VGG19Features` (tests).
    """

    def __init__(self, perceptual_weight: float = 0.1, vgg_weights=None, vgg=None):
        super().__init__()
        self.perceptual_weight = perceptual_weight
        self.vgg = None
        if perceptual_weight:
            # Not a registered submodule: its frozen weights stay out of checkpoints and optimizers.
            object.__setattr__(self, "vgg", vgg if vgg is not None else load_vgg19(vgg_weights))

    def contrastive(self, pred: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        vgg = self.vgg.to(pred.device)
        with torch.no_grad():  # the release detaches both anchors' features
            pos, neg = raw_vgg_features(vgg, positive, vgg.layers), raw_vgg_features(vgg, negative, vgg.layers)
        total = 0.0
        anchors = raw_vgg_features(vgg, pred, vgg.layers)
        for w, a, p, n in zip(CONTRASTIVE_WEIGHTS, anchors, pos, neg, strict=True):
            total = total + w * F.l1_loss(a, p) / (F.l1_loss(a, n) + 1e-7)
        return total

    def forward(self, outputs, target: torch.Tensor, inputs: torch.Tensor | None = None):
        pred = _images(outputs)[0]
        _check_pair(pred, target)
        l1 = F.l1_loss(pred, target)
        total, parts = l1, {"l1": l1.item()}
        if self.vgg is not None:
            if inputs is None:
                raise ValueError("l1_contrastive needs the hazy input (inputs=) as the negative sample")
            _check_pair(inputs, target)
            term = self.contrastive(pred, target, inputs)
            total = total + self.perceptual_weight * term
            parts["contrastive"] = term.item()
        parts["total"] = total.item()
        return total, parts


class DerainRLNetLoss(nn.Module):
    """DerainRLNet's training objective (``derain/derain`` of the release, its zero-weighted term left out).

    The rain L1 ``L1(x - clean, x - target)`` is computed as ``L1(clean, target)``, the same number. With
    a bare image (a model run without the target) only the L1 and SSIM terms apply.
    """

    def __init__(self, window_size: int = 11, sigma: float = 1.5):
        super().__init__()
        self.register_buffer("window", gaussian_window(window_size, sigma), persistent=False)

    def forward(self, outputs, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        clean = _images(outputs)[0]
        _check_pair(clean, target)
        l1 = F.l1_loss(clean, target)
        ssim = ssim_map(clean, target, self.window).mean()
        total = l1 - ssim
        parts = {"l1": l1.item(), "ssim": ssim.item()}
        if hasattr(outputs, "k3"):  # the model's training outputs: the feedback terms
            feedback = (F.l1_loss(outputs.h_b, outputs.rain_half) + F.l1_loss(outputs.x3, outputs.y3)
                        + F.l1_loss(outputs.x4, outputs.y4)
                        + 0.01 * outputs.k3.square().mean() + 0.01 * outputs.k4.square().mean())
            total = total + 0.6 * feedback
            parts["feedback"] = feedback.item()
        parts["total"] = total.item()
        return total, parts


class GaussianKLLoss(nn.Module):
    """VRGNet: KL(N(mu, exp(logvar)) || N(target, eps2)) per pixel, averaged.

    ``outputs`` must be ``(image, mu, logvar)`` (what :class:`uhr4k.models.archs.vrgnet.VRGNetDerain` returns);
    ``image`` is not used (it is ``mu`` clamped, which would stop gradients outside [0, 1]). The release
    clamps logvar to [log 1e-8, log 1e4] (in place) before the term, so no gradient flows outside it.
    """

    def __init__(self, eps2: float = 1e-6, log_min: float = math.log(1e-8), log_max: float = math.log(1e4)):
        super().__init__()
        self.eps2, self.log_min, self.log_max = eps2, log_min, log_max

    def forward(self, outputs, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        images = _images(outputs)
        if len(images) != 3:
            raise ValueError(f"gaussian_kl needs outputs (image, mu, logvar), got {len(images)} tensor(s)")
        _, mu, logvar = images
        _check_pair(mu, target)
        _check_pair(logvar, target)
        logvar = logvar.clamp(self.log_min, self.log_max)
        ratio = torch.exp(logvar) / self.eps2
        total = 0.5 * torch.mean((mu - target) ** 2 / self.eps2 + ratio - 1 - torch.log(ratio))
        mse = F.mse_loss(mu.detach(), target)
        return total, {"mse": mse.item(), "total": total.item()}


BASELINE_LOSSES: dict[str, type[nn.Module]] = {
    "charbonnier_edge": CharbonnierEdgeLoss,
    "psnr": PSNRLoss,
    "neg_ssim": NegSSIMLoss,
    "gaussian_kl": GaussianKLLoss,
    "mse_stages": MSEStagesLoss,
    "mse": MSELoss,
    "l1_contrastive": L1ContrastiveLoss,
    "derainrlnet": DerainRLNetLoss,
}
register_losses(BASELINE_LOSSES)
