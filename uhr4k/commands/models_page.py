"""docs/models.md, the page of the registered models, written from what ``register_model`` declares
(:mod:`uhr4k.models.registry`) and the parameters counted in ``model_facts.json``.

``python -m uhr4k.commands.models --docs docs/models.md`` writes it; a test fails when the committed page
differs from :func:`render_page`, so a fact is changed where the model registers, never on the page.
"""
from __future__ import annotations

from pathlib import Path

from uhr4k.commands.model_facts import CountedModel, ModelFacts
from uhr4k.core.atomic import write_text_atomic
from uhr4k.core.tables import markdown_table

COMMAND = "python -m uhr4k.commands.models --docs docs/models.md"

HEADER = f"""<!-- Generated: do not edit. Written by `{COMMAND}`
from the model registry (the register_model(...) lines of uhr4k/models/archs/) and the parameters counted
in uhr4k/commands/model_facts.json: change a registration, then run that command. -->
# The registered models

Every model `create_model(NAME)`, `uhr4k train --model NAME` and `uhr4k bench --model NAME` know, with
what its registration declares: the paper and configuration, its task(s), the parameters (ours, counted /
published, as the paper or its release states them), the loss `uhr4k train` uses unless `--loss` names
another, the shipped recipe (`uhr4k train --config NAME`), the authors' code ours follows (repository,
file) and whether the authors' released weights load (`--weights`, `pretrained=`). `uhr4k models` lists
the same models with their counts (and MACs with `--macs`).

GLSGN's architecture, its variants and our readings of the paper: [cli/train.md](cli/train.md#glsgn) and
[paper.md](paper.md). The baselines' architectures, losses and departures from the releases:
[cli/train.md](cli/train.md#baselines).
"""

COLUMNS = ("registered name", "model", "task(s)", "parameters (ours / published)", "default loss", "recipe",
           "code followed", "authors' weights")

SECTIONS = (("GLSGN and its variants", lambda name: name.startswith("glsgn")),
            ("Baselines", lambda name: not name.startswith("glsgn")))


def render_page(facts: ModelFacts | None = None) -> str:
    """The whole page: :data:`HEADER`, then one table per section, a row per registered model (by name).

    Parameter counts come from ``facts`` (the shipped ones and the user's cache by default) or are counted.
    """
    # imported here: the registry imports torch, and `uhr4k models` (torch-free when cached) imports this module
    from uhr4k.models.registry import list_models, model_info

    facts = facts if facts is not None else ModelFacts()
    parts = [HEADER]
    for title, belongs in SECTIONS:
        rows = [_row(model_info(name), CountedModel(name, facts)) for name in list_models() if belongs(name)]
        parts.append(f"\n## {title}\n\n" + markdown_table(COLUMNS, rows) + "\n")
    facts.save()
    return "".join(parts)


def write_page(path: Path) -> Path:
    """Write :func:`render_page` to ``path``."""
    write_text_atomic(path, render_page())
    return Path(path)


def _row(info, counted: CountedModel) -> tuple[str, ...]:
    model = f"{info.paper}: {info.summary}" if info.paper else info.summary
    loss = f"`{info.default_loss}`" if info.default_loss else f"none ({info.untrained})"
    recipe = f"`{info.recipe}`" if info.recipe else "-"
    if info.release is None:
        code = "ours"
    else:
        repository, file = info.release
        code = f"[{repository}](https://github.com/{repository}) `{file}`"
    return (f"`{info.name}`", model, ", ".join(info.tasks) or "-", _parameters(info, counted), loss, recipe, code,
            "load" if info.converter else "-")


def _parameters(info, counted: CountedModel) -> str:
    """``ours[ (N trainable)][ / published]``: exact counts, the published one as stated."""
    total, trainable = counted.params(), counted.trainable()
    ours = f"{total:,}" + (f" ({trainable:,} trainable)" if trainable != total else "")
    return f"{ours} / {info.published_params}" if info.published_params else ours
