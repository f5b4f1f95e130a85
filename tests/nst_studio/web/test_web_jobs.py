"""nst_studio.web.jobs: device locks, stop tokens and the job registry as one object, with their
cleanup; a stop interrupts the step in progress, of any network, and leaves no hook behind."""
from __future__ import annotations

import dataclasses
import threading
import time

import torch

from conftest import load_factor
from nst_core.settings import Settings
from nst_studio.web import forms, inputs, jobs
from nst_studio.web.jobs import JOBS, Jobs
from nst_studio.web.limits import Limits
from nst_studio.web.streams import stylize_updates

LIMITS = Limits(max_steps=500, max_size=256, default_size=32, default_steps=4)


def global_hooks() -> int:
    """Forward pre-hooks torch calls for every module (the stop hook is one while it runs)."""
    return len(torch.nn.modules.module._global_forward_pre_hooks)


def test_run_holds_the_device_lock_only_during_a_step():
    seen = []

    def steps():
        for i in range(3):
            seen.append(JOBS.device_lock("test-device").locked())
            yield i

    gen = JOBS.drive(steps(), "test-device", "stylize", 3)
    assert next(gen) == 0
    assert not JOBS.device_lock("test-device").locked()  # released while the consumer waits
    gen.close()
    assert seen == [True]
    assert JOBS.recent()[-1].state == "closed"


def test_run_makes_two_jobs_take_turns():
    active, overlaps = [0], [0]

    def steps():
        for _ in range(5):
            active[0] += 1
            overlaps[0] = max(overlaps[0], active[0])
            time.sleep(0.01)
            active[0] -= 1
            yield 0

    threads = [threading.Thread(target=lambda: list(JOBS.drive(steps(), "turns", "x", 5)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps[0] == 1


def test_stop_tokens_and_records_do_not_grow_without_bound():
    registry = Jobs()
    for i in range(jobs.MAX_TOKENS + 10):
        registry.stop_token(f"never-started-{i}")
    assert registry.pending_tokens() == jobs.MAX_TOKENS
    registry.stop_token("session:stylize")
    list(registry.drive((i for i in range(3)), "cpu", "stylize", 3, stop_key="session:stylize"))
    assert not registry.request_stop("session:stylize")  # dropped when its job ended
    for _ in range(jobs.MAX_RECORDS + 5):
        list(registry.drive((i for i in ()), "cpu", "stylize", 1))
    assert len(registry.recent()) == jobs.MAX_RECORDS
    assert registry.recent()[-1].state == "done"


def test_a_token_set_before_the_job_starts_stops_it_at_once():
    registry = Jobs()
    registry.stop_token("k")
    assert registry.request_stop("k")
    assert list(registry.drive((i for i in range(3)), "cpu", "stylize", 3, stop_key="k")) == []
    assert registry.recent()[-1].state == "stopped"


def test_every_job_gives_its_freed_memory_back_when_it_ends(monkeypatch):
    trims = []
    monkeypatch.setattr(jobs, "_TRIM", lambda pad: trims.append(pad))
    registry = Jobs()
    list(registry.drive((i for i in range(3)), "cpu", "stylize", 3))
    gen = registry.drive((i for i in range(3)), "cpu", "stylize", 3)
    next(gen)
    gen.close()
    assert trims == [0, 0]


def test_a_stopping_server_stops_every_job_and_each_new_one():
    registry = Jobs()
    registry.stop_token("a")
    running = registry.drive((i for i in range(5)), "cpu", "stylize", 5, stop_key="a")
    assert next(running) == 0
    registry.stop_all("shutdown")
    assert list(running) == [] and registry.recent()[-1].state == "shutdown"
    assert not registry.running()
    late = registry.stop_token("b")
    assert late.is_set() and late.reason == "shutdown"
    assert list(registry.drive((i for i in range(5)), "cpu", "stylize", 5, stop_key="b")) == []


def test_the_stop_hook_is_registered_only_while_a_stoppable_step_runs():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 1), torch.nn.ReLU(), torch.nn.Conv2d(3, 3, 1))
    seen = []

    def steps():
        for _ in range(2):
            seen.append(global_hooks())
            net(torch.zeros(1, 3, 4, 4))  # a network no job knows of: untouched by the hook
            yield 0

    registry = Jobs()
    before = global_hooks()
    with registry.stoppable():
        assert global_hooks() == before + 1
        with registry.stoppable():  # two jobs' steps share the hook
            assert global_hooks() == before + 1
        assert global_hooks() == before + 1
    assert global_hooks() == before
    registry.stop_token("k")
    list(registry.drive(steps(), "cpu", "stylize", 2, stop_key="k"))
    assert seen == [before + 1] * 2 and global_hooks() == before
    assert registry.recent()[-1].state == "done"
    # Without a stop key a job's steps run without the hook.
    list(registry.drive(steps(), "cpu", "stylize", 2))
    assert seen[-2:] == [before] * 2


def test_a_stop_interrupts_a_dip_warm_up_mid_step(content_path, style_path):
    """The warm-up of a large generator (seconds a step here) ends within a convolution of
    a stop, and the device is free at once; the stop reason says who asked."""
    settings = Settings(size=256, steps=10, param="dip", optimizer="adam", preview_every=0,
                        param_options={"warmup_steps": 10_000, "channels": 256})
    read = inputs.load_inputs(content_path, [style_path])
    token = JOBS.stop_token("test-session:warm")
    updates = stylize_updates(read, settings, stop_key="test-session:warm")
    timer = threading.Timer(3.0, lambda: token.stop("closed"))
    timer.start()
    start = time.perf_counter()
    assert list(updates) == []  # stopped inside the warm-up, before the step-0 record
    took = time.perf_counter() - start
    timer.join()
    job = JOBS.recent()[-1]
    # One convolution of the generator takes a fraction of a second, more on a busy machine.
    assert job.state == "closed" and job.step == 0 and 3.0 <= took < 3.0 + load_factor(), took
    assert not JOBS.device_lock(job.device).locked() and global_hooks() == 0


def test_a_stop_token_interrupts_the_step_in_progress(content_path, style_path):
    settings = forms.settings_from_form(dict(forms.default_values(LIMITS), size=64, steps=50,
                                             preview_every=10), limits=LIMITS)
    read = inputs.load_inputs(content_path, [style_path])
    JOBS.stop_token("test-session:stylize")
    updates = stylize_updates(read, settings, stop_key="test-session:stylize")
    assert next(updates).progress["step"] == 0  # set-up done
    t0 = time.perf_counter()
    assert next(updates).progress["step"] == 1
    step_seconds = time.perf_counter() - t0
    job = JOBS.recent()[-1]
    asked = []

    def stop_mid_step():
        asked.append(time.perf_counter())
        JOBS.request_stop("test-session:stylize")

    timer = threading.Timer(step_seconds / 3, stop_mid_step)
    timer.start()
    rest = list(updates)  # ends early: the token interrupts the step in progress
    latency = time.perf_counter() - asked[0]
    timer.join()
    assert job.state == "stopped" and job.step <= 2
    assert not any(u.done for u in rest)
    # A step took step_seconds; the stop took a fraction of one (one convolution's time).
    assert latency < max(0.5 * step_seconds, 0.05), (latency, step_seconds)
    assert not JOBS.device_lock(job.device).locked()
    # The stopped job left no hook behind, and its token is gone.
    assert global_hooks() == 0
    assert not JOBS.request_stop("test-session:stylize")
    # The next job on the same network, without a token, is untouched by the hooks.
    assert list(stylize_updates(read, dataclasses.replace(settings, steps=2)))[-1].done


def test_on_gpu_uses_spaces_where_installed(monkeypatch):
    import sys
    import types

    def job():
        yield 1

    monkeypatch.setitem(sys.modules, "spaces", None)  # import fails: not on a Space
    assert jobs.on_gpu(job, 60) is job
    calls = []
    fake = types.ModuleType("spaces")

    def gpu(duration):
        calls.append(duration)
        return lambda fn: ("wrapped", fn)

    fake.GPU = gpu
    monkeypatch.setitem(sys.modules, "spaces", fake)
    assert jobs.on_gpu(job, 60) == ("wrapped", job) and calls == [60]
