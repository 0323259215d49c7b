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
from dataclasses import dataclass, replace

import numpy as np
from astropy.visualization import ZScaleInterval
from matplotlib.figure import Figure

from skyrms.io import keywords as kw
from skyrms.io.fitsfiles import InputError, atomic_path, read_image, read_mask

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


@dataclass(frozen=True)
class Maps:
    """What a quick-look shows, binned by ``factor`` (see :func:`binned`): the frame
    (``pixels``, ADU), where it is masked (``masked``), the background, the image-based and
    the propagated RMS (``bkg``, ``rms``, ``prop``, ADU) and the propagated map's RMSRATIO
    (``ratio``); each None when not given."""

    factor: int
    pixels: np.ndarray | None = None
    masked: np.ndarray | None = None
    bkg: np.ndarray | None = None
    rms: np.ndarray | None = None
    prop: np.ndarray | None = None
    ratio: float | None = None

    @property
    def frame_style(self) -> dict:
        """Grey scale between the frame's zscale limits."""
        low, high = ZScaleInterval().get_limits(self.pixels[np.isfinite(self.pixels)])
        return {"cmap": "gray", "vmin": low, "vmax": high}

    @property
    def rms_style(self) -> dict:
        """One colour scale for both RMS maps: their 1st to 99th percentile."""
        noise = np.concatenate([m.ravel() for m in (self.rms, self.prop) if m is not None])
        limits = np.nanpercentile(noise, [1, 99])
        return {"cmap": "magma", "vmin": limits[0], "vmax": limits[1]}


def binned_maps(shape, frame=None, mask=None, bkg=None, rms=None, prop=None, ratio=None) -> Maps:
    """:class:`Maps` of full-size arrays of a frame of ``shape`` (pixels), each may be None;
    the frame's pixels without a value should be NaN (not infinite)."""
    factor = binning(shape)
    maps = {"pixels": frame, "bkg": bkg, "rms": rms, "prop": prop}
    shown = {name: binned(image, factor) for name, image in maps.items() if image is not None}
    masked = None if mask is None else binned(mask != 0, factor, np.any)
    return Maps(factor, masked=masked, ratio=ratio, **shown)


def draw_masked_frame(axes, maps: Maps) -> None:
    """The frame with the mask over it in red."""
    panel(axes, maps.pixels, "frame, final mask in red", "ADU", **maps.frame_style)
    overlay = np.ma.masked_where(~maps.masked, maps.masked)
    axes.imshow(overlay, origin="lower", cmap="autumn", alpha=0.45, interpolation="nearest")


def draw_frame(axes, maps: Maps) -> None:
    """The frame alone."""
    title = f"frame (zscale, {maps.factor}x{maps.factor} binned)"
    panel(axes, maps.pixels, title, "ADU", **maps.frame_style)


def draw_ratio(axes, maps: Maps) -> None:
    """Propagated / image-based RMS, titled with the propagated map's RMSRATIO."""
    title = f"propagated / image-based ({kw.RMSRATIO} {maps.ratio:.3f})"
    panel(axes, maps.prop / maps.rms, title, "ratio", cmap="coolwarm", vmin=0.8, vmax=1.2)


PANELS = {
    "masked frame": (("pixels", "masked"), draw_masked_frame),
    "frame": (("pixels",), draw_frame),
    "background": (("bkg",), lambda ax, m: panel(ax, m.bkg, "background", "ADU", cmap="viridis")),
    "rms": (("rms",), lambda ax, m: panel(
        ax, m.rms, "background RMS, image-based", "ADU", **m.rms_style)),
    "propagated": (("prop",), lambda ax, m: panel(
        ax, m.prop, "background RMS, propagated", "ADU", **m.rms_style)),
    "ratio": (("prop", "rms", "ratio"), draw_ratio),
}  # fmt: skip
"""The quick-look's panels in order: the maps each needs, and how it is drawn."""


def drawable(maps: Maps) -> list[str]:
    """The panels of :data:`PANELS` that ``maps`` hold what they need for."""
    return [name for name, (needs, _) in PANELS.items()
            if all(getattr(maps, need) is not None for need in needs)]  # fmt: skip


def quicklook_figure(maps: Maps, title: str, panels=None, new_figure=Figure) -> Figure:
    """The quick-look's panels of ``maps`` (``panels``: names of :data:`PANELS`, all that
    ``maps`` can show by default). With all six of a calibrated frame, or the four of one
    without calibration, the quick-look's two rows of three; else one row. ``new_figure``
    makes the figure (a notebook's: ``pyplot.figure``, which it shows)."""
    panels = drawable(maps) if panels is None else list(panels)
    if missing := [name for name in panels if name not in drawable(maps)]:
        raise InputError(f"cannot draw {', '.join(missing)}: not given")
    full = panels in (list(PANELS), list(PANELS)[:4])
    size = (15, 8.5) if full else (5 * len(panels), 4)
    figure = new_figure(figsize=size, layout="constrained")
    axes = figure.subplots(2, 3).ravel() if full else np.atleast_1d(figure.subplots(1, len(panels)))
    for axis, name in zip(axes, panels, strict=False):
        PANELS[name][1](axis, maps)
    for empty in axes[len(panels) :]:
        empty.set_axis_off()
        empty.text(0.5, 0.5, "no calibration", ha="center", va="center")
    figure.suptitle(title, fontsize=11)
    return figure


def write_quicklook(frame, mask, background, rms, propagated, output, name: str) -> None:
    """Write the six-panel PNG of a frame (``propagated`` may be None without calibration)."""
    data, header = read_image(frame)
    shape = data.shape
    data[~np.isfinite(data)] = np.nan
    pixels = binned_maps(shape, frame=data).pixels
    del data
    prop, ratio = (None, None)
    if propagated:
        prop, prop_header = read_image(propagated)
        ratio = prop_header[kw.RMSRATIO]
        log.info(f"propagated / image-based RMS shown: {kw.RMSRATIO} {ratio}")
    maps = binned_maps(shape, mask=read_mask(mask)[0], bkg=read_image(background)[0],
                       rms=read_image(rms)[0], prop=prop, ratio=ratio)  # fmt: skip
    maps = replace(maps, pixels=pixels)
    figure = quicklook_figure(maps, title_of(header, name))
    with atomic_path(output) as temporary:
        figure.savefig(temporary, format="png", dpi=80)
    binning_text = f"{maps.factor}x{maps.factor} binning"
    log.info(f"quick-look of {name}: {binning_text}, {maps.masked.mean():.1%} masked")
