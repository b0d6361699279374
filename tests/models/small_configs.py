"""Narrow configurations of the heavier models: the same code paths in seconds instead of minutes.

The generic per-model tests (test_all_models.py) build every model this way where a configuration is listed
here; the training round trips (test_baselines.py) train and reload them. The published configurations
are checked separately (parameter counts, MACs, the releases' key layouts)."""

SMALL_KWARGS: dict[str, dict] = {
    "ffanet": {"blocks": 2},
    "msbdn": {"res_blocks": 2},
    "restormer": {"dim": 8, "blocks": (1, 1, 1, 1), "refinement_blocks": 1},
    "mprnet-derain": {"n_feat": 16, "scale_unetfeats": 8, "scale_orsnetfeats": 8, "num_cab": 1},
    "mprnet-deblur": {"n_feat": 16, "scale_unetfeats": 8, "scale_orsnetfeats": 8, "num_cab": 1},
    "nafnet-w64": {"width": 8, "enc_blocks": (1, 1, 1, 2)},
    "nafnet-w32": {"width": 8, "enc_blocks": (1, 1, 1, 2)},
    "dmgn": {"register_unused": False},
    "zheng2021": {"grid_size": 32, "context_size": 32},
    "prenet": {"stages": 2},
    "rmnet": {"ngf": 8},
    "errnet": {"n_feats": 16, "n_resblocks": 1},
    "ibcln": {"n_feats": 8},
    "cfdnet": {"feature_channel": 8, "s_channel": 1},
    "zou2020": {"ngf": 8, "num_downs": 5},
}

# Light enough to run as published in the generic tests: their own code paths stay covered there (DMGN's
# registered-but-unused modules in the backward test, PReNet's six stages, MPRNet's deraining widths).
PUBLISHED_IN_GENERIC_TESTS = frozenset({"dmgn", "prenet", "mprnet-derain"})
