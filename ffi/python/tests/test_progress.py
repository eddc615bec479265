"""Progress callbacks and cancelling from Python: a callback that returns
False or raises, and Ctrl-C (SIGINT) during a long optimisation."""

import os
import signal
import subprocess
import sys
import time

import pytest

import restyle

from test_restyle import rgb8


def test_progress_reports_each_stage_of_a_call():
    seen = []
    out = restyle.stylize(rgb8(), progress=lambda stage, step, total: seen.append((stage, step, total)))
    assert out.shape == rgb8().shape
    assert len(seen) >= 2 and all(isinstance(s, str) and 0 <= k <= t for s, k, t in seen), seen
    assert seen[-1][1] == seen[-1][2], seen  # the last report is the finished stage


def test_returning_false_cancels():
    with pytest.raises(restyle.CancelledError):
        restyle.stylize(rgb8(), progress=lambda *a: False)
    # None and True continue
    assert restyle.stylize(rgb8(), progress=lambda *a: True).shape == rgb8().shape


def test_an_exception_in_the_callback_cancels_and_is_raised():
    class Stop(Exception):
        pass

    def boom(stage, step, total):
        raise Stop(f"stop at {stage} {step}/{total}")

    with pytest.raises(Stop, match="stop at"):
        restyle.stylize(rgb8(), progress=boom)
    # the engine is still usable
    assert restyle.stylize(rgb8()).shape == rgb8().shape


def test_ctrl_c_interrupts_a_long_optimisation(weights_dir, tmp_path):
    """SIGINT to a process in a gatys run with a 300 s budget: KeyboardInterrupt
    within a few seconds, not when the budget runs out."""
    code = (
        "import signal, sys, time, numpy as np, restyle\n"
        # A launcher that ignores SIGINT (`nohup cmd &` in a script) passes
        # that on, and Python then never raises KeyboardInterrupt.
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from test_restyle import painting\n"
        "img = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)\n"
        "steps = []\n"
        "def progress(stage, step, total):\n"
        "    steps.append(step)\n"
        "    if len(steps) == 2: print('running', flush=True)\n"
        "t = time.perf_counter()\n"
        "try:\n"
        "    restyle.stylize(img, style=painting(), method='gatys', iterations=100000, max_seconds=300,\n"
        "                    size=64, weights_dir=sys.argv[2], progress=progress)\n"
        "    print('finished', flush=True)\n"
        "except KeyboardInterrupt:\n"
        "    print(f'interrupted {time.perf_counter() - t:.1f} {len(steps)}', flush=True)\n"
    )
    here = os.path.dirname(os.path.abspath(__file__))
    p = subprocess.Popen([sys.executable, "-c", code, here, weights_dir], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=dict(os.environ, RESTYLE_OFFLINE="1"))
    try:
        assert p.stdout.readline().strip() == "running", p.stderr.read()
        sent = time.perf_counter()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
        waited = time.perf_counter() - sent
    finally:
        if p.poll() is None:
            p.kill()
    assert out.startswith("interrupted"), (out, err)
    assert p.returncode == 0
    assert waited < 30, f"took {waited:.1f} s to stop after Ctrl-C"
