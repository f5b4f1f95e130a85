"""A finished warm-up (DIP's generator, the CPPN) is taken over by the next run on the same
start image, size, seed and options in the process: no fitting again, the facts say "reused",
and the result is the one a fresh warm-up gives."""
import dataclasses

import numpy as np
import pytest

from nst_core.engine.schedule import stylize_final
from nst_core.params import warm_cache
from nst_core.settings import Settings

DIP = Settings(size=32, steps=2, preview_every=0, param="dip", optimizer="adam", seed=3,
               multiscale=False, param_options={"warmup_steps": 8})


WARMING = [DIP, dataclasses.replace(DIP, param="cppn")]


@pytest.mark.parametrize("settings", WARMING, ids=lambda s: s.param)
def test_a_second_run_reuses_the_warm_up_and_gives_the_same_image(content_path, style_path,
                                                                  settings):
    first = stylize_final(content_path, style_path, settings)
    assert first.run.warmup.steps == 8 and not first.run.warmup.reused
    second = stylize_final(content_path, style_path, settings)
    assert second.run.warmup.reused and second.run.warmup.steps == 8
    assert second.run.warmup.seconds < first.run.warmup.seconds
    assert second.info["warmup_reused"] is True
    assert np.array_equal(np.asarray(first.image), np.asarray(second.image))
    warm_cache.clear()
    third = stylize_final(content_path, style_path, settings)
    assert not third.run.warmup.reused
    assert np.array_equal(np.asarray(first.image), np.asarray(third.image))


@pytest.mark.parametrize("settings", WARMING, ids=lambda s: s.param)
def test_another_seed_or_size_warms_up_afresh(content_path, style_path, settings):
    stylize_final(content_path, style_path, settings)
    for change in ({"seed": 4}, {"size": 40}):
        other = stylize_final(content_path, style_path, dataclasses.replace(settings, **change))
        assert not other.run.warmup.reused, change
