"""uhr4k.align: register through-glass photos onto the same scene without glass (UHR4K-Real).

Modules, one job each:

- ``raw_pairs``: find the glass / no-glass pairs of a raw folder (parallel folders or marked names);
- ``estimate``: the homography (ORB + MAGSAC at ~1.5 MP, full-resolution guided re-matching, optional
  ECC), plus the paper's plain recipe for comparison;
- ``gates``: failed / flagged verdicts (mirrored, degenerate, parallax, low correlation ...);
- ``photometric``: per-channel gains of the pane (recorded, never applied) and ZNCC;
- ``warp``: warp onto the untouched background, validity mask, valid rectangle, ``--size`` crop;
- ``qa``: the QA image (checkerboard and high-pass difference, before and after);
- ``pair``: one pair end to end (assess, then write); ``pipeline``: ``align_dataset`` behind ``uhr4k align``;
- ``simulate``: through-glass photos with a known homography, for tests, the benchmark and the demo.

Convention: ``H`` maps through-glass pixel coordinates to background pixel coordinates (full resolution,
pixel centres at integers, ``H[2, 2] == 1``).
"""
