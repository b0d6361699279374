"""Fixtures of the model tests."""
import os

import numpy as np
import pytest


@pytest.fixture(scope="session")
def spandrel():
    """spandrel with its extra architectures: an independent implementation that reads release layouts.

    A test oracle (installed --no-deps by .ci/run); required under CI, skipped elsewhere when missing.
    """
    from uhr4k.core.errors import InputError
    from uhr4k.models.zoo import import_spandrel

    try:
        return import_spandrel()
    except InputError:
        if os.environ.get("CI") == "true":
            pytest.fail("spandrel is required under CI (pip install --no-deps spandrel spandrel-extra-arches)")
        pytest.skip("spandrel not installed")


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    """A UHR4K-Syn root of 40 x 40 images, two train pairs and one val pair (input = target + 40), for the
    tests that train models a step through the training library."""
    from uhr4k.core.images import write_image

    root = tmp_path_factory.mktemp("tiny-syn")
    rng = np.random.default_rng(0)
    for split, n in (("train", 2), ("val", 1)):
        for i in range(n):
            target = rng.integers(0, 200, (40, 40, 3), dtype=np.uint8)
            write_image(root / "UHR4K-Syn" / split / "input" / f"p{i}.png", target + 40)
            write_image(root / "UHR4K-Syn" / split / "target" / f"p{i}.png", target)
    return root


@pytest.fixture
def train_and_reload(tiny_root, tmp_path):
    """``run(name, model_kwargs, loss_kwargs)``: one training step of ``name`` on :func:`tiny_root` with its
    default loss, then the checkpoint reloaded through the registry; asserts the loss is finite, the
    checkpoint names the model's default loss and the reloaded model computes what the trained one does."""
    import torch

    from uhr4k.models.factory import load_model
    from uhr4k.models.train.loop import TrainConfig, train

    def first(output):
        return output[0] if isinstance(output, (tuple, list)) else output

    def run(name: str, model_kwargs: dict, loss_kwargs: dict | None = None) -> None:
        config = TrainConfig(model=name, data=str(tiny_root), subset="syn", out=str(tmp_path / "run"),
                             model_kwargs=model_kwargs, loss_kwargs=loss_kwargs or {}, epochs=1, batch=1,
                             crop=(32, 32), steps_per_epoch=1, val_split="none", progress=False)
        summary = train(config, echo=lambda s: None)
        assert np.isfinite(float(summary.rows[0]["train_total"]))
        model, checkpoint = load_model(summary.last_checkpoint, expected_name=name)
        assert checkpoint["config"]["run"]["loss"] == model.default_loss
        x = torch.rand(1, 3, 32, 32)
        with torch.no_grad():
            torch.testing.assert_close(first(model.eval()(x)), first(summary.model.eval()(x)))
    return run
