"""Ray Data recipe: style-augment a folder of images with ``ds.map_batches``
and the Python ``restyle.Stylizer``, one single-threaded worker per core.

    pip install "ray[data]" pillow restyle-*.whl
    python ray_data_augment.py ../shared/data/coco128/images/train2017 /tmp/styled \\
        --weights-dir ../shared/weights --size 384

Each image gets a random style vector (``style="random"``) drawn from a seed
made of ``--seed`` and the image's file name, so a rerun, or any split of the
work between workers, gives the same pictures. Results are written as JPEG (quality 95) for JPEG
sources, else PNG, into the output folder (the input folder is only read); each file is written
to a temporary name and renamed. Prints images/s at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import ray
from PIL import Image

import restyle

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"}


def image_seed(seed: int, name: str) -> int:
    """A 64-bit seed from the run's seed and the image's name."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{name}".encode()).digest()[:8], "little")


class StyleWorker:
    """One Ray actor: a Stylizer loaded once, one thread (one actor per core)."""

    def __init__(self, out_dir: str, weights_dir: str | None, size: int, strength: float, seed: int) -> None:
        self.stylizer = restyle.Stylizer("arbitrary", weights_dir=weights_dir, num_threads=1)
        self.out_dir = Path(out_dir)
        self.size, self.strength, self.seed = size, strength, seed

    def __call__(self, batch: dict) -> dict:
        seconds = []
        for path in batch["path"]:
            t = time.perf_counter()
            name = Path(path).name
            with Image.open(path) as im:
                img = np.asarray(im.convert("RGB"))
            out = self.stylizer(img, style="random", seed=image_seed(self.seed, name), size=self.size, strength=self.strength)
            # The source's format (JPEG at quality 95, as restyle-augment writes it), else PNG.
            jpeg = Path(name).suffix.lower() in (".jpg", ".jpeg")
            target = self.out_dir / (Path(name).stem + (".jpg" if jpeg else ".png"))
            fd, tmp = tempfile.mkstemp(dir=self.out_dir, prefix=".tmp-", suffix=target.suffix)
            try:
                with os.fdopen(fd, "wb") as f:
                    Image.fromarray(out).save(f, format="JPEG", quality=95) if jpeg else Image.fromarray(out).save(f, format="PNG")
                os.replace(tmp, target)
            except BaseException:
                os.unlink(tmp)
                raise
            seconds.append(time.perf_counter() - t)
        return {"path": batch["path"], "seconds": np.array(seconds)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("--weights-dir")
    ap.add_argument("--size", type=int, default=384, help="working size (longest side); results keep the input's size")
    ap.add_argument("--strength", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=os.cpu_count(), help="actors, one per core (default: every core)")
    ap.add_argument("--batch-size", type=int, default=4)
    args = ap.parse_args()

    paths = sorted(str(p) for p in args.input.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise SystemExit(f"no images in {args.input}")
    out = args.output.resolve()
    if out == args.input.resolve() or args.input.resolve() in out.parents:
        raise SystemExit("the output folder may not be inside the input folder")
    out.mkdir(parents=True, exist_ok=True)

    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    ds = ray.data.from_items([{"path": p} for p in paths])
    start = time.perf_counter()
    done = ds.map_batches(
        StyleWorker,
        fn_constructor_kwargs=dict(out_dir=str(out), weights_dir=args.weights_dir, size=args.size,
                                   strength=args.strength, seed=args.seed),
        batch_size=args.batch_size,
        num_cpus=1,
        compute=ray.data.ActorPoolStrategy(size=args.workers),
    ).take_all()
    wall = time.perf_counter() - start
    per_image = np.median([r["seconds"] for r in done])
    print(f"ray data: {len(done)} images in {wall:.1f} s with {args.workers} workers: "
          f"{len(done) / wall:.2f} images/s (median {per_image:.2f} s per image in a worker, first loads included)")
    ray.shutdown()


if __name__ == "__main__":
    main()
