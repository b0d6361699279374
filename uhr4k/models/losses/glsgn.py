"""The paper's losses and plain L1, registered by name (:mod:`uhr4k.models.losses.registry` builds every loss:
``build_loss(name)`` -> an ``nn.Module`` with ``forward(outputs, target) -> (total, parts: dict[str, float])``;
a loss that also needs the degraded input, GLSGN's conditional discriminator, takes ``inputs=x``).

``outputs`` is whatever the model returned: a tensor, or a tuple/list whose element 0 is the final
image and whose later elements are intermediate outputs (GLSGN's pathways, at their own scales).

- ``l1``: L1 of the final image.
- ``glsgn``: the paper's eq. 11, ``L = 1 * L_pixel + 0.01 * L_perc + 0.01 * L_adv`` with
  ``L_pixel = 0.1 * sum_i L1(B_i, B at B_i's scale) + 0.5 * L1(B_out, B)`` (eq. 8; every pathway output,
  the global one included), ``L_perc`` the same with a VGG-19 perceptual distance (eq. 9) and
  ``L_adv = -E[D_sn(I, B_out)]`` (eq. 10, "conditional": D judges the pair of degraded input and image;
  ``conditional=False`` for a D that sees the image alone). The discriminator lives in the loss; a
  trainer updates it with :meth:`GLSGNLoss.discriminator_loss` (hinge) and its own optimizer.

The baselines' published losses are :mod:`uhr4k.models.losses.baselines` and
:mod:`uhr4k.models.losses.reflection`.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from uhr4k.models.archs.discriminator import SNPatchDiscriminator, generator_adversarial_loss, hinge_discriminator_loss
from uhr4k.models.archs.vgg import VGG19Features, load_vgg19
from uhr4k.models.losses.registry import register_losses
from uhr4k.models.losses.terms import (
    PERCEPTUAL_WEIGHTS,
    checked_outputs,
    gaussian_window,
    resize_target,
    split_outputs,
    ssim_map,
)


class L1Loss(nn.Module):
    """L1 of the final output against the target."""

    def forward(self, outputs, target):
        final, _ = checked_outputs(outputs, target)
        loss = F.l1_loss(final, target)
        return loss, {"l1": loss.item(), "total": loss.item()}


class PerceptualDistance(nn.Module):
    """``sum_i w_i * L1(phi_i(x), phi_i(y))`` over VGG-19 relu1_1 ... relu5_1."""

    def __init__(self, vgg: VGG19Features, weights=PERCEPTUAL_WEIGHTS):
        super().__init__()
        if len(weights) != len(vgg.layers):
            raise ValueError(f"{len(weights)} weights for {len(vgg.layers)} VGG layers")
        self.weights = tuple(weights)
        # Not a registered submodule: its 20 M frozen weights stay out of checkpoints and optimizers.
        object.__setattr__(self, "vgg", vgg)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        vgg = self.vgg.to(pred.device)
        with torch.no_grad():
            target_features = vgg(target)
        return sum(w * F.l1_loss(p, t) for w, p, t in zip(self.weights, vgg(pred), target_features, strict=True))


class GLSGNLoss(nn.Module):
    """Eq. 8-11. Weights default to the paper's; a zero weight skips its term (and its network).

    ``forward(outputs, target, inputs=None)``: ``inputs`` is the (B, 3, H, W) degraded image the outputs
    were restored from, required by the conditional discriminator (the default).

    Args:
        conditional: the discriminator judges (degraded input, image) pairs (eq. 10's conditional
            adversarial loss); False: the image alone.
        vgg_weights: torchvision VGG-19 state dict path (else ``$UHR4K_VGG19_WEIGHTS``); required when
            ``perceptual_weight`` is not 0.
        vgg: an already built :class:`VGG19Features` (tests, or sharing one between losses).
    """

    def __init__(self, alpha1: float = 0.1, beta1: float = 0.5, alpha2: float = 0.1, beta2: float = 0.5,
                 pixel_weight: float = 1.0, perceptual_weight: float = 0.01, adversarial_weight: float = 0.01,
                 vgg_weights=None, vgg: VGG19Features | None = None, discriminator_width: int = 64,
                 conditional: bool = True):
        super().__init__()
        self.alpha1, self.beta1, self.alpha2, self.beta2 = alpha1, beta1, alpha2, beta2
        self.pixel_weight, self.perceptual_weight, self.adversarial_weight = \
            pixel_weight, perceptual_weight, adversarial_weight
        self.perceptual = None
        if perceptual_weight:
            self.perceptual = PerceptualDistance(vgg if vgg is not None else load_vgg19(vgg_weights))
        self.conditional = conditional
        self.discriminator = (SNPatchDiscriminator(discriminator_width, conditional=conditional)
                              if adversarial_weight else None)

    def _multi_stage(self, distance, final, stages, target, alpha, beta):
        total = beta * distance(final, target)
        for stage in stages:
            total = total + alpha * distance(stage, resize_target(target, stage))
        return total

    def _condition(self, inputs):
        if not self.conditional:
            return None
        if inputs is None:
            raise ValueError("the conditional adversarial loss needs the degraded input: call "
                             "loss(outputs, target, inputs=x), or build the loss with conditional=False")
        return inputs   # the discriminator checks that it has the final output's (B, 3, H, W) shape

    def forward(self, outputs, target, inputs: torch.Tensor | None = None):
        final, stages = checked_outputs(outputs, target)
        pixel = self._multi_stage(F.l1_loss, final, stages, target, self.alpha1, self.beta1)
        total = self.pixel_weight * pixel
        parts = {"pixel": pixel.item()}
        if self.perceptual is not None:
            perc = self._multi_stage(self.perceptual, final, stages, target, self.alpha2, self.beta2)
            total = total + self.perceptual_weight * perc
            parts["perceptual"] = perc.item()
        if self.discriminator is not None:
            # D's parameters get gradients here too; the trainer zeroes them before D's own step.
            adv = generator_adversarial_loss(self.discriminator(final, self._condition(inputs)))
            total = total + self.adversarial_weight * adv
            parts["adversarial"] = adv.item()
        parts["total"] = total.item()
        return total, parts

    def discriminator_loss(self, outputs, target, inputs: torch.Tensor | None = None) -> torch.Tensor:
        """Hinge loss of D on the target (real) and the (detached) final output (fake), in one batch;
        both paired with ``inputs`` when D is conditional."""
        if self.discriminator is None:
            raise ValueError("this loss has no discriminator (adversarial weight 0)")
        final, _ = split_outputs(outputs)
        condition = self._condition(inputs)
        if condition is not None:
            condition = torch.cat([condition, condition], 0)
        logits = self.discriminator(torch.cat([target, final.detach()], 0), condition)
        real, fake = logits.split(target.shape[0], 0)
        return hinge_discriminator_loss(real, fake)


class GLSGNSSIMLoss(GLSGNLoss):
    """Table V's GLSGN-SSIM: eq. 11 plus ``ssim_weight * (1 - SSIM(B_out, B))`` (our reading: the SSIM loss
    takes the place of the Laplacian synthesis, with the weight of the pixel loss, 1). SSIM is the
    Gaussian-windowed one (11 x 11, sigma 1.5, data range 1) of the baselines' losses."""

    def __init__(self, ssim_weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)

        self.ssim_weight = ssim_weight
        self.register_buffer("window", gaussian_window(), persistent=False)

    def forward(self, outputs, target, inputs: torch.Tensor | None = None):

        total, parts = super().forward(outputs, target, inputs=inputs)
        final, _ = split_outputs(outputs)
        ssim = ssim_map(final, target, self.window).mean()
        total = total + self.ssim_weight * (1 - ssim)
        parts.update(ssim=ssim.item(), total=total.item())
        return total, parts


GLSGN_LOSSES: dict[str, type[nn.Module]] = {"l1": L1Loss, "glsgn": GLSGNLoss, "glsgn_ssim": GLSGNSSIMLoss}
register_losses(GLSGN_LOSSES)


