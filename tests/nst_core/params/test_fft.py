"""The Fourier parameterization (Distill): its init, colour map, frequency grid and options."""
import dataclasses

import pytest
import torch

from nst_core import Settings
from nst_core.imaging import images
from nst_core.params import fft as nfft

from conftest import ODD, target_image


@pytest.mark.parametrize("shape", [(1, 3, 64, 64), ODD, (1, 3, 16, 31)])
@pytest.mark.parametrize("options", [{}, {"decay_power": 0.0}, {"decay_power": 2.0},
                                     {"decorrelate": False}])
def test_fft_init_from_content_gives_back_the_content(shape, options, content_path):
    content = target_image(content_path, shape)
    _, image_fn = nfft.make_fft(shape, content, **options)
    with torch.no_grad():
        image = image_fn()
    # Exact up to float32 rounding, except that 0 and 1 are pulled in by the sigmoid's eps.
    expected = content.clamp(nfft.SIGMOID_EPS, 1 - nfft.SIGMOID_EPS)
    torch.testing.assert_close(image, expected, atol=2e-6, rtol=0)
    # ...which is far below 8-bit precision: the saved PNG is the content itself.
    assert torch.equal(images.quantize(image), content)


def test_colour_map_and_its_inverse():
    t = torch.randn(1, 3, 8, 9, dtype=torch.float64) * 3
    torch.testing.assert_close(nfft.rgb_to_decorrelated(nfft.decorrelated_to_rgb(t)), t)
    rgb = torch.rand(1, 3, 8, 9, dtype=torch.float64) * 0.9 + 0.05
    torch.testing.assert_close(nfft.to_valid_rgb(nfft.from_valid_rgb(rgb)), rgb)
    # Lucid's normalization: no column of the colour matrix is longer than 1.
    assert float(nfft.COLOR_CORRELATION_NORMALIZED.norm(dim=0).max()) == pytest.approx(1.0)


@pytest.mark.parametrize("h, w", [(8, 8), (7, 9), (16, 31)])
def test_frequency_grid_matches_torch_rfft(h, w):
    freqs = nfft.rfft2d_freqs(h, w)
    assert freqs.shape == torch.fft.rfft2(torch.zeros(h, w)).shape
    assert float(freqs[0, 0]) == 0 and float(freqs.max()) <= 0.5 * 2 ** 0.5 + 1e-6


def test_fft_decay_makes_low_frequencies_move_more():
    """With decay_power 1, the same change to a coefficient moves the image far more at a low
    frequency than at a high one; with decay_power 0 they move it equally."""
    def change(decay, row, col):
        spatial = nfft.FourierImage((1, 3, 32, 32), decay)
        spatial.coeffs[0, 0, row, col, 0] = 1.0
        return float(spatial.image().square().sum())

    assert change(1.0, 0, 1) > 50 * change(1.0, 16, 16)
    assert change(0.0, 0, 1) == pytest.approx(change(0.0, 5, 7), rel=1e-4)


@pytest.mark.parametrize("options, message", [
    ({"decay": 1}, "unknown fft option"), ({"decay_power": -1}, "decay_power"),
    ({"decay_power": "high"}, "decay_power"), ({"decorrelate": "yes"}, "decorrelate")])
def test_fft_bad_options_are_value_errors(options, message):
    with pytest.raises(ValueError, match=message):
        nfft.make_fft((1, 3, 16, 16), **options)


def test_fft_run_from_content_starts_at_the_content_loss(content_path, style_path):
    """Init 'content' through the Fourier map starts where pixels start (same image)."""
    from nst_core import stylize

    s = Settings(size=48, steps=1, preview_every=1)
    first_pixels = next(stylize(content_path, style_path, s))
    first_fft = next(stylize(content_path, style_path, dataclasses.replace(s, param="fft")))
    # Not bit-exact: pure white and black pixels are pulled in by SIGMOID_EPS (0.25/255).
    assert first_fft.losses["total"] == pytest.approx(first_pixels.losses["total"], rel=1e-2)
