"""Quick-look picture of one frame and its products, for a person to check at a glance.

Six panels: the frame (zscale) with the final mask over it, the frame alone,
the background map, the masked (image-based) background RMS, the propagated
RMS and the ratio propagated / image-based, titled with the propagated map's RMSRATIO
(the one definition of the ratio, see :func:`skyrms.steps.propagated_rms.rms_medians`).
Maps are binned to at most
:data:`MAX_PIXELS` along the longer side (mean of each block; the mask: any
masked pixel marks its block), so a 9576x6388 frame costs one frame in memory.
"""

import logging
import math
import warnings

import numpy as np
from astropy.visualization import ZScaleInterval
from matplotlib.figure import Figure

from skyrms.io import keywords as kw
from skyrms.io.fitsfiles import atomic_path, read_image, read_mask

log = logging.getLogger(__name__)

MAX_PIXELS = 1000
"""Longest side of the binned maps shown, pixels."""


def binning(shape: tuple[int, int]) -> int:
    """Block side (pixels) that brings the longer side of ``shape`` to at most MAX_PIXELS."""
    return max(1, math.ceil(max(shape) / MAX_PIXELS))


def binned(image: np.ndarray, factor: int, reduce=np.nanmean) -> np.ndarray:
    """``image`` reduced over factor x factor blocks (a last partial block is dropped)."""
    ny, nx = (n // factor * factor for n in image.shape)
    blocks = image[:ny, :nx].reshape(ny // factor, factor, nx // factor, factor)
    with warnings.catch_warnings():  # a block of NaN pixels only is NaN, without a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        return reduce(blocks, axis=(1, 3))


def title_of(header, name: str) -> str:
    """Frame name, object, filter, exposure and date from the frame's header."""
    cards = [header.get(k, "?") for k in (kw.OBJECT, kw.FILTER, kw.EXPTIME, kw.DATE_OBS)]
    return f"{name}\n{cards[0]}  {cards[1]}  {cards[2]} s  {cards[3]}"


def panel(axes, image, title: str, unit: str, **style) -> None:
    """One map with its colour bar (``unit`` labels the bar)."""
    shown = axes.imshow(image, origin="lower", interpolation="nearest", **style)
    axes.set_title(title, fontsize=9)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.figure.colorbar(shown, ax=axes, fraction=0.046, pad=0.02).set_label(unit, fontsize=8)


def write_quicklook(frame, mask, background, rms, propagated, output, name: str) -> None:
    """Write the six-panel PNG of a frame (``propagated`` may be None without calibration)."""
    data, header = read_image(frame)
    factor = binning(data.shape)
    data[~np.isfinite(data)] = np.nan
    pixels = binned(data, factor)
    del data
    masked = binned(read_mask(mask)[0] != 0, factor, np.any)
    paths = {"bkg": background, "rms": rms} | ({"prop": propagated} if propagated else {})
    read = {kind: read_image(path) for kind, path in paths.items()}
    maps = {kind: binned(image, factor) for kind, (image, _) in read.items()}
    noise = np.concatenate([maps[kind].ravel() for kind in maps if kind != "bkg"])
    rms_limits = dict(zip(("vmin", "vmax"), np.nanpercentile(noise, [1, 99]), strict=True))
    low, high = ZScaleInterval().get_limits(pixels[np.isfinite(pixels)])
    figure = Figure(figsize=(15, 8.5), layout="constrained")
    axes = figure.subplots(2, 3)
    frame_style = {"cmap": "gray", "vmin": low, "vmax": high}
    panel(axes[0, 0], pixels, "frame, final mask in red", "ADU", **frame_style)
    overlay = np.ma.masked_where(~masked, masked)
    axes[0, 0].imshow(overlay, origin="lower", cmap="autumn", alpha=0.45, interpolation="nearest")
    panel(axes[0, 1], pixels, f"frame (zscale, {factor}x{factor} binned)", "ADU", **frame_style)
    panel(axes[0, 2], maps["bkg"], "background", "ADU", cmap="viridis")
    panel(axes[1, 0], maps["rms"], "background RMS, image-based", "ADU", cmap="magma", **rms_limits)
    if propagated:
        panel(axes[1, 1], maps["prop"], "background RMS, propagated", "ADU", cmap="magma",
              **rms_limits)  # fmt: skip
        ratio = read["prop"][1][kw.RMSRATIO]
        log.info(f"propagated / image-based RMS shown: {kw.RMSRATIO} {ratio}")
        title = f"propagated / image-based ({kw.RMSRATIO} {ratio:.3f})"
        panel(axes[1, 2], maps["prop"] / maps["rms"], title, "ratio", cmap="coolwarm",
              vmin=0.8, vmax=1.2)  # fmt: skip
    else:
        for empty in axes[1, 1:]:
            empty.set_axis_off()
            empty.text(0.5, 0.5, "no calibration", ha="center", va="center")
    figure.suptitle(title_of(header, name), fontsize=11)
    with atomic_path(output) as temporary:
        figure.savefig(temporary, format="png", dpi=80)
    log.info(f"quick-look of {name}: {factor}x{factor} binning, {masked.mean():.1%} masked")
