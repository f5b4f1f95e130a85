"""The Laplacian pyramid parameterization: collapse, coarse-first, options."""

import pytest
import torch

from nst_core.imaging import images
from nst_core.params import pyramid



@pytest.mark.parametrize("h, w", [(64, 64), (37, 53), (8, 300), (5, 5)])
def test_pyramid_collapses_back_to_its_image(h, w):
    image = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
    sizes = pyramid.band_sizes(h, w, pyramid.LEVELS)
    assert sizes[0] == (h, w) and len(sizes) <= pyramid.LEVELS
    assert all(min(s) >= pyramid.MIN_BAND_SIDE for s in sizes[1:])
    bands = pyramid.decompose(image, sizes)
    assert [tuple(b.shape[-2:]) for b in bands] == sizes
    torch.testing.assert_close(pyramid.collapse(bands), image, atol=1e-5, rtol=0)


def test_pyramid_starts_at_the_init_image_and_moves_coarse_first(content_path):
    content = images.to_tensor(images.resize(images.load_image(content_path), (48, 32)))
    params, image_fn = pyramid.make_pyramid((1, 3, 32, 48), content)
    torch.testing.assert_close(image_fn(), content.clamp(pyramid.EPS, 1 - pyramid.EPS),
                               atol=1e-5, rtol=0)
    assert len(params) == 3  # 48x32 -> 24x16 -> 12x8, the coarsest keeping 8 px
    # One coefficient of a coarser band moves a larger region: coarse structure moves first.
    footprints = []
    for band in params:
        with torch.no_grad():
            centre = (0, 0, band.shape[-2] // 2, band.shape[-1] // 2)
            before = image_fn().clone()
            band[centre] += 1.0
            footprints.append(int(((image_fn() - before).abs() > 1e-4).sum()))
            band[centre] -= 1.0
    assert footprints[0] < footprints[1] < footprints[2], footprints


@pytest.mark.parametrize("options, message", [({"levels": 0}, "levels must be"),
                                              ({"octaves": 2}, "unknown pyramid option")])
def test_pyramid_bad_options_are_value_errors(options, message):
    with pytest.raises(ValueError, match=message):
        pyramid.make_pyramid((1, 3, 32, 32), **options)
