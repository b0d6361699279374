"""The paper's published PSNR / SSIM (Tables VII-IX), for the benchmark report to show beside a run.

A run matches a published figure when its model is the registry name of a method of those tables and its
dataset is the preset of one of their columns, scored under the preset's protocol (the one those tables
use). A tiny or home-made UHR4K root is not the paper's test set and matches nothing.

This small lookup stands until the experiment files (``uhr4k/experiments/``) hold the tables; then
:func:`published` reads them instead.
"""
from __future__ import annotations

# dataset preset -> columns of the table that reports it
_COLUMNS = {
    "reflection": ("real20", "nature", "sir2", "uhr4k-syn", "uhr4k-real"),          # Table VII
    "deraining": ("rain100l", "rain100h", "uhr4k-rain"),                           # Table VIII
    "dehazing": ("4kid", "ohaze"),                                                 # Table IX
}
_TABLE = {"reflection": "Table VII", "deraining": "Table VIII", "dehazing": "Table IX"}

# registry name -> (task, PSNR / SSIM per column, in _COLUMNS order)
_ROWS = {
    "reflection": {
        "rmnet": "19.47 0.748 19.07 0.755 20.74 0.836 17.05 0.829 20.86 0.808",
        "errnet": "18.87 0.735 20.79 0.796 22.60 0.856 17.54 0.818 21.69 0.819",
        "ibcln": "19.99 0.759 23.57 0.783 22.68 0.860 20.66 0.879 22.59 0.824",
        "cfdnet": "18.90 0.706 23.79 0.811 23.89 0.884 16.99 0.785 20.84 0.773",
        "zou2020": "19.76 0.752 22.34 0.803 23.52 0.877 18.89 0.841 20.57 0.799",
        "dmgn": "19.26 0.745 23.23 0.839 23.41 0.875 20.10 0.865 22.91 0.833",
        "mprnet": "21.37 0.781 23.42 0.848 23.82 0.880 21.26 0.888 22.71 0.821",
        "zheng2021": "20.61 0.756 22.59 0.782 22.46 0.868 23.57 0.886 20.08 0.712",
        "restormer": "21.89 0.778 23.98 0.852 24.25 0.889 23.07 0.882 22.77 0.822",
        "glsgn": "22.20 0.790 24.27 0.856 24.11 0.903 25.96 0.911 24.35 0.841",
    },
    "deraining": {
        "rescan": "29.80 0.881 26.36 0.786 26.85 0.837",
        "prenet": "32.44 0.950 26.77 0.858 27.08 0.865",
        "derainrlnet": "37.49 0.968 30.38 0.899 31.46 0.920",
        "vrgnet": "37.21 0.970 30.82 0.904 28.81 0.913",
        "zou2020": "36.21 0.963 30.01 0.883 27.25 0.837",
        "dmgn": "38.53 0.979 30.72 0.903 29.97 0.890",
        "mprnet": "36.40 0.965 30.41 0.890 31.64 0.929",
        "zheng2021": "33.26 0.952 27.64 0.861 27.18 0.812",
        "restormer": "38.99 0.978 31.46 0.904 30.93 0.917",
        "glsgn": "39.12 0.980 30.89 0.901 32.83 0.938",
    },
    "dehazing": {
        "dcp": "13.48 0.739 14.86 0.601",
        "ffanet": "19.76 0.869 22.55 0.754",
        "msbdn": "23.06 0.872 22.72 0.751",
        "zou2020": "20.29 0.855 22.16 0.742",
        "dmgn": "21.08 0.866 20.54 0.734",
        "aecrnet": "22.12 0.872 23.16 0.762",
        "mprnet": "21.29 0.882 20.78 0.739",
        "zheng2021": "23.43 0.843 21.41 0.693",
        "restormer": "22.41 0.886 21.71 0.712",
        "glsgn": "24.42 0.901 23.67 0.768",
    },
}


def _method(model: str) -> str:
    """A bench label -> the method it runs: ``glsgn@runs/x.pt`` -> glsgn, ``mprnet-derain`` -> mprnet."""
    name = model.split("@", 1)[0].split(" (", 1)[0].lower()       # "glsgn (bf16)": still glsgn
    return "mprnet" if name.startswith("mprnet") else name


def published(model: str, dataset: str, protocol: str) -> dict | None:
    """``{"psnr", "ssim", "source"}`` the paper reports for ``model`` on preset ``dataset``, or None."""
    from uhr4k.data import PRESETS

    preset = PRESETS.get(dataset)
    if preset is None or preset.protocol != protocol:
        return None
    for task, columns in _COLUMNS.items():
        row = _ROWS[task].get(_method(model))
        if dataset in columns and row:
            values = [float(v) for v in row.split()]
            k = columns.index(dataset)
            return {"psnr": values[2 * k], "ssim": values[2 * k + 1], "source": f"paper {_TABLE[task]}"}
    return None
