"""One DataLoader epoch over coco128 with restyle.torchvision.StyleAugment:
images/s with 1 and 2 workers (issue 17's measurement).

    python dataloader_epoch.py ../shared/data/coco128 --weights-dir ../shared/weights --size 384 --workers 1 2

Each item is a coco128 image (decoded by Pillow) with its boxes and
labels; StyleAugment stylizes every image (p=1) with a random style vector
on the arbitrary network at --size, one thread per worker. The epoch's
wall time includes starting the workers and loading the networks in each;
the workers' CPU time per image (they are child processes) says what the
epoch costs independently of other load on the machine.
"""

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision import tv_tensors
from PIL import Image

import restyle
from restyle.torchvision import StyleAugment


def read_rgb(path):
    """A JPEG as a uint8 C×H×W tensor (Pillow: torchvision's own decoders are deprecated)."""
    with Image.open(path) as im:
        return torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1).contiguous()


class Coco128(Dataset):
    def __init__(self, root: Path, transform):
        self.images = sorted((root / "images" / "train2017").glob("*.jpg"))
        self.labels = root / "labels" / "train2017"
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        img = read_rgb(self.images[i])
        h, w = img.shape[-2:]
        p = self.labels / (self.images[i].stem + ".txt")
        rows = np.loadtxt(p, ndmin=2) if p.is_file() and p.stat().st_size else np.zeros((0, 5))
        cls, cx, cy, bw, bh = rows.T
        xyxy = np.stack([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h], 1)
        sample = {
            "image": tv_tensors.Image(img),
            "boxes": tv_tensors.BoundingBoxes(torch.tensor(xyxy, dtype=torch.float32), format="XYXY", canvas_size=(h, w)),
            "labels": torch.tensor(cls, dtype=torch.int64),
        }
        return self.transform(sample)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("--weights-dir")
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--limit", type=int, default=None, help="first N images only")
    args = ap.parse_args()
    aug = StyleAugment(styles=["random"], strength=1.0, method="arbitrary", size=args.size,
                       weights_dir=args.weights_dir, num_threads=1, p=1)
    ds = Coco128(args.root, aug)
    if args.limit:
        ds.images = ds.images[: args.limit]
    print(f"restyle {restyle.__version__} from {restyle.__file__}; torch {torch.__version__}; "
          f"{len(ds)} images; load average {os.getloadavg()[0]:.1f}")
    for n in args.workers:
        torch.manual_seed(0)
        loader = DataLoader(ds, batch_size=None, num_workers=n, shuffle=False)
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        count = sum(1 for _ in loader)
        wall = time.perf_counter() - start
        # The workers have exited and been joined: their CPU time is the children's.
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        print(f"workers={n}: {count} images in {wall:.1f} s: {count / wall:.2f} images/s; "
              f"workers' CPU {cpu / count * 1000:.0f} ms per image (load average after {os.getloadavg()[0]:.1f})", flush=True)


if __name__ == "__main__":
    main()
