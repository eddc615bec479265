"""restyle.torchvision.StyleAugment in real torchvision v2 pipelines and
DataLoaders, on coco128 images and boxes (run by .ci/torch.sh, in an
environment that has torch and torchvision)."""

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from torch.utils.data import DataLoader, Dataset, get_worker_info  # noqa: E402
from torchvision import tv_tensors  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

import restyle  # noqa: E402
from restyle.torchvision import StyleAugment  # noqa: E402

SIZE = 128  # working size: small, the result keeps the image's size


def read_rgb(path):
    """A JPEG as a uint8 C×H×W tensor (Pillow: torchvision's own decoders are deprecated)."""
    with Image.open(path) as im:
        return torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1).contiguous()


def coco_sample(root, stem="000000000009", side=160):
    """A coco128 image (resized so its longest side is `side`) with its YOLO
    boxes as pixel XYXY BoundingBoxes, a mask per box, and the class labels."""
    img = read_rgb(root / "images" / "train2017" / f"{stem}.jpg")
    h, w = img.shape[-2:]
    img = v2.functional.resize(img, [round(h * side / max(h, w)), round(w * side / max(h, w))], antialias=True)
    h, w = img.shape[-2:]
    rows = np.loadtxt(root / "labels" / "train2017" / f"{stem}.txt", ndmin=2)
    cls, cx, cy, bw, bh = rows.T
    xyxy = np.stack([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h], 1)
    boxes = tv_tensors.BoundingBoxes(torch.tensor(xyxy, dtype=torch.float32), format="XYXY", canvas_size=(h, w))
    masks = torch.zeros((len(rows), h, w), dtype=torch.uint8)
    for i, (x0, y0, x1, y1) in enumerate(xyxy.round().astype(int)):
        masks[i, max(y0, 0):y1, max(x0, 0):x1] = 1
    return {
        "image": tv_tensors.Image(img),
        "boxes": boxes,
        "masks": tv_tensors.Mask(masks),
        "labels": torch.tensor(cls, dtype=torch.int64),
    }


def test_compose_on_image_boxes_masks_labels(coco128):
    d = coco_sample(coco128)
    flip = v2.Compose([v2.RandomHorizontalFlip(p=1)])
    both = v2.Compose([v2.RandomHorizontalFlip(p=1), StyleAugment(size=SIZE, p=1)])
    a, b = flip(d), both(d)
    for k in ("boxes", "masks", "labels"):
        assert type(b[k]) is type(a[k]) and torch.equal(b[k], a[k]), k
    assert b["boxes"].canvas_size == a["boxes"].canvas_size and b["boxes"].format == a["boxes"].format
    assert isinstance(b["image"], tv_tensors.Image)
    assert b["image"].shape == a["image"].shape and b["image"].dtype == torch.uint8
    assert (b["image"].int() - a["image"].int()).abs().float().mean() > 10
    # the input sample is not modified
    assert torch.equal(d["image"], coco_sample(coco128)["image"])


def test_p_zero_returns_the_input_unchanged(coco128):
    d = coco_sample(coco128)
    out = StyleAugment(p=0)(d)
    assert torch.equal(out["image"], d["image"]) and torch.equal(out["boxes"], d["boxes"])


def test_plain_tensors_uint8_and_float_and_the_same_as_numpy(coco128):
    img = coco_sample(coco128)["image"].as_subclass(torch.Tensor)
    aug = StyleAugment(strength=1.0, size=SIZE, p=1)
    out = aug(img)
    assert type(out) is torch.Tensor and out.shape == img.shape and out.dtype == torch.uint8
    # what restyle.stylize gives for the same H×W×C array
    ref = restyle.stylize(img.permute(1, 2, 0).numpy(), size=SIZE)
    assert np.array_equal(out.permute(1, 2, 0).numpy(), ref)
    f = img.float() / 255
    for dtype in (torch.float32, torch.float64):
        o = aug(f.to(dtype))
        assert o.dtype == dtype and o.shape == f.shape and 0 <= o.min() and o.max() <= 1
        assert (o.float() * 255 - out.float()).abs().mean() < 2
    gray = aug(img[:1])
    assert gray.shape == (1, *img.shape[1:])


def test_a_batch_draws_per_image(coco128):
    img = coco_sample(coco128)["image"].as_subclass(torch.Tensor)
    batch = img.unsqueeze(0).repeat(6, 1, 1, 1)
    torch.manual_seed(0)
    out = StyleAugment(strength=(0.1, 1.0), size=SIZE, p=1)(batch)
    assert out.shape == batch.shape and out.dtype == torch.uint8
    diffs = [(out[i].int() - img.int()).abs().float().mean().item() for i in range(6)]
    assert len({round(x, 3) for x in diffs}) == 6, diffs  # six strengths
    torch.manual_seed(1)
    half = StyleAugment(size=SIZE, p=0.5)(batch)
    same = [torch.equal(half[i], img) for i in range(6)]
    assert any(same) and not all(same), same
    nested = StyleAugment(size=SIZE, p=1)(batch.reshape(2, 3, *img.shape))
    assert nested.shape == (2, 3, *img.shape)


def test_bad_arguments_and_inputs_are_refused(coco128):
    with pytest.raises(restyle.InvalidInputError):
        StyleAugment(strength=(0.8, 0.2))
    with pytest.raises(restyle.InvalidInputError):
        StyleAugment(p=1.5)
    with pytest.raises(restyle.InvalidInputError):
        StyleAugment(styles=[])
    with pytest.raises(restyle.InvalidInputError, match="C = 1, 3 or 4"):
        StyleAugment(p=1)(torch.zeros(2, 16, 16, dtype=torch.uint8))
    with pytest.raises(restyle.InvalidInputError, match="uint8 or float"):
        StyleAugment(p=1)(torch.zeros(3, 16, 16, dtype=torch.int32))


class Coco(Dataset):
    """The same coco128 sample at every index, with the id of the worker
    that produced it: any difference between items is the transform's draw."""

    def __init__(self, root, transform, n=4):
        self.sample = coco_sample(root)
        self.transform = transform
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        out = self.transform(dict(self.sample))
        info = get_worker_info()
        out["worker"] = -1 if info is None else info.id
        return out


def epoch(root, weights_dir, seed, workers=2):
    torch.manual_seed(seed)
    aug = StyleAugment(styles=["random"], strength=1.0, method="arbitrary", size=SIZE, weights_dir=weights_dir, p=1)
    loader = DataLoader(Coco(root, aug), batch_size=None, num_workers=workers, shuffle=False)
    return list(loader)


def test_a_dataloader_with_two_workers(coco128, weights_dir):
    items = epoch(coco128, weights_dir, seed=0)
    assert sorted(x["worker"] for x in items) == [0, 0, 1, 1]
    ref = coco_sample(coco128)
    for x in items:
        assert torch.equal(x["boxes"], ref["boxes"]) and torch.equal(x["masks"], ref["masks"])
        assert torch.equal(x["labels"], ref["labels"])
        assert x["image"].shape == ref["image"].shape
    by = {w: [x["image"] for x in items if x["worker"] == w] for w in (0, 1)}
    # each worker draws its own styles: the k-th draw of worker 0 is not the k-th of worker 1
    for k in range(2):
        assert (by[0][k].int() - by[1][k].int()).abs().float().mean() > 2
    # and the same torch seed reproduces the epoch, another seed does not
    again = epoch(coco128, weights_dir, seed=0)
    assert all(torch.equal(a["image"], b["image"]) for a, b in zip(items, again))
    other = epoch(coco128, weights_dir, seed=1)
    assert not any(torch.equal(a["image"], b["image"]) for a, b in zip(items, other))


def test_pickles_by_configuration(coco128, weights_dir):
    aug = StyleAugment(styles=["random", 3], size=SIZE, weights_dir=weights_dir, p=0.7)
    copy = pickle.loads(pickle.dumps(aug))
    assert (copy.styles, copy.p, copy.size) == (["random", 3], 0.7, SIZE)
    d = coco_sample(coco128)
    torch.manual_seed(5)
    a = aug(d)["image"]
    torch.manual_seed(5)
    assert torch.equal(copy(d)["image"], a)
