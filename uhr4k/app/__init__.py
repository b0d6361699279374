"""The application layer: the Python entry points (``uhr4k.build_syn``, ``uhr4k.align_pairs``, ``uhr4k.train``,
``uhr4k.bench``) with the defaults that make the jobs chain; the commands are thin wrappers over them.

- ``pipelines``: build-syn and align into the dataset home, merge, pack (each writing the dataset card),
  split and cache;
- ``provenance``: the Python call a card records as the command that made the data;
- ``reports``: what the dataset commands print of a job's summary, and the next command;
- ``training``: train with the subset the model's task implies, into ``runs/NAME``;
- ``bench``: the models (trained weights when a run left them) and datasets a benchmark scores;
- ``models``: export a checkpoint as a model folder, GLSGN's attention maps; ``demo``: the demo end to end.
"""
