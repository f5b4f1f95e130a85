"""A finished DIP warm-up is taken over by the next run on the same start image, size, seed and
options in the process: no fitting again, the facts say "reused", and the result is the one a
fresh warm-up gives."""
import dataclasses

import numpy as np

from nst_core.engine.schedule import stylize_final
from nst_core.params import warm_cache
from nst_core.settings import Settings

DIP = Settings(size=32, steps=2, preview_every=0, param="dip", optimizer="adam", seed=3,
               multiscale=False, param_options={"warmup_steps": 8})


def test_a_second_run_reuses_the_warm_up_and_gives_the_same_image(content_path, style_path):
    first = stylize_final(content_path, style_path, DIP)
    assert first.run.warmup.steps == 8 and not first.run.warmup.reused
    second = stylize_final(content_path, style_path, DIP)
    assert second.run.warmup.reused and second.run.warmup.steps == 8
    assert second.run.warmup.seconds < first.run.warmup.seconds
    assert second.info["warmup_reused"] is True
    assert np.array_equal(np.asarray(first.image), np.asarray(second.image))
    warm_cache.clear()
    third = stylize_final(content_path, style_path, DIP)
    assert not third.run.warmup.reused
    assert np.array_equal(np.asarray(first.image), np.asarray(third.image))


def test_another_seed_or_size_warms_up_afresh(content_path, style_path):
    stylize_final(content_path, style_path, DIP)
    for change in ({"seed": 4}, {"size": 40}):
        other = stylize_final(content_path, style_path, dataclasses.replace(DIP, **change))
        assert not other.run.warmup.reused, change
