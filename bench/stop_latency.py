"""How long Stop takes to end a running job mid-step (the app's stop token, nst_studio.web.jobs).

    python bench/stop_latency.py [SIZE ...]

For each size: run L-BFGS on pixels (astronaut x The Starry Night), time one step, ask the job
to stop halfway through the next one, and print the step time and how long the job took to end.
"""
from __future__ import annotations

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nst_studio.web import forms, inputs, streams  # noqa: E402
from nst_studio.web.jobs import JOBS  # noqa: E402
from nst_studio.web.limits import Limits  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(sizes: list[int]) -> None:
    limits = Limits(max_size=max(sizes))
    read = inputs.load_inputs(os.path.join(ROOT, "examples", "astronaut.png"),
                              [os.path.join(ROOT, "examples", "starry_night.jpg")])
    for size in sizes:
        values = forms.default_values(limits)
        values.update(size=size, steps=50, multiscale=False)  # one level: the step is at SIZE
        settings = forms.settings_from_form(values, limits=limits)
        JOBS.stop_token("bench")
        updates = streams.stylize_updates(read, settings, stop_key="bench")
        next(updates)  # set-up and step 0
        start = time.perf_counter()
        next(updates)
        step = time.perf_counter() - start
        asked: list[float] = []

        def stop() -> None:
            asked.append(time.perf_counter())
            JOBS.request_stop("bench")

        timer = threading.Timer(step / 2, stop)
        timer.start()
        for _ in updates:
            pass
        latency = time.perf_counter() - asked[0]
        timer.join()
        print(f"{size} px: step {step:.2f} s, stop took {latency * 1000:.0f} ms "
              f"({JOBS.recent()[-1].state})")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [128, 256, 512])
