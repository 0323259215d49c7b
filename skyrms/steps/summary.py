"""The night's summary: a row per frame from its products' headers, with outliers flagged.

Only headers are read, so the table costs a few milliseconds per frame. A
frame is flagged when its propagated/image RMS ratio or its masked fraction
lies more than :data:`OUTLIER_SIGMA` robust standard deviations (1.4826 x the
median absolute deviation, :data:`~skyrms.science.noise_model.MAD_TO_SIGMA`) from the
median of the frames of the same object and filter; groups of fewer than
:data:`MIN_GROUP` frames are not judged.
"""

import os
import statistics

from skyrms.io import keywords as kw
from skyrms.io.fitsfiles import read_header
from skyrms.io.tables import write_tsv
from skyrms.master_lookup import TYPES
from skyrms.science.noise_model import MAD_TO_SIGMA

OUTLIER_SIGMA = 5.0
"""Distance from the group median, in robust standard deviations, that flags a frame."""

MIN_GROUP = 3
"""Fewest frames of one object and filter for outliers to be flagged among them."""

MIN_SPREAD = 0.01
"""Floor of the robust spread, as a fraction of the median (identical values are not outliers)."""

IDENTITY = {"object": kw.OBJECT, "unit": kw.TELESCOP, "filter": kw.FILTER,
            "date_obs": kw.DATE_OBS, "exptime": kw.EXPTIME}  # fmt: skip
"""Columns taken from the frame's identity cards, copied into every product header."""


def passes(header, family: kw.Family) -> str:
    """Comma-separated counts of the source mask's passes (e.g. MSKSRC1, MSKSRC2, ... cards)."""
    return ",".join(str(header[family(n)]) for n in range(1, header.get(kw.MSKNITER, 0) + 1))


def frame_row(key: str, mask_path, bkg_path, rms_path, proprms_path=None) -> dict:
    """One frame's summary values (ADU, days) from the headers of its products."""
    mask, bkg, rms = read_header(mask_path), read_header(bkg_path), read_header(rms_path)
    row = {"frame": key} | {column: bkg.get(card, "") for column, card in IDENTITY.items()}
    row |= {
        "background_median": bkg.get(kw.BKGMED, ""),
        "image_rms_median": rms.get(kw.RMSMED, ""),
        "propagated_rms_median": "",
        "ratio": "",
        "masked_fraction": bkg.get(kw.MASKFRAC, ""),
        "sources_per_pass": passes(mask, kw.MSKSRC),
        "saturated_per_pass": passes(mask, kw.MSKSAT),
    }
    stop = mask.get(kw.MSKSTOP, "converged" if mask.get(kw.MSKCONV, True) else "iterations")
    warnings = {
        "converged": [],
        "iterations": ["source mask not converged"],
        "background": ["source mask stopped by the runaway guard"],
    }[stop]
    if proprms_path:
        prop = read_header(proprms_path)
        row |= {"propagated_rms_median": prop[kw.PROPMED], "ratio": prop[kw.RMSRATIO]}
        for imagetyp in TYPES:
            row[imagetyp.lower()] = os.path.basename(prop.get(kw.IN_MASTER(imagetyp), ""))
            row[f"{imagetyp.lower()}_days"] = prop.get(kw.MASTER_DAYS(imagetyp), "")
        if prop.get(kw.ASSUMED, "none") != "none":
            warnings.append(f"assumed {prop[kw.ASSUMED]}")
        if prop.get(kw.FLATERR) is False:
            warnings.append("no flat error map")
    row["warnings"] = "; ".join(warnings)
    return row


def robust_outliers(values: list[float]) -> list[bool]:
    """True for values more than OUTLIER_SIGMA robust standard deviations from the median."""
    if len(values) < MIN_GROUP:
        return [False] * len(values)
    middle = statistics.median(values)
    spread = MAD_TO_SIGMA * statistics.median(abs(v - middle) for v in values)
    spread = max(spread, MIN_SPREAD * abs(middle), 1e-12)
    return [abs(v - middle) > OUTLIER_SIGMA * spread for v in values]


def flag_outliers(rows: list[dict]) -> None:
    """Set each row's ``flags``: the columns in which it is an outlier for its object and filter."""
    groups = {}
    for row in rows:
        row["flags"] = ""
        groups.setdefault((row["object"], row["filter"]), []).append(row)
    for members in groups.values():
        for column in ("ratio", "masked_fraction"):
            judged = [row for row in members if isinstance(row[column], int | float)]
            for row, outlier in zip(
                judged, robust_outliers([row[column] for row in judged]), strict=True
            ):
                if outlier:
                    row["flags"] = ",".join(filter(None, [row["flags"], f"{column}_outlier"]))


def write_summary(frames: dict[str, dict[str, str]], output) -> None:
    """Tab-separated summary, a row per frame key; ``frames`` maps key -> {kind: product path}."""
    rows = [
        frame_row(key, p["mask"], p["bkg"], p["bkgrms"], p.get("proprms"))
        for key, p in frames.items()
    ]
    flag_outliers(rows)
    columns = list(dict.fromkeys(column for row in rows for column in row))
    write_tsv(output, [columns, *([row.get(column, "") for column in columns] for row in rows)])
