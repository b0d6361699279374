"""Every experiment of the paper as one command: ``uhr4k experiment NAME`` (see :mod:`.run`).

Each experiment is a declarative file beside this module (``table1.toml`` ... ``fig9.toml``: its models,
datasets, training recipe, and the paper's own numbers as data), read by :mod:`.spec`.
"""
from uhr4k.experiments.run import ExperimentOptions, ExperimentResult, run_experiment
from uhr4k.experiments.spec import Experiment, experiment_names, load_experiment

__all__ = ["Experiment", "ExperimentOptions", "ExperimentResult", "experiment_names", "load_experiment",
           "run_experiment"]
