"""nst_core.web.limits: what one server accepts, from NST_* environment variables."""
from __future__ import annotations

import dataclasses

import pytest

from nst_core.settings import Settings
from nst_core.web.limits import Limits


def test_limits_from_env_defaults_and_overrides():
    assert Limits.from_env({}) == Limits()
    limits = Limits.from_env({"NST_MAX_STEPS": "50", "NST_MAX_SIZE": "128",
                              "NST_CONCURRENCY": "2", "NST_MAX_QUEUE": "3",
                              "NST_MAX_UPLOAD": "5mb", "NST_DEFAULT_SIZE": "512"})
    assert (limits.max_steps, limits.max_size, limits.concurrency, limits.max_queue) == \
        (50, 128, 2, 3)
    assert limits.max_upload_bytes == 5 * 1024 ** 2
    assert limits.default_size == 128 and limits.default_steps == 50  # capped by the limits


@pytest.mark.parametrize("env, message", [
    ({"NST_MAX_STEPS": "many"}, "NST_MAX_STEPS must be a whole number"),
    ({"NST_MAX_STEPS": "0"}, "NST_MAX_STEPS must be >= 1"),
    ({"NST_MAX_UPLOAD": "big"}, "NST_MAX_UPLOAD must look like"),
    ({"NST_MAX_SIZE": "100000"}, "NST_MAX_SIZE must be <="),
])
def test_limits_from_env_rejects_bad_values(env, message):
    with pytest.raises(ValueError, match=message):
        Limits.from_env(env)


def test_check_names_the_limit_a_job_is_over():
    limits = Limits(max_steps=500, max_size=256)
    limits.check(dataclasses.replace(Settings(), steps=500, size=256))
    with pytest.raises(ValueError, match="501 steps is over this server's limit of 500"):
        limits.check(dataclasses.replace(Settings(), steps=501, size=32))
    with pytest.raises(ValueError, match="size 300 px is over this server's limit of 256"):
        limits.check(dataclasses.replace(Settings(), steps=5, size=300))
    assert limits.caps()["size"] == 256 and limits.caps()["steps"] == 500


def test_style_limit_and_disk_budget():
    limits = Limits(max_styles=2)
    limits.check(Settings(), n_styles=2)
    with pytest.raises(ValueError) as exc:
        limits.check(Settings(), n_styles=3)
    assert str(exc.value) == "3 style images is over this server's limit of 2 (NST_MAX_STYLES)"
    assert Limits.from_env({"NST_MAX_DISK_MB": "64"}).max_disk_mb == 64
    with pytest.raises(ValueError, match="NST_MAX_DISK_MB must be >= 1"):
        Limits.from_env({"NST_MAX_DISK_MB": "0"})
