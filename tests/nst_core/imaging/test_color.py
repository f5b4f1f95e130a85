"""Colour spaces and the two colour-preservation transforms, on small random images."""
import pytest
import torch

from nst_core.imaging import color


def image(seed, h=12, w=10):
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("space", list(color.SPACES))
def test_spaces_round_trip_and_share_the_luminance_row(space):
    x = image(0)
    torch.testing.assert_close(color.from_space(color.to_space(x, space), space), x,
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(color.luminance(x, space), color.luminance(x, "yiq"))
    grey = torch.full((1, 3, 4, 4), 0.3)
    torch.testing.assert_close(color.luminance(grey, space), torch.full((1, 1, 4, 4), 0.3))


@pytest.mark.parametrize("space", list(color.SPACES))
def test_with_chroma_keeps_one_image_luminance_and_the_other_chroma(space):
    y_from, chroma_from = image(1), image(2)
    y = color.luminance(y_from, space) * 0.5 + 0.25  # mid-range: nothing clamps
    out = color.with_chroma(y, chroma_from * 0.2 + 0.4, space)
    torch.testing.assert_close(color.luminance(out, space), y, atol=2e-3, rtol=0)
    torch.testing.assert_close(color.to_space(out, space)[:, 1:],
                               color.to_space(chroma_from * 0.2 + 0.4, space)[:, 1:],
                               atol=2e-3, rtol=0)
    assert color.gray3(y).shape == (1, 3, 12, 10)


def test_match_luminance_takes_the_content_mean_and_spread():
    style_y, content_y = image(3)[:, :1] * 0.2, image(4)[:, :1] * 0.5 + 0.25
    out = color.match_luminance(style_y, content_y)
    assert float(out.mean()) == pytest.approx(float(content_y.mean()), abs=1e-4)
    assert float(out.std()) == pytest.approx(float(content_y.std()), rel=1e-3)


def test_match_histogram_gives_the_reference_mean_and_covariance():
    source = image(5, 32, 32) * torch.tensor([1.0, 0.3, 0.1]).view(1, 3, 1, 1)
    reference = image(6, 32, 32) * 0.5 + 0.2
    out = color.match_histogram(source, reference, clamp=False)
    flat_out, flat_ref = out[0].reshape(3, -1), reference[0].reshape(3, -1)
    torch.testing.assert_close(flat_out.mean(1), flat_ref.mean(1), atol=1e-4, rtol=0)
    # Within the 1e-5 ridge match_histogram adds to both covariances for stability.
    torch.testing.assert_close(torch.cov(flat_out), torch.cov(flat_ref), atol=1e-5, rtol=2e-2)
    clamped = color.match_histogram(source * 4, reference)
    assert float(clamped.min()) >= 0 and float(clamped.max()) <= 1
