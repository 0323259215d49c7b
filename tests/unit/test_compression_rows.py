"""Compressed float maps: rows sampled from the file are those of the whole map."""

import numpy as np
import pytest
from astropy.io import fits

from skyrms.io import fitsfiles
from skyrms.io.fitsfiles import read_image


@pytest.mark.parametrize("ny", [1, 63, 64, 300, 1000])
def test_sampled_rows_of_a_compressed_map_are_those_of_the_whole_map(tmp_path, ny):
    image = np.random.default_rng(ny).normal(50, 1, (ny, 40)).astype(np.float32)
    path = tmp_path / "map.fits"
    fitsfiles.write_float_map(path, image, fits.Header())
    whole, _ = read_image(path)
    rows = fitsfiles.sample_rows(ny, 4)
    sample = fitsfiles.read_rows(path, rows, image.shape)
    assert np.array_equal(sample, np.concatenate([whole[row] for row in rows]))
    assert len(sample) == sum(len(range(ny)[row]) for row in rows) >= min(ny, 16)
    message = f"map.fits: image is 40x{ny}, the frame is 41x{ny}"
    with pytest.raises(fitsfiles.InputError, match=message):
        fitsfiles.read_rows(path, rows, (ny, 41))
