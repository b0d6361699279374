"""The published reconstruction losses of the reflection-removal baselines RmNet, ERRNet, IBCLN,
CFDNet and Zou et al., as modules ``build_loss`` looks up by the model's name.

Each takes ``forward(outputs, target, inputs=None, reflection=None, mix=None) -> (total, parts)`` like
the other losses of :mod:`uhr4k.models.losses.glsgn`: ``outputs`` is what the model returned (final
transmission first), ``target`` the (B, 3, H, W) transmission in [0, 1], ``inputs`` the blended image
the model saw (the trainer passes it; RmNet's recomposition and IBCLN's residual terms need it). The
terms on the reflection layer (and RmNet's mixing map) need their ground truth, which UHR4K pairs do
not carry; they are added when ``reflection`` / ``mix`` are given and left out otherwise.

VGG-19 terms read torchvision weights from ``vgg_weights`` (the ``--vgg-weights`` path of GLSGN's
perceptual loss, else ``$UHR4K_VGG19_WEIGHTS``); ``perceptual_weight=0`` drops them (and the need for
weights). The releases' adversarial terms are off by default; ``adversarial_weight > 0`` adds the
project's spectral-norm PatchGAN (hinge loss, :mod:`uhr4k.models.archs.discriminator`) on the final
transmission in their place, trained by the trainer through :meth:`discriminator_loss` (not the
releases' own discriminators and GAN variants).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from uhr4k.models.archs.discriminator import (
    SNPatchDiscriminator,
    generator_adversarial_loss,
    hinge_discriminator_loss,
)
from uhr4k.models.archs.vgg import PERCEPTUAL_LAYERS, VGG19Features, load_vgg19
from uhr4k.models.losses.registry import register_losses
from uhr4k.models.losses.terms import (
    PERCEPTUAL_WEIGHTS,
    checked_outputs,
    raw_vgg_features,
    resize_target,
    split_outputs,
)


def sobel_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """RmNet's gradient term: L1 of the x and y Sobel responses (3x3, zero padding) of the channel sum,
    each weighted 1 (the release's 3-in, 3-out convolutions give three copies of that response)."""
    kx = torch.tensor([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=pred.dtype, device=pred.device)
    kernels = torch.stack([kx, kx.t()])[:, None]                      # (2, 1, 3, 3): G_x, G_y
    g_pred = F.conv2d(pred.sum(1, keepdim=True), kernels, padding=1)
    g_target = F.conv2d(target.sum(1, keepdim=True), kernels, padding=1)
    return F.l1_loss(g_pred[:, :1], g_target[:, :1]) + F.l1_loss(g_pred[:, 1:], g_target[:, 1:])


def difference_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """ERRNet's ``GradientLoss``: L1 of the vertical plus L1 of the horizontal forward differences."""
    return (F.l1_loss(pred[..., 1:, :] - pred[..., :-1, :], target[..., 1:, :] - target[..., :-1, :])
            + F.l1_loss(pred[..., 1:] - pred[..., :-1], target[..., 1:] - target[..., :-1]))


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute horizontal plus mean absolute vertical difference (CFDNet's TV term)."""
    return (x[..., :, :-1] - x[..., :, 1:]).abs().mean() + (x[..., :-1, :] - x[..., 1:, :]).abs().mean()


def weighted_l1(weights, got, wanted) -> torch.Tensor:
    """``sum_i w_i L1(got_i, wanted_i)`` over matching lists of feature maps."""
    return sum(w * F.l1_loss(p, t) for w, p, t in zip(weights, got, wanted, strict=True))


class _ReflectionLoss(nn.Module):
    """Shared plumbing: the frozen VGG (kept out of the state dict), the optional discriminator."""

    default_perceptual = 1.0

    def __init__(self, perceptual_weight: float | None = None, adversarial_weight: float = 0.0,
                 vgg_weights=None, vgg: VGG19Features | None = None, discriminator_width: int = 64):
        super().__init__()
        self.perceptual_weight = self.default_perceptual if perceptual_weight is None else perceptual_weight
        self.adversarial_weight = adversarial_weight
        self.vgg = None
        if self.perceptual_weight and self.default_perceptual:
            # Not a registered submodule: its 20 M frozen weights stay out of checkpoints and optimizers.
            object.__setattr__(self, "vgg", vgg if vgg is not None else load_vgg19(vgg_weights))
        # Unconditional: it judges the transmission alone (the releases differ in what their D sees).
        self.discriminator = (SNPatchDiscriminator(discriminator_width, conditional=False)
                              if adversarial_weight else None)

    def _vgg(self, like: torch.Tensor) -> VGG19Features:
        return self.vgg.to(like.device)

    def _finish(self, total, parts: dict, final: torch.Tensor):
        if self.discriminator is not None:
            adv = generator_adversarial_loss(self.discriminator(final))
            total = total + self.adversarial_weight * adv
            parts["adversarial"] = adv.item()
        parts["total"] = total.item()
        return total, parts

    def discriminator_loss(self, outputs, target) -> torch.Tensor:
        """Hinge loss of D on the (detached) final transmission and the target, in one batch."""
        if self.discriminator is None:
            raise ValueError("this loss has no discriminator (adversarial weight 0)")
        final, _ = split_outputs(outputs)
        logits = self.discriminator(torch.cat([target, final.detach()], 0))
        real, fake = logits.split(target.shape[0], 0)
        return hinge_discriminator_loss(real, fake)


class RmNetLoss(_ReflectionLoss):
    """Wen et al.: ``100 L1(T) + 50 L1(R) + 100 L1(W) + 50 L1(T (1-W) + R W, I) + 50 (L1(G_x T) + L1(G_y T))``.

    As released, T, R, I and the recomposition are compared as [-1, 1] images (twice our [0, 1] L1),
    W as is. ``outputs`` is :class:`uhr4k.models.archs.rmnet.RmNetOutput`; the recomposition term needs ``inputs``.
    """

    default_perceptual = 0.0   # no VGG term in the release

    def forward(self, outputs, target, inputs=None, reflection=None, mix=None):
        final, _ = checked_outputs(outputs, target)
        t, r, w, recomposed = outputs
        transmission, gradient = 2 * F.l1_loss(t, target), 2 * sobel_l1(t, target)
        total = 100 * transmission + 50 * gradient
        parts = {"transmission": transmission.item(), "gradient": gradient.item()}
        if inputs is not None:
            term = 2 * F.l1_loss(recomposed, inputs)
            total, parts["recomposition"] = total + 50 * term, term.item()
        if reflection is not None:
            term = 2 * F.l1_loss(r, reflection)
            total, parts["reflection"] = total + 50 * term, term.item()
        if mix is not None:
            term = F.l1_loss(w, mix)
            total, parts["mix"] = total + 100 * term, term.item()
        return self._finish(total, parts, final)


class ERRNetLoss(_ReflectionLoss):
    """Wei et al.: ``0.2 MSE + 0.4 GradientLoss + 0.1 VGG`` on the transmission, the VGG term the
    ImageNet-normalised relu1_1 ... relu5_1 L1 distance weighted 1/2.6, 1/4.8, 1/3.7, 1/5.6, 10/1.5."""

    default_perceptual = 0.1

    def forward(self, outputs, target, inputs=None, reflection=None, mix=None):
        final, _ = checked_outputs(outputs, target)
        mse, gradient = F.mse_loss(final, target), difference_l1(final, target)
        total = 0.2 * mse + 0.4 * gradient
        parts = {"mse": mse.item(), "gradient": gradient.item()}
        if self.vgg is not None:
            vgg = self._vgg(final)
            with torch.no_grad():
                wanted = vgg(target)
            perceptual = weighted_l1(PERCEPTUAL_WEIGHTS, vgg(final), wanted)
            total, parts["perceptual"] = total + self.perceptual_weight * perceptual, perceptual.item()
        return self._finish(total, parts, final)


class IBCLNLoss(_ReflectionLoss):
    """Li et al.'s cascade loss over the three iterations k = 1, 2, 3 (weights sigma^(3-k), sigma = 1):

    - ``MSE(T_k, T)``;
    - residual reconstruction in linear light, ``10 MSE(I^2.2, alpha T_k^2.2 + R_k^2.2)``, and the
      reflection term ``10 MSE(R_k^2.2 + alpha T^2.2, I^2.2)`` (``alpha`` is the transmission weight of
      the synthetic mixture, 1 for an additive one; ``alpha=None`` drops both, as the release does on
      real pairs; they need ``inputs``, the blended image I);
    - multi-scale perceptual ``V(T_3, T) + 0.8 V(T_3/2, T/2) + 0.6 V(T_3/4, T/4)``, V the relu1_1 and
      relu2_1 L1 distances (weights 1/2.6, 1/4.8) of VGG-19 on the un-normalised image.

    ``outputs`` is :class:`uhr4k.models.archs.ibcln.IBCLNOutput`.
    """

    default_perceptual = 1.0
    VGG_LAYERS = (1, 6)
    VGG_WEIGHTS = (1 / 2.6, 1 / 4.8)

    def __init__(self, alpha: float | None = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha

    def _perceptual(self, pred, target):
        vgg = self._vgg(pred)
        with torch.no_grad():
            wanted = raw_vgg_features(vgg, target, self.VGG_LAYERS)
        got = raw_vgg_features(vgg, pred, self.VGG_LAYERS)
        return weighted_l1(self.VGG_WEIGHTS, got, wanted)

    def forward(self, outputs, target, inputs=None, reflection=None, mix=None):
        final, _ = checked_outputs(outputs, target)
        steps_t, steps_r = outputs.transmissions(), outputs.reflections()
        pixel = sum(F.mse_loss(t, target) for t in steps_t)
        total, parts = pixel, {"pixel": pixel.item()}
        if self.alpha is not None and inputs is not None:
            linear_i, linear_t = inputs.clamp(min=0) ** 2.2, target ** 2.2
            residual = sum(F.mse_loss(linear_i, self.alpha * t ** 2.2 + r ** 2.2)
                           for t, r in zip(steps_t, steps_r, strict=True))
            refl = sum(F.mse_loss(r ** 2.2 + self.alpha * linear_t, linear_i) for r in steps_r)
            total = total + 10 * residual + 10 * refl
            parts.update(residual=residual.item(), reflection=refl.item())
        if self.vgg is not None:
            half, quarter = outputs.transmission_half, outputs.transmission_quarter
            perceptual = (self._perceptual(final, target) + 0.8 * self._perceptual(half, resize_target(target, half))
                          + 0.6 * self._perceptual(quarter, resize_target(target, quarter)))
            total, parts["perceptual"] = total + self.perceptual_weight * perceptual, perceptual.item()
        return self._finish(total, parts, final)


class CFDNetLoss(_ReflectionLoss):
    """Feng et al. (the generator's reconstruction terms): ``100 * 0.2 * P(T_out, T) + 0.05 TV(T_out)``,
    plus with the reflection ``100 * (L1(R_out, R) + 0.2 P(R_out, R))``; P is the release's
    perceptual distance, ``sum_i w_i L1(phi_i(255 n(x)), phi_i(255 n(y))) + L1(255 x, 255 y)`` with n
    the ImageNet normalisation and the ERRNet weights at relu1_1 ... relu5_1. The feature-contrast
    (Gram) term needs the reflection's VGG features and is not included."""

    default_perceptual = 1.0

    def _distance(self, pred, target):
        total = 255 * F.l1_loss(pred, target)
        if self.vgg is None:
            return total
        vgg = self._vgg(pred)

        def feats(x):
            return raw_vgg_features(vgg, 255 * (x - vgg.mean) / vgg.std, PERCEPTUAL_LAYERS)
        with torch.no_grad():
            wanted = feats(target)
        return total + self.perceptual_weight * weighted_l1(PERCEPTUAL_WEIGHTS, feats(pred), wanted)

    def forward(self, outputs, target, inputs=None, reflection=None, mix=None):
        final, _ = checked_outputs(outputs, target)
        distance, tv = self._distance(final, target), total_variation(final)
        total = 20 * distance + 0.05 * tv
        parts = {"perceptual": distance.item(), "tv": tv.item()}
        if reflection is not None:
            r = outputs[1]
            term = F.l1_loss(r, reflection) + 0.2 * self._distance(r, reflection)
            total, parts["reflection"] = total + 100 * term, term.item()
        return self._finish(total, parts, final)


class Zou2020Loss(_ReflectionLoss):
    """Zou et al.: ``lambda_L1 (L1(T_out, T) + L1(R_out, R))``, lambda_L1 = 1 (the reflection part with
    its ground truth only); no perceptual term in the release."""

    default_perceptual = 0.0

    def forward(self, outputs, target, inputs=None, reflection=None, mix=None):
        final, _ = checked_outputs(outputs, target)
        total = F.l1_loss(final, target)
        parts = {"l1": total.item()}
        if reflection is not None:
            term = F.l1_loss(outputs[1], reflection)
            total, parts["reflection"] = total + term, term.item()
        return self._finish(total, parts, final)


REFLECTION_LOSSES: dict[str, type[nn.Module]] = {
    "rmnet": RmNetLoss,
    "errnet": ERRNetLoss,
    "ibcln": IBCLNLoss,
    "cfdnet": CFDNetLoss,
    "zou2020": Zou2020Loss,
}
register_losses(REFLECTION_LOSSES)
