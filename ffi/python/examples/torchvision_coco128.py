"""torchvision: style augmentation of coco128 (images with their boxes) in a
DataLoader with two workers; writes a contact sheet of the first images
with their boxes drawn, to show the boxes still fit the stylized pictures.

    python torchvision_coco128.py ../shared/data/coco128 --weights-dir ../shared/weights -o sheet.png
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.utils import draw_bounding_boxes, make_grid

from restyle.torchvision import StyleAugment


class Coco128(Dataset):
    """coco128's images with the boxes of their YOLO labels (pixel XYXY)."""

    def __init__(self, root, transform):
        self.images = sorted(Path(root, "images", "train2017").glob("*.jpg"))
        self.labels = Path(root, "labels", "train2017")
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        with Image.open(self.images[i]) as im:
            img = torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1)
        h, w = img.shape[-2:]
        label = self.labels / (self.images[i].stem + ".txt")
        rows = np.loadtxt(label, ndmin=2) if label.is_file() and label.stat().st_size else np.zeros((0, 5))
        c, cx, cy, bw, bh = rows.T
        boxes = np.stack([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h], 1)
        return self.transform({
            "image": tv_tensors.Image(img),
            "boxes": tv_tensors.BoundingBoxes(torch.tensor(boxes, dtype=torch.float32), format="XYXY", canvas_size=(h, w)),
            "labels": torch.tensor(c, dtype=torch.int64),
        })


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--weights-dir")
    ap.add_argument("-n", type=int, default=8, help="images on the sheet")
    ap.add_argument("-o", "--output", default="coco128-styled.png")
    args = ap.parse_args()

    aug = v2.Compose([
        v2.RandomHorizontalFlip(),
        v2.Resize(256),  # short side 256: a small sheet
        StyleAugment(styles=["random"], strength=(0.5, 1.0), method="arbitrary",
                     size=384, weights_dir=args.weights_dir, p=0.8),
    ])
    torch.manual_seed(0)
    loader = DataLoader(Coco128(args.root, aug), batch_size=None, num_workers=2)
    tiles = []
    for k, s in enumerate(loader):
        if k == args.n:
            break
        tiles.append(draw_bounding_boxes(s["image"], s["boxes"], colors="yellow", width=2))
    side = max(max(t.shape[-2:]) for t in tiles)
    tiles = [v2.functional.pad(t, [0, 0, side - t.shape[-1], side - t.shape[-2]]) for t in tiles]
    sheet = make_grid(tiles, nrow=4, padding=4)
    Image.fromarray(sheet.permute(1, 2, 0).numpy()).save(args.output)
    print(f"wrote {args.output} ({len(tiles)} images)")


if __name__ == "__main__":
    main()
