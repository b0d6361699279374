"""timm-style tests that every registered model gets automatically: the facts its registration declares,
forward at odd sizes, output shapes, backward to every trainable parameter, determinism and batch
independence in eval mode, input checks, 4K shapes on the meta device, and a published default loss that
resolves."""
from __future__ import annotations

import re

import pytest
import torch

from uhr4k.benchmark.profiling import count_parameters
from uhr4k.models.factory import create_model
from uhr4k.models.losses import build_loss, loss_names, loss_value
from uhr4k.models.registry import list_models, model_info, register_model
from uhr4k.models.train.config import shipped_recipes

from small_configs import PUBLISHED_IN_GENERIC_TESTS, SMALL_KWARGS

MODELS = list_models()
TASKS = {"reflection", "deraining", "dehazing", "deblurring"}
# Models registered without a task, and why: a task makes a model a competitor row of that task's tables.
TASKLESS = {"identity": "the reference row of every table, never a competitor"}

# Input size (H, W) per model: odd on purpose (every model pads inside and crops back). A model that
# needs a larger minimum gets its own entry here.
DEFAULT_SIZE = (37, 53)
SIZES: dict[str, tuple[int, int]] = {"dmgn": (21, 27), "mprnet-deblur": (21, 27)}

# Loss options for the generic training step: the perceptual terms need pretrained VGG-19 weights,
# a file the user supplies (tests never download weights).
LOSS_KWARGS: dict[str, dict] = {"l1_contrastive": {"perceptual_weight": 0.0},
                                "glsgn": {"perceptual_weight": 0.0}, "glsgn_ssim": {"perceptual_weight": 0.0},
                                "errnet": {"perceptual_weight": 0.0},
                                "ibcln": {"perceptual_weight": 0.0}, "cfdnet": {"perceptual_weight": 0.0}}


pytestmark = pytest.mark.usefixtures("one_thread")


def _build(name: str, fast: bool = True):
    torch.manual_seed(0)
    narrow = fast and name not in PUBLISHED_IN_GENERIC_TESTS
    return create_model(name, **(SMALL_KWARGS.get(name, {}) if narrow else {}))


def _images(out) -> list[torch.Tensor]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _train_forward(model, x: torch.Tensor, target: torch.Tensor):
    """The forward pass of a training step, as the trainer runs it: a model whose training branch reads
    the ground truth (``trains_with_target``) gets it."""
    return model(x, target=target) if getattr(model, "trains_with_target", False) else model(x)


def _input(name: str, batch: int = 1) -> torch.Tensor:
    h, w = SIZES.get(name, DEFAULT_SIZE)
    return torch.rand(batch, 3, h, w, generator=torch.Generator().manual_seed(1))


def test_registry_lists_every_baseline():
    for name in ("identity", "restormer", "mprnet-derain", "mprnet-deblur", "nafnet-w64", "nafnet-w32",
                 "dmgn", "zheng2021", "prenet", "dcp", "rmnet", "errnet", "ibcln", "cfdnet", "zou2020",
                 "vrgnet", "rescan", "rescan-gru", "ffanet", "msbdn", "aecrnet", "derainrlnet"):
        assert name in MODELS


@pytest.mark.parametrize("name", MODELS)
def test_declares_its_facts(name):
    """What docs/models.md and `uhr4k models` show of a model is declared, and holds: its tasks, a loss the
    loss registry knows (or none with a reason, and nothing to train), a recipe that ships, the code it
    follows, and a published parameter count that ours rounds to."""
    info = model_info(name)
    assert set(info.tasks) <= TASKS and (info.tasks or name in TASKLESS), info.tasks
    assert info.summary and (info.paper or info.untrained)
    with torch.device("meta"):
        model = create_model(name)
    assert model.default_loss == info.default_loss            # where the trainer reads it
    trainable, total = count_parameters(model)
    if info.default_loss is None:
        assert info.untrained and trainable == 0
    else:
        assert info.default_loss in loss_names() and info.untrained is None
    assert info.recipe is None or info.recipe in shipped_recipes(), info.recipe
    if info.release is not None:
        repository, file = info.release
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", repository) and re.fullmatch(r"[\w./-]+\.py", file), info.release
    if info.published_params is not None:
        number, unit = re.match(r"([\d,]+(?:\.\d+)?)( M)?(?: \(|$)", info.published_params).groups()
        decimals = len(number.partition(".")[2])
        assert round(total / (1e6 if unit else 1), decimals) == float(number.replace(",", "")), info.published_params


def test_a_registration_declares_a_loss_or_why_it_has_none():
    for facts in ({}, {"default_loss": "l1", "untrained": "classical"}):
        with pytest.raises(ValueError, match="declare default_loss or, with nothing to train, untrained="):
            register_model("never-registered", **facts)
    assert "never-registered" not in list_models()


@pytest.mark.parametrize("name", MODELS)
def test_forward_shapes_at_odd_size(name):
    model = _build(name).eval()
    x = _input(name)
    with torch.no_grad():
        outputs = _images(model(x))
    assert outputs[0].shape == x.shape
    for out in outputs:
        assert out.ndim == 4 and out.shape[:2] == (1, 3)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", MODELS)
def test_backward_reaches_every_trainable_parameter(name):
    model = _build(name).train()
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not params:
        # Parameter-free models (identity, classical methods) must say that they cannot be trained.
        assert getattr(model, "default_loss", None) is None, f"{name} has no parameters but a default loss"
        return
    x = _input(name)
    loss = sum(out.mean() for out in _images(_train_forward(model, x, x.flip(-1))))
    loss.backward()
    missing = [n for n, p in params if p.grad is None]
    assert not missing, f"{name}: no gradient reaches {missing[:5]}"
    assert all(torch.isfinite(p.grad).all() for _, p in params)


@pytest.mark.parametrize("name", MODELS)
def test_eval_forward_is_deterministic_and_batch_independent(name):
    model = _build(name).eval()
    x = _input(name, batch=2)
    with torch.no_grad():
        first = _images(model(x))[0]
        second = _images(model(x))[0]
        single = _images(model(x[1:]))[0]
    assert torch.equal(first, second)
    torch.testing.assert_close(single, first[1:], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_rejects_input_that_is_not_a_batch(name):
    model = _build(name).eval()
    with pytest.raises(ValueError, match=r"\(3, 16, 16\)"):
        model(torch.zeros(3, 16, 16))


@pytest.mark.parametrize("name", MODELS)
def test_4k_output_shape_on_meta_device(name):
    with torch.device("meta"):  # no weights initialised, no activations allocated
        model = _build(name, fast=False).eval()
    with torch.no_grad():
        out = _images(model(torch.zeros(1, 3, 2160, 3840, device="meta")))
    assert out[0].shape == (1, 3, 2160, 3840)


@pytest.mark.parametrize("name", MODELS)
def test_default_loss_resolves_and_trains_a_step(name):
    model = _build(name)
    loss_name = getattr(model, "default_loss", None)
    if loss_name is None:
        assert not any(p.requires_grad for p in model.parameters())
        return
    criterion = build_loss(loss_name, **LOSS_KWARGS.get(loss_name, {}))
    model.train()
    x = _input(name)
    target = x.flip(-1)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    total, parts = loss_value(criterion, _train_forward(model, x, target), target, x)
    assert total.ndim == 0 and torch.isfinite(total)
    assert all(isinstance(v, float) for v in parts.values())
    optimizer.zero_grad()
    total.backward()
    optimizer.step()
    changed = sum(not torch.equal(before[n], p) for n, p in model.named_parameters() if p.requires_grad)
    assert changed > 0
