"""``uhr4k demo``: the whole mission end to end on material that ships with the dependencies.

``material`` makes the inputs (pan-and-zoom videos and reflection photos from scikit-image's bundled
photographs, simulated through-glass captures, a hazy set with real depth), ``run`` chains build-syn,
align, training and bench with per-step reuse, ``report`` writes ``report.html``.
"""
