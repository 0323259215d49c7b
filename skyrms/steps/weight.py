"""The weight map of a frame for coadds: the inverse variance of one of its RMS maps."""

import logging

import numpy as np

from skyrms.io import keywords as kw
from skyrms.io.fitsfiles import (
    InputError,
    check_frame_shape,
    read_image,
    read_mask,
    write_float_map,
)
from skyrms.io.provenance import product_header
from skyrms.science import maskbits
from skyrms.science.weights import UNMEASURED, inverse_variance

log = logging.getLogger(__name__)

RMS_PRODUCTS = ("BKGRMS", "PROPRMS")
"""PRODTYPE of the maps a weight can be made from: the image-based or the propagated RMS."""


def weight_map(rms_path, mask_path, output, compress=False) -> None:
    """Write 1 / RMS**2 (1/ADU**2) of an RMS product, 0 where the frame has no measurement.

    ``rms_path`` is a background RMS or propagated RMS product, ``mask_path`` the frame's
    mask product (its invalid and saturated bits give weight 0, see
    :mod:`skyrms.science.weights`). The weight carries the RMS map's identity, WCS and
    FRAMESHA; ``compress`` chooses the format (:func:`skyrms.io.fitsfiles.write_float_map`).
    """
    rms, rms_header = read_image(rms_path)
    kind = rms_header.get(kw.PRODTYPE)
    if kind not in RMS_PRODUCTS:
        raise InputError(f"{rms_path}: not an RMS map of skyrms (PRODTYPE {kind!r})")
    bits, _ = read_mask(mask_path)
    check_frame_shape(mask_path, "mask", bits.shape, rms.shape)
    weight = inverse_variance(rms, bits)
    zero = float(np.count_nonzero(weight == 0) / weight.size)
    log.info(f"weight 1/RMS^2 of {kind}: {zero:.4f} of the pixels have weight 0")
    if zero == 1:
        raise InputError(f"{rms_path}: no pixel has a weight (all masked or without an RMS)")
    identity = [kw.FRAMESHA.card(rms_header[kw.FRAMESHA])] if kw.FRAMESHA in rms_header else []
    cards = identity + [
        kw.WGTFROM.card(kind),
        kw.WGTZBITS.card(maskbits.describe(UNMEASURED)),
        kw.WGTZERO.card(round(zero, 6)),
    ]
    inputs = {kw.IN_NOISE: rms_path, kw.IN_MASK: mask_path}
    header = product_header(rms_header, "WEIGHT", "adu-2", inputs, cards)
    write_float_map(output, weight, header, compress)
