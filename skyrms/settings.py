"""Typed settings: each section of the configuration as a frozen dataclass.

Built from a configuration that :mod:`skyrms.config` has validated and completed with the
schema's defaults (``skyrms/schemas/config.schema.yaml`` describes every setting):
:func:`skyrms.config.load_settings` reads a file, :meth:`Settings.from_config` takes the
validated mapping, and a rule's script builds its own section from the rule's parameters
(that section's validated mapping), e.g. ``CalibrationSection.from_config(params)``.

The sections keep no defaults of their own: every value is the configuration's, or the
schema's default. Lists become tuples; settings without a default that are not set
(``inputs.root``, ``calibration.root``, the keys a circle leaves out) are None. The
sections' methods are the one mapping from the configuration to the parameters of the
science and of the search (:class:`MaskParams`, :class:`BackgroundParams`,
:class:`InvalidSpec`, a circle's mapping, :class:`CombineParams`, :class:`Selection`).
"""

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from types import MappingProxyType
from typing import Self

from skyrms.io.discovery import Selection
from skyrms.io.keywords import MASTER_TYPES
from skyrms.science.background import BackgroundParams
from skyrms.science.blanks import InvalidSpec
from skyrms.science.combine import CombineParams
from skyrms.science.source_mask import MaskParams


def immutable(value):
    """A configuration value that cannot be changed in place: a list as a tuple."""
    return tuple(immutable(item) for item in value) if isinstance(value, list) else value


def max_days_by_type(setting) -> dict[str, float]:
    """``calibration.max_days`` (one number, or one per type) as days by master type."""
    if isinstance(setting, dict):
        return {imagetyp: float(setting[imagetyp.lower()]) for imagetyp in MASTER_TYPES}
    return dict.fromkeys(MASTER_TYPES, float(setting))


class Section:
    """A configuration section whose keys are its dataclass fields."""

    @classmethod
    def from_config(cls, section: dict) -> Self:
        """The section from its validated mapping (the schema's defaults filled in)."""
        return cls(**{key: immutable(value) for key, value in section.items()})


@dataclass(frozen=True, kw_only=True)
class DemoSection(Section):
    """``demo``: the embedded demo survey.

    enabled : generate and process the demo survey.
    root : folder of the demo survey.
    shape : (ny, nx) of the demo frames, pixels.
    seed : seed of the demo's random numbers.
    raw_frames : raw calibration frames under ``{root}/raw``, from which the workflow
        builds masters (False: those masters ready-made under ``{root}/calib``).
    """

    enabled: bool
    root: str
    shape: tuple[int, int]
    seed: int
    raw_frames: bool


@dataclass(frozen=True, kw_only=True)
class InputsSection(Section):
    """``inputs``: which frames, at ``{root}/{observatory}/{telkey}/{object}/{unit}/{filter}/
    {pattern}``.

    root : folder of the frames; None when not set (``skyrms run`` needs none).
    observatory, telkey, object, unit, filter, pattern : a shell pattern, or a tuple of them,
        for each folder level and the file name.
    paths : explicit frame paths under ``root``; when given they replace the search.
    path_list : a text file of frame paths, one per line ("" for none).
    since, until : bounds of DATE-OBS (UTC), a date (its whole day) or an ISO time; "" for
        no bound.
    newest_nights : only the newest that many nights among the selected frames; 0: all.
    night_starts : hour (UTC, hours) at which a night begins.
    add_rechosen : with a time selection, add the earlier frames never attempted, changed
        since, or whose masters changed since their products were made.
    """

    root: str | None = None
    observatory: str | tuple[str, ...]
    telkey: str | tuple[str, ...]
    object: str | tuple[str, ...]
    unit: str | tuple[str, ...]
    filter: str | tuple[str, ...]
    pattern: str | tuple[str, ...]
    paths: tuple[str, ...]
    path_list: str
    since: str
    until: str
    newest_nights: int
    night_starts: float
    add_rechosen: bool

    def selection(self) -> Selection:
        """The search's selection: the patterns of the folder levels and the file name."""
        return Selection.from_patterns({f.name: getattr(self, f.name) for f in fields(Selection)})


@dataclass(frozen=True, kw_only=True)
class OutputsSection(Section):
    """``outputs``: where the products go and in which form.

    results : folder of the products, logs and benchmarks.
    beside_inputs : write the products next to each frame instead.
    quicklook : a PNG per frame with the frame, the mask and the maps.
    compress : tile-compressed maps (False: plain images in the primary HDU).
    weight : the RMS map inverted into a weight map 1/RMS^2 per frame: "image",
        "propagated", or "none" for no weight map.
    """

    results: str
    beside_inputs: bool
    quicklook: bool
    compress: bool
    weight: str


@dataclass(frozen=True, kw_only=True)
class BackgroundSection(Section):
    """``background``: the SEP mesh and the pixels that carry no measurement.

    box_size : mesh box side, pixels.
    filter_size : median filter side, boxes.
    bad_pixel_mask : FITS file whose non-zero pixels are invalid in every frame ("" for none).
    blank_value : a pixel value (ADU) that means no data; None for none.
    blank_run : runs of one value this long (pixels, along a row or column) are blank;
        0 turns this off.
    """

    box_size: int
    filter_size: int
    bad_pixel_mask: str
    blank_value: float | None
    blank_run: int

    def mesh(self) -> BackgroundParams:
        """The background mesh of the science."""
        return BackgroundParams(box_size=self.box_size, filter_size=self.filter_size)

    def invalid(self) -> InvalidSpec:
        """Which pixels are invalid besides non-finite ones."""
        return InvalidSpec(
            bad_pixel_mask=self.bad_pixel_mask,
            blank_value=self.blank_value,
            blank_run=self.blank_run,
        )


@dataclass(frozen=True, kw_only=True)
class SourceMaskSection(Section):
    """``source_mask``: the iterated detection.

    sigma : detection threshold, x the local background RMS.
    minarea : smallest source, pixels.
    grow_sigma : a ring around a source joins its mask while its mean is this many times
        its noise above the background.
    mask_level : a source whose light fades into the noise is masked to where its profile
        falls to this, x the background RMS per pixel.
    saturation_level : ADU; None takes each frame's SATURATE keyword.
    max_iterations : most detection passes.
    """

    sigma: float
    minarea: int
    grow_sigma: float
    mask_level: float
    saturation_level: float | None
    max_iterations: int

    def params(self) -> MaskParams:
        """The source-mask parameters of the science."""
        return MaskParams(
            sigma=self.sigma,
            minarea=self.minarea,
            grow_sigma=self.grow_sigma,
            mask_level=self.mask_level,
            saturation_level=self.saturation_level,
            max_iterations=self.max_iterations,
        )


@dataclass(frozen=True, kw_only=True)
class CircularMask(Section):
    """One of ``circular_masks``: a centre in RA/Dec or in pixels, a radius in arcsec or in
    pixels; the keys the configuration leaves out are None.

    name : named in logs and headers.
    object : only frames whose OBJECT equals this.
    ra, dec : centre, degrees (ICRS).
    x, y : centre, FITS pixels (the first pixel is (1, 1)).
    radius_arcsec : radius, arcsec.
    radius_pix : radius, pixels.
    """

    name: str | None = None
    object: str | None = None
    ra: float | None = None
    dec: float | None = None
    x: float | None = None
    y: float | None = None
    radius_arcsec: float | None = None
    radius_pix: float | None = None

    def spec(self) -> dict:
        """The circle as :mod:`skyrms.science.circles` takes it: a mapping of the keys given."""
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass(frozen=True, kw_only=True)
class DefaultNcombine(Section):
    """``calibration.default_ncombine``: NCOMBINE assumed (with a warning) where a header
    lacks it.

    science : frames combined into a science frame.
    master : raw frames combined into a master.
    """

    science: int
    master: int


@dataclass(frozen=True, kw_only=True)
class CalibrationSection(Section):
    """``calibration``: the master lookup and the propagated background RMS.

    enabled : look up masters and propagate the RMS.
    root : the master library, ``{root}/{observatory}/{telkey}/{unit}/{imagetyp}/*.fits``;
        None when not set.
    max_days : largest time between a frame and its master, days, by master type (BIAS,
        DARK, FLAT), read-only.
    dark_exptime : "exact" (a dark of the frame's EXPTIME) or "nearest" (the nearest
        EXPTIME, scaled).
    combine : how masters without COMBMETH were combined: "mean" or "median".
    dark_bias : the master dark had the same master bias subtracted ("same"), another
        one ("independent"), or none ("none").
    gain : e-/ADU; None takes EGAIN of each frame.
    read_noise : e-; None takes RDNOISE of the frame, else the master bias's.
    default_ncombine : NCOMBINE assumed where a header lacks it.
    """

    enabled: bool
    root: str | None = None
    max_days: Mapping[str, float]
    dark_exptime: str
    combine: str
    dark_bias: str
    gain: float | None
    read_noise: float | None
    default_ncombine: DefaultNcombine

    @classmethod
    def from_config(cls, section: dict) -> Self:
        """The section from its validated mapping; ``max_days`` (one number or one per type
        in the configuration) as days by master type."""
        max_days = MappingProxyType(max_days_by_type(section["max_days"]))
        ncombine = DefaultNcombine.from_config(section["default_ncombine"])
        return cls(**section | {"max_days": max_days, "default_ncombine": ncombine})


@dataclass(frozen=True, kw_only=True)
class MastersSection(Section):
    """``masters``: masters built from raw calibration frames.

    enabled : build masters from the raw frames under ``raw_root``.
    raw_root : ``{raw_root}/{observatory}/{telkey}/{unit}/{BIAS,DARK,FLAT}/*.fits``.
    root : where the built masters go ("" for ``{outputs.results}/masters``).
    method : how a group's frames are combined: "mean", "median", "sigma_clip" or "minmax".
    sigma : sigma_clip threshold, robust standard deviations.
    nlow, nhigh : minmax: lowest and highest values dropped per pixel.
    min_frames : fewest raw frames a master is made of.
    on_bad_frame : a raw frame that cannot be used fails its master ("fail") or is left
        out with a warning ("skip").
    """

    enabled: bool
    raw_root: str
    root: str
    method: str
    sigma: float
    nlow: int
    nhigh: int
    min_frames: int
    on_bad_frame: str

    def combination(self) -> CombineParams:
        """How the raw frames are combined (raises ValueError for an impossible one)."""
        return CombineParams(method=self.method, sigma=self.sigma, nlow=self.nlow, nhigh=self.nhigh)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The whole configuration, a section per key of ``config.yaml``."""

    demo: DemoSection
    inputs: InputsSection
    outputs: OutputsSection
    background: BackgroundSection
    source_mask: SourceMaskSection
    circular_masks: tuple[CircularMask, ...]
    calibration: CalibrationSection
    masters: MastersSection

    @classmethod
    def from_config(cls, config: dict) -> Self:
        """The settings of a configuration validated and completed with the schema's
        defaults (:func:`skyrms.config.validated`)."""
        return cls(
            demo=DemoSection.from_config(config["demo"]),
            inputs=InputsSection.from_config(config["inputs"]),
            outputs=OutputsSection.from_config(config["outputs"]),
            background=BackgroundSection.from_config(config["background"]),
            source_mask=SourceMaskSection.from_config(config["source_mask"]),
            circular_masks=tuple(CircularMask.from_config(c) for c in config["circular_masks"]),
            calibration=CalibrationSection.from_config(config["calibration"]),
            masters=MastersSection.from_config(config["masters"]),
        )

    def circle_specs(self) -> list[dict]:
        """The circular masks as :mod:`skyrms.science.circles` takes them."""
        return [circle.spec() for circle in self.circular_masks]

    @property
    def built_masters_root(self) -> str:
        """The folder of the masters the workflow builds: masters.root, else
        ``{outputs.results}/masters`` (joined as given, not normalized: the spelling of the
        masters' paths that the workflow's products record)."""
        return self.masters.root or os.path.join(self.outputs.results, "masters")
