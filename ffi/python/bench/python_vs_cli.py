"""The cost of calling restyle from Python instead of the CLI, on the same
images (issue 17: overhead per call <= 5 %).

    python python_vs_cli.py --cli target/release/restyle --images ../shared/data/coco128/images/train2017 -n 8

Two comparisons, each in alternating rounds so both sides see the same load:

1. The network call: ``restyle bench fast --sizes S`` (the CLI binary's own
   timing of the embedded fast network on an S×S image, median of --reps)
   against ``Stylizer("fast")(array)`` on an S×S×3 uint8 array (median of
   --reps), which also converts the array in and out and runs core's
   pre- and post-processing: an upper bound on what Python adds.
2. File to file: ``restyle stylize IMG -o out.png`` (one process per image,
   as a shell loop would run it) against one Python process that calls
   ``restyle.stylize(path)`` and writes the PNG with Pillow, per image.

Both sides run with CANDLE_NUM_THREADS=1 (what the package sets).
"""

import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("CANDLE_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import restyle  # noqa: E402


def cli_network(cli, size, reps):
    out = subprocess.run([cli, "bench", "fast", "--no-peer", "--sizes", str(size), "--reps", str(reps)],
                         capture_output=True, text=True, check=True).stdout
    # "fast 512 px: restyle 1.234 s (...)": seconds per image, median of the reps
    m = re.search(rf"fast {size} px: restyle (\d+(?:\.\d+)?) s", out)
    if m:
        return float(m.group(1))
    raise SystemExit(f"cannot read restyle bench fast output:\n{out}")


def python_network(stylizer, size, reps):
    a = (np.random.default_rng(0).random((size, size, 3)) * 255).astype(np.uint8)
    stylizer(a)  # warm-up (the first call loads the network)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        stylizer(a)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def cli_files(cli, images, out_dir):
    times = []
    for p in images:
        t = time.perf_counter()
        subprocess.run([cli, "stylize", str(p), "-o", str(out_dir / (p.stem + "-cli.png"))], check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return times


def python_files(images, out_dir):
    times = []
    for p in images:
        t = time.perf_counter()
        out = restyle.stylize(p)
        Image.fromarray(out).save(out_dir / (p.stem + "-py.png"))
        times.append(time.perf_counter() - t)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default="target/release/restyle")
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("-n", type=int, default=8, help="images for the file-to-file comparison")
    ap.add_argument("--sizes", type=int, nargs="+", default=[384, 512])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"restyle {restyle.__version__} from {restyle.__file__}; load average {os.getloadavg()[0]:.1f}")
    s = restyle.Stylizer("fast")
    for size in args.sizes:
        cli, py = [], []
        for _ in range(args.rounds):
            cli.append(cli_network(args.cli, size, args.reps))
            py.append(python_network(s, size, args.reps))
        c, p = statistics.median(cli), statistics.median(py)
        print(f"network {size}x{size}: CLI bench {c * 1000:.0f} ms, Python call {p * 1000:.0f} ms "
              f"(each round's median of {args.reps}: CLI {[round(x * 1000) for x in cli]}, Python {[round(x * 1000) for x in py]}): "
              f"Python/CLI = {p / c:.3f} (median round), {min(py) / min(cli):.3f} (fastest round)")
    images = sorted(args.images.glob("*.jpg"))[: args.n]
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        python_files(images[:1], d)  # load the network once, as a long-running Python process has
        cli, py = [], []
        for _ in range(args.rounds):
            cli += cli_files(args.cli, images, d)
            py += python_files(images, d)
        c, p = statistics.median(cli), statistics.median(py)
        print(f"file to file ({len(images)} coco128 images x {args.rounds} rounds): CLI process per image {c * 1000:.0f} ms, "
              f"Python call + PNG write {p * 1000:.0f} ms (medians): Python/CLI = {p / c:.3f}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
