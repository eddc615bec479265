"""Ray recipe over ``restyle-augment``: one Ray task per shard
(``restyle-augment run --shard I/N``), then one ``merge``.

    pip install ray
    python ray_shards_augment.py ../shared/data/coco128 /tmp/styled-shards \\
        --augment target/release/restyle-augment --shards 2 -- \\
        --random-style --size 384 --seed 1 --weights-dir ../shared/weights

restyle-augment plans every output from the seed and each image's path, so
the merged result is the same as one process's run over the whole data set
(labels, manifest and report included) however the shards are scheduled.
The output folder must be on a file system every node sees. Each shard runs
single-threaded (``RAYON_NUM_THREADS=1``): one shard per core. Prints
images/s at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import ray


@ray.remote(num_cpus=1)
def run_shard(augment: str, index: int, count: int, input_dir: str, output_dir: str, extra: list) -> float:
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    start = time.perf_counter()
    cmd = [augment, "run", input_dir, output_dir, "--shard", f"{index}/{count}", "--quiet", *extra]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"shard {index}/{count} failed ({r.returncode}): {r.stderr.strip()}")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--augment", default="restyle-augment", help="the restyle-augment binary")
    ap.add_argument("--shards", type=int, default=os.cpu_count())
    # Everything after "--" goes to restyle-augment run.
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args, extra = ap.parse_args(argv[:cut]), argv[cut + 1:]
    augment = str(Path(args.augment).resolve()) if os.sep in args.augment else args.augment

    ray.init(num_cpus=args.shards, include_dashboard=False, log_to_driver=False)
    start = time.perf_counter()
    per_shard = ray.get([run_shard.remote(augment, i, args.shards, args.input, args.output, extra) for i in range(args.shards)])
    subprocess.run([augment, "merge", args.output], check=True, capture_output=True)
    wall = time.perf_counter() - start
    ray.shutdown()

    with open(Path(args.output) / "augment-manifest.jsonl") as f:
        stylized = sum(1 for line in f if json.loads(line).get("style") is not None)
    print(f"ray shards: {stylized} images stylized in {wall:.1f} s with {args.shards} shards: "
          f"{stylized / wall:.2f} images/s (shards took {', '.join(f'{s:.1f}' for s in per_shard)} s)")


if __name__ == "__main__":
    main()
