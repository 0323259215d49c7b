"""Masks that follow the light: single sources whose profiles are known."""

import numpy as np
import pytest
import sep

from skyrms.demo.physics import moffat_alpha, moffat_value
from skyrms.science import growth
from skyrms.science.background import BackgroundParams
from skyrms.science.blanks import invalid_pixels
from skyrms.science.source_mask import MaskParams, iterate_source_mask

SKY, NOISE, FWHM, BETA = 1000.0, 10.0, 3.0, 3.0
PARAMS, MESH = MaskParams(saturation_level=60000.0), BackgroundParams(box_size=64)


def frame_with(signal, seed=1):
    rng = np.random.default_rng(seed)
    frame = SKY + signal + rng.normal(0, 1, signal.shape) * np.sqrt(NOISE**2 + signal)
    return np.minimum(frame, 60000.0).astype(np.float32)


def distance(shape, x0, y0):
    y, x = np.ogrid[: shape[0], : shape[1]]
    return np.hypot(x - x0, y - y0)


def masked_radius(mask, x0, y0):
    """Radius (px) of the disk with the same area as the mask's connected blob at (x0, y0)."""
    r = distance(mask.shape, x0, y0)
    inside = (mask != 0) & (r < 400)
    return np.sqrt(inside.sum() / np.pi)


def level_radius(peak_sigma, level):
    """Radius (px) where a Moffat star of ``peak_sigma`` falls to ``level`` sigma."""
    alpha = moffat_alpha(FWHM, BETA)
    return alpha * np.sqrt((peak_sigma / level) ** (1 / BETA) - 1)


@pytest.mark.parametrize("peak", [8.0, 40.0, 300.0, 3000.0])
def test_a_star_is_masked_to_where_its_light_falls_to_the_mask_level(peak):
    shape, x0, y0 = (400, 400), 200.3, 199.6
    flux = peak * NOISE / moffat_value(0.0, 1.0, FWHM, BETA)
    signal = moffat_value(distance(shape, x0, y0) ** 2, flux, FWHM, BETA)
    result = iterate_source_mask(frame_with(signal), np.zeros(shape, bool), PARAMS, MESH)
    expected = level_radius(peak, PARAMS.mask_level)
    assert masked_radius(result.mask, x0, y0) == pytest.approx(expected, rel=0.35)
    assert np.all(result.mask[signal > 0.5 * NOISE] != 0)  # all its brighter light


def light_radius(signal, level):
    """Radius (px) of the disk with the area where ``signal`` >= ``level`` sigma."""
    return np.sqrt((signal >= level * NOISE).sum() / np.pi)


def test_a_saturated_star_is_masked_by_its_halo_not_by_a_factor():
    """A halo of 0.1 sigma at r = 316 px: the mask ends where its rings stop being
    significant, between the 0.15 and the 0.03 sigma isophotes."""
    shape, x0, y0 = (1024, 1024), 512.0, 512.0
    r2 = distance(shape, x0, y0) ** 2
    halo = 0.1 * NOISE / (1 + 316.0**2 / 100) ** -1.5 * (1 + r2 / 100) ** -1.5
    signal = moffat_value(r2, 2e7, FWHM, BETA) + halo
    result = iterate_source_mask(frame_with(signal), np.zeros(shape, bool), PARAMS, MESH)
    radius = masked_radius(result.mask, x0, y0)
    assert light_radius(signal, 0.15) < radius < light_radius(signal, 0.03)
    assert result.reasons["noise"] >= 1


def test_a_faint_galaxy_is_masked_over_its_wings():
    shape = (1024, 1024)
    r = distance(shape, 500.0, 520.0)
    signal = 1.0 * NOISE * np.exp(-1.678 * (r / 120.0 - 1))  # exponential disk, r_e 120 px
    result = iterate_source_mask(frame_with(signal), np.zeros(shape, bool), PARAMS, MESH)
    wings = (signal > 0.1 * NOISE) & (signal < NOISE)
    assert np.mean(result.mask[wings] != 0) > 0.95
    assert np.mean(result.mask[signal < 0.02 * NOISE] != 0) < 0.001


def test_a_sky_gradient_is_not_a_source():
    shape = (512, 512)
    y, x = np.mgrid[: shape[0], : shape[1]]
    gradient = 4 * NOISE * ((x + y) / 512.0 - 1)  # -4 to +4 sigma across the frame
    result = iterate_source_mask(frame_with(gradient + 0 * x), np.zeros(shape, bool), PARAMS, MESH)
    assert np.mean(result.mask != 0) < 0.002


def test_a_faint_star_beside_a_bright_one_stops_where_the_light_rises():
    shape = (400, 400)
    bright, faint = (200.0, 200.0), (230.0, 200.0)
    flux = NOISE / moffat_value(0.0, 1.0, FWHM, BETA)
    signal = moffat_value(distance(shape, *bright) ** 2, 2000 * flux, FWHM, BETA)
    signal += moffat_value(distance(shape, *faint) ** 2, 30 * flux, FWHM, BETA)
    result = iterate_source_mask(frame_with(signal), np.zeros(shape, bool), PARAMS, MESH)
    assert result.mask[200, 230] != 0 and result.mask[200, 200] != 0
    assert np.mean(result.mask != 0) < 0.05


def test_ring_edges_and_indices_agree():
    edges = growth.ring_edges(30)
    assert edges[:6].tolist() == [0, 1, 2, 3, 4, 5]
    assert np.allclose(edges[7] / edges[6], growth.RING_GROWTH)
    inside = (edges[:-1] + edges[1:]) / 2
    assert growth.ring_index(inside).tolist() == list(range(30))


def test_invalid_pixels_never_join_a_ring():
    """A star beside a NaN block: the block is invalid, never a reason to grow or stop."""
    shape, x0, y0 = (300, 300), 150.0, 150.0
    flux = 100 * NOISE / moffat_value(0.0, 1.0, FWHM, BETA)
    frame = frame_with(moffat_value(distance(shape, x0, y0) ** 2, flux, FWHM, BETA))
    frame[:, 160:200] = np.nan
    result = iterate_source_mask(frame, invalid_pixels(frame), PARAMS, MESH)
    assert masked_radius(result.mask & ~np.uint8(1), x0, y0) < 2 * level_radius(100, 0.15)


def test_where_the_rings_first_reach_changes_no_radius():
    """Sources grown before are probed one ring out first: the radii are those found when
    the rings first reach further (sources small enough to be sampled at every pixel)."""
    shape, rng = (600, 600), np.random.default_rng(5)
    x0, y0 = rng.uniform(40, 560, 60), rng.uniform(40, 560, 60)
    peak = 10 ** rng.uniform(0.7, 2.5, 60)  # 5 to 300 sigma
    signal = np.zeros(shape)
    for x, y, p in zip(x0, y0, peak, strict=True):
        flux = p * NOISE / moffat_value(0.0, 1.0, FWHM, BETA)
        signal += moffat_value(distance(shape, x, y) ** 2, flux, FWHM, BETA)
    significance = ((frame_with(signal) - SKY) / NOISE).astype(np.float32)
    objects = sep.extract(significance, 3.0, minarea=5)
    image = growth.RingImage(significance, np.zeros(shape, bool))
    start = growth.isophotal_radius(objects)
    found = [
        growth.grow(image, objects, start, 1.5, 0.15, 1 / 64, 600.0,
                    grown_before=np.full(len(objects), before)).radius
        for before in (False, True)
    ]  # fmt: skip
    assert len(objects) > 40 and found[0].max() < 30
    assert np.array_equal(found[0], found[1])
