"""The application layer: the Python entry points (``uhr4k.build_syn``, ``uhr4k.align_pairs``, ``uhr4k.train``,
``uhr4k.bench``) with the defaults that make the jobs chain; the commands are thin wrappers over them.

- ``pipelines``: build-syn and align into the dataset home;
- ``training``: train with the subset the model's task implies, into ``runs/NAME``;
- ``bench``: the models (trained weights when a run left them) and datasets a benchmark scores.
"""
