"""PSNR and SSIM under the three protocols of the restoration literature (docs/paper.md, "Metric protocols").

=========  ==================================================  =========================================
protocol   PSNR                                                SSIM
=========  ==================================================  =========================================
``y``      Y of MATLAB ``rgb2ycbcr`` (rounded), range 255      Wang et al.: 11x11 Gaussian (sigma 1.5),
                                                               K=(0.01, 0.03), "valid" region, mean map
``rgb``    RGB uint8, MSE over all pixels and channels         Wang SSIM per channel, mean of channels
``bandwise`` per RGB band, mean of the band PSNRs              scikit-image defaults per band (7x7
                                                               uniform, sample covariance), mean
=========  ==================================================  =========================================

The numpy functions take (H, W, 3) uint8 arrays (what a restored image is once clamped to [0, 1],
scaled to 255 and rounded). The torch functions take (B, 3, H, W) float tensors in [0, 1], quantize them
the same way and return one score per image, so that GPU evaluation gives the numpy figures.
Identical images score PSNR = inf and SSIM = 1.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PROTOCOLS = ("y", "rgb", "bandwise")

# MATLAB rgb2ycbcr for uint8 input: Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 (R, G, B in 0..255).
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966]) / 255.0
_Y_OFFSET = 16.0
_K1, _K2 = 0.01, 0.03
_GAUSS_SIGMA, _GAUSS_RADIUS = 1.5, 5     # 11 x 11 window (scikit-image: int(3.5 * 1.5 + 0.5) = 5)
_UNIFORM_SIZE = 7                         # scikit-image default window


def _check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")


def _check_pair(pred: np.ndarray, target: np.ndarray) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"pred and target differ in shape: {pred.shape} vs {target.shape}")
    if pred.ndim != 3 or pred.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) arrays, got shape {pred.shape}")
    if pred.dtype != np.uint8 or target.dtype != np.uint8:
        raise ValueError(f"expected uint8 arrays, got {pred.dtype} and {target.dtype}")


def rgb_to_y(img: np.ndarray, round_: bool = True) -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` luma of an (H, W, 3) uint8 RGB image.

    Returns:
        (H, W) float64 in [16, 235]; rounded to integers when ``round_`` (MATLAB returns uint8).
    """
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3), got shape {img.shape}")
    y = img.astype(np.float64) @ _Y_WEIGHTS + _Y_OFFSET
    return np.round(y) if round_ else y


def _psnr_from_mse(mse: float, peak: float = 255.0) -> float:
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def psnr(pred: np.ndarray, target: np.ndarray, protocol: str = "rgb") -> float:
    """PSNR in dB of two (H, W, 3) uint8 images under ``protocol`` (``y``, ``rgb``, ``bandwise``)."""
    _check_protocol(protocol)
    _check_pair(pred, target)
    if protocol == "y":
        diff = rgb_to_y(pred) - rgb_to_y(target)
        return _psnr_from_mse(float(np.mean(diff * diff)))
    diff = pred.astype(np.float64) - target.astype(np.float64)
    if protocol == "rgb":
        return _psnr_from_mse(float(np.mean(diff * diff)))
    band_mse = np.mean(diff * diff, axis=(0, 1))
    return float(np.mean([_psnr_from_mse(float(m)) for m in band_mse]))


def _gaussian_1d(sigma: float = _GAUSS_SIGMA, radius: int = _GAUSS_RADIUS) -> np.ndarray:
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


# Rows and columns of the valid region per work item. The dozen maps of a 64 x 960 tile (240 KB each in
# float32) stay in a core's L2 cache; full-width strips of 128 rows did not, and a 4K pair took 1.2x the
# CPU time in them on a quiet machine, 1.8x beside another job (benchmarks/cpu_kernels.py). Tiles also
# spread evenly over the threads.
_TILE_ROWS, _TILE_COLS = 64, 960


def _ssim_window(window: str) -> tuple[np.ndarray, int, float]:
    """(1-D kernel, radius, covariance normalisation) of the ``gaussian`` or ``uniform`` window."""
    if window == "gaussian":
        return _gaussian_1d(), _GAUSS_RADIUS, 1.0
    n = _UNIFORM_SIZE * _UNIFORM_SIZE
    # scikit-image's sample covariance for the uniform window
    return np.full(_UNIFORM_SIZE, 1.0 / _UNIFORM_SIZE), (_UNIFORM_SIZE - 1) // 2, n / (n - 1)


def _ssim_tile_sum(x: np.ndarray, y: np.ndarray, r0: int, c0: int, window: str, dtype) -> float:
    """Sum of the SSIM map over the tile of rows ``r0`` .. ``r0 + _TILE_ROWS`` and columns ``c0`` ..
    ``c0 + _TILE_COLS`` of the valid region of two uint8 planes (cut at the region's end).

    Four filtered maps instead of the usual five: with means m (shifted by -128, see _ssim_map_stats),
    ``var_x + var_y = 2 cov_xy + E[(x - y)^2] - (m_x - m_y)^2``, so filtering ``(x - y)^2`` replaces
    filtering ``x^2`` and ``y^2``; likewise ``m_x^2 + m_y^2 = 2 m_x m_y + (m_x - m_y)^2`` for the
    luminance term. Every input of a filter holds exact integers (the shifted planes and their product in
    int16, ``(x - y)^2 <= 255^2`` in float32: OpenCV filters uint16 3.5x slower). OpenCV's separable
    filter and arithmetic (which release the GIL and fuse ``a*x + b*y + c`` into one pass) do the work.
    """
    k, radius, cov_norm = _ssim_window(window)
    k = k.astype(dtype)
    depth = cv2.CV_64F if dtype == np.float64 else cv2.CV_32F
    c1, c2 = (_K1 * 255.0) ** 2, (_K2 * 255.0) ** 2
    row_end = min(r0 + _TILE_ROWS, x.shape[0] - radius)
    col_end = min(c0 + _TILE_COLS, x.shape[1] - radius)

    def filt(a):
        return cv2.sepFilter2D(a, depth, k, k, borderType=cv2.BORDER_REFLECT)[radius:-radius, radius:-radius]

    rows, cols = slice(r0 - radius, row_end + radius), slice(c0 - radius, col_end + radius)
    xb, yb = x[rows, cols], y[rows, cols]                        # views: OpenCV reads the rows in place
    xs = cv2.subtract(xb, 128, dtype=cv2.CV_16S)
    ys = cv2.subtract(yb, 128, dtype=cv2.CV_16S)
    absdiff = cv2.absdiff(xb, yb)
    mx, my = filt(xs), filt(ys)                                  # means, shifted by -128
    xy = filt(cv2.multiply(xs, ys))                              # E[x y] of the shifted planes (exact int16)
    dd = filt(cv2.multiply(absdiff, absdiff, dtype=cv2.CV_32F))  # E[(x - y)^2] (exact in float32)
    mxmy = cv2.multiply(mx, my)
    # contrast-structure numerator 2 cov + c2, and denominator var_x + var_y + c2 from it
    cs_num = cv2.addWeighted(xy, 2 * cov_norm, mxmy, -2 * cov_norm, c2)
    mean_diff = cv2.subtract(mx, my)
    d2 = cv2.multiply(mean_diff, mean_diff)                      # (m_x - m_y)^2, shift-invariant
    cs_den = cv2.addWeighted(cs_num, 1.0, cv2.subtract(dd, d2), cov_norm, 0.0)
    # luminance 2 (m_x + 128)(m_y + 128) + c1 = 2 m_x m_y + 256 (m_x + m_y) + 2 * 128^2 + c1, over the same
    # plus (m_x - m_y)^2
    lum_num = cv2.addWeighted(mxmy, 2.0, cv2.add(mx, my), 256.0, 2 * 128.0**2 + c1)
    lum_den = cv2.add(lum_num, d2)
    ssim_map = cv2.divide(cv2.multiply(lum_num, cs_num), cv2.multiply(lum_den, cs_den))
    return float(cv2.sumElems(ssim_map)[0])


def _ssim_planes(planes: list[tuple[np.ndarray, np.ndarray]], window: str, dtype=np.float64) -> list[float]:
    """Mean SSIM of each pair of (H, W) uint8 planes (data range 255), the border of the window radius
    dropped (the "valid" region: what scikit-image's crop after reflect-padded filtering leaves).

    All tiles of all planes go to one thread pool of as many threads as torch uses (OpenCV releases the
    GIL, and tile-sized maps stay in cache): no plane waits for the previous one's last tile. ``dtype``
    (of the filtered maps) float64 matches scikit-image to ~1e-12; float32 stays within ~1e-6, because the
    planes are shifted by 128 before the second moments (variances are shift-invariant, and
    E[x^2] - E[x]^2 no longer cancels) and the shifted products are exact int16 values.
    """
    _, radius, _ = _ssim_window(window)
    jobs = []
    for i, (x, y) in enumerate(planes):
        if x.dtype != np.uint8 or y.dtype != np.uint8:
            raise ValueError(f"expected uint8 planes, got {x.dtype} and {y.dtype}")
        if min(x.shape) < 2 * radius + 1:
            raise ValueError(f"SSIM needs images of at least {2 * radius + 1}x{2 * radius + 1}, got shape "
                             f"{x.shape}")
        jobs += [(i, r0, c0) for r0 in range(radius, x.shape[0] - radius, _TILE_ROWS)
                 for c0 in range(radius, x.shape[1] - radius, _TILE_COLS)]

    def run(job):
        i, r0, c0 = job
        return i, _ssim_tile_sum(planes[i][0], planes[i][1], r0, c0, window, dtype)

    threads = max(1, min(torch.get_num_threads(), len(jobs)))
    if threads == 1:
        sums = list(map(run, jobs))
    else:
        with ThreadPoolExecutor(threads) as pool:
            sums = list(pool.map(run, jobs))
    totals = [0.0] * len(planes)
    for i, value in sums:
        totals[i] += value
    return [total / ((x.shape[0] - 2 * radius) * (x.shape[1] - 2 * radius))
            for total, (x, _) in zip(totals, planes, strict=True)]


def _ssim_map_stats(x: np.ndarray, y: np.ndarray, window: str, dtype=np.float64) -> float:
    """Mean SSIM of two (H, W) uint8 planes (see :func:`_ssim_planes`)."""
    return _ssim_planes([(x, y)], window, dtype)[0]


def ssim(pred: np.ndarray, target: np.ndarray, protocol: str = "rgb") -> float:
    """SSIM of two (H, W, 3) uint8 images under ``protocol`` (``y``, ``rgb``, ``bandwise``)."""
    _check_protocol(protocol)
    _check_pair(pred, target)
    if protocol == "y":
        return _ssim_map_stats(rgb_to_y(pred).astype(np.uint8), rgb_to_y(target).astype(np.uint8), "gaussian")
    window = "gaussian" if protocol == "rgb" else "uniform"
    return float(np.mean(_ssim_planes([(pred[..., c], target[..., c]) for c in range(3)], window)))


# --------------------------------------------------------------------------------------------- torch


def _check_tensors(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"pred and target differ in shape: {tuple(pred.shape)} vs {tuple(target.shape)}")
    if pred.ndim != 4 or pred.shape[1] != 3:
        raise ValueError(f"expected (B, 3, H, W) tensors, got shape {tuple(pred.shape)}")


def quantize(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] float -> values in {0, ..., 255} (still float): clamp, scale, round half up.

    The torch twin of :func:`uhr4k.core.images.from_float` (same values), kept here because core imports
    no torch; ``x`` is left as it is (the clamp makes the copy the rest works in).
    """
    return _scale_round_(x.clamp(0, 1))


def _scale_round_(q: torch.Tensor) -> torch.Tensor:
    """In place: ``floor(q * 255 + 0.5)`` of a tensor already clamped to [0, 1] (no fresh tensor per step:
    at 4K each one costs page faults). Safe under autograd: no step needs a value it overwrites."""
    return q.mul_(255.0).add_(0.5).floor_()


def tensor_to_uint8(t: torch.Tensor) -> np.ndarray:
    """(3, H, W) or (1, 3, H, W) float in [0, 1] -> (H, W, 3) uint8 on the CPU, rounded by :func:`quantize`
    in float32: what a restored image is saved and scored as."""
    image = t[0] if t.ndim == 4 else t
    return quantize(image.float()).to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def _planes(x: torch.Tensor, protocol: str) -> torch.Tensor:
    """(B, 3, H, W) in 0..255 -> the planes the protocol scores: (B, 1, H, W) Y or (B, 3, H, W) RGB."""
    if protocol != "y":
        return x
    w = torch.as_tensor(_Y_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return torch.round((x * w).sum(1, keepdim=True) + _Y_OFFSET)


def _uint8_planes(x: torch.Tensor, protocol: str) -> np.ndarray:
    """(B, 3, H, W) in [0, 1] -> the protocol's planes as a (B, C, H, W) uint8 array, with in-place ops
    (each fresh 4K tensor costs page faults: at 4K these steps otherwise take as long as the SSIM)."""
    q = _scale_round_(x.detach().to(torch.float32, copy=True).clamp_(0, 1))
    if protocol == "y":
        q = _planes(q.double(), "y")          # float64 as in rgb_to_y: the same rounding of Y
    return q.to(torch.uint8).numpy()


def _prepare(pred, target, protocol, quantize_input, dtype):
    _check_protocol(protocol)
    _check_tensors(pred, target)
    pred, target = pred.to(dtype), target.to(dtype)
    if quantize_input:
        pred, target = quantize(pred), quantize(target)
    else:
        pred, target = pred * 255.0, target * 255.0
    return _planes(pred, protocol), _planes(target, protocol)


def psnr_torch(pred: torch.Tensor, target: torch.Tensor, protocol: str = "rgb",
               quantize_input: bool = True) -> torch.Tensor:
    """Per-image PSNR in dB of (B, 3, H, W) tensors in [0, 1]; returns (B,), inf where identical."""
    # PSNR is cheap: float64 always, so it equals the numpy figure.
    p, t = _prepare(pred, target, protocol, quantize_input, torch.float64)
    diff2 = (p - t) ** 2
    if protocol == "bandwise":
        mse = diff2.mean(dim=(2, 3))                       # (B, 3)
        return (10 * torch.log10(255.0 ** 2 / mse)).mean(1)
    mse = diff2.flatten(1).mean(1)
    return 10 * torch.log10(255.0 ** 2 / mse)


def _filter(x: torch.Tensor, protocol: str) -> torch.Tensor:
    """Depthwise 'valid' filtering of (B, C, H, W) with the protocol's window (Gaussian or uniform)."""
    c = x.shape[1]
    if protocol == "bandwise":
        k = torch.full((_UNIFORM_SIZE,), 1.0 / _UNIFORM_SIZE, dtype=x.dtype, device=x.device)
    else:
        k = torch.as_tensor(_gaussian_1d(), dtype=x.dtype, device=x.device)
    n = k.numel()
    x = F.conv2d(x, k.view(1, 1, n, 1).expand(c, 1, n, 1), groups=c)
    return F.conv2d(x, k.view(1, 1, 1, n).expand(c, 1, 1, n), groups=c)


def ssim_torch(pred: torch.Tensor, target: torch.Tensor, protocol: str = "rgb",
               quantize_input: bool = True, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Per-image SSIM of (B, 3, H, W) tensors in [0, 1]; returns (B,).

    ``dtype`` float32 (the default: about 5x faster than float64 on a CPU, and what GPUs do well)
    stays within 1e-5 of the float64 numpy figure thanks to the mean shift below; float64 matches it
    to 1e-10. With ``quantize_input=False`` the function is differentiable (a training loss can use it).
    """
    if (quantize_input and pred.device.type == "cpu"
            and not (torch.is_grad_enabled() and (pred.requires_grad or target.requires_grad))):
        # On a CPU, OpenCV's separable filters in tiles beat torch's depthwise convolution several
        # times over (benchmarks/bench_ssim.py); the figures are the same up to float rounding.
        _check_protocol(protocol)
        _check_tensors(pred, target)
        window = "uniform" if protocol == "bandwise" else "gaussian"
        np_dtype = np.float64 if dtype == torch.float64 else np.float32
        pn, tn = _uint8_planes(pred, protocol), _uint8_planes(target, protocol)
        channels = pn.shape[1]
        means = _ssim_planes([(pn[b, c], tn[b, c]) for b in range(pn.shape[0]) for c in range(channels)], window,
                             np_dtype)
        return torch.tensor([np.mean(means[b * channels:(b + 1) * channels]) for b in range(pn.shape[0])],
                            dtype=dtype)
    p, t = _prepare(pred, target, protocol, quantize_input, dtype)
    size = _UNIFORM_SIZE if protocol == "bandwise" else 2 * _GAUSS_RADIUS + 1
    if p.shape[-1] < size or p.shape[-2] < size:
        raise ValueError(f"SSIM needs images of at least {size}x{size}, got shape {tuple(pred.shape)}")
    cov_norm = size * size / (size * size - 1) if protocol == "bandwise" else 1.0
    pc, tc = p - 128.0, t - 128.0                         # see _ssim_map_stats: shift for precision
    stats = _filter(torch.cat([pc, tc, pc * pc, tc * tc, pc * tc], 1), protocol)
    mx, my, xx, yy, xy = stats.chunk(5, dim=1)
    vx = cov_norm * (xx - mx * mx)
    vy = cov_norm * (yy - my * my)
    vxy = cov_norm * (xy - mx * my)
    mx, my = mx + 128.0, my + 128.0
    c1, c2 = (_K1 * 255.0) ** 2, (_K2 * 255.0) ** 2
    s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean(dim=(2, 3)).mean(1)


class _MetricModule(nn.Module):
    """Module twin of a per-image torch metric: the mean over the batch."""

    metric = None
    default_quantize = True

    def __init__(self, protocol: str = "rgb", quantize_input: bool | None = None):
        super().__init__()
        _check_protocol(protocol)
        self.protocol = protocol
        self.quantize_input = self.default_quantize if quantize_input is None else quantize_input

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return type(self).metric(pred, target, self.protocol, self.quantize_input).mean()


class PSNR(_MetricModule):
    """Module twin of :func:`psnr_torch` (mean over the batch; quantizes by default)."""

    metric = staticmethod(psnr_torch)


class SSIM(_MetricModule):
    """Module twin of :func:`ssim_torch` (mean over the batch); differentiable: does not quantize by default."""

    metric = staticmethod(ssim_torch)
    default_quantize = False
