"""restyle.albumentations.StyleAugment in real albumentations pipelines."""

import pickle

import numpy as np
import pytest

A = pytest.importorskip("albumentations")

from restyle.albumentations import StyleAugment  # noqa: E402

from test_restyle import painting  # noqa: E402


def sample(seed=0, h=64, w=80):
    rng = np.random.default_rng(seed)
    image = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    mask = (rng.random((h, w)) > 0.5).astype(np.uint8)
    bboxes = [[5, 6, 30, 40], [40, 10, 78, 60]]
    return {"image": image, "mask": mask, "bboxes": bboxes, "labels": [1, 2]}


def bbox_params():
    return A.BboxParams(format="pascal_voc", label_fields=["labels"])


def test_boxes_and_masks_are_those_of_the_flip_alone():
    d = sample()
    flip = A.Compose([A.HorizontalFlip(p=1)], bbox_params=bbox_params())(**d)
    both = A.Compose([A.HorizontalFlip(p=1), StyleAugment(p=1)], bbox_params=bbox_params())(**d)
    assert np.array_equal(both["mask"], flip["mask"])
    assert np.allclose(np.asarray(both["bboxes"]), np.asarray(flip["bboxes"]))
    assert list(both["labels"]) == list(flip["labels"])
    assert both["image"].shape == flip["image"].shape and both["image"].dtype == np.uint8
    assert not np.array_equal(both["image"], flip["image"])


def test_p_zero_returns_the_input_unchanged():
    d = sample()
    out = A.Compose([StyleAugment(p=0)])(**d)
    assert np.array_equal(out["image"], d["image"])


def test_a_fixed_seed_reproduces_and_another_differs():
    d = sample()

    def run(seed):
        return A.Compose([StyleAugment(strength=(0.2, 1.0), p=0.5)], seed=seed)(**d)["image"]

    runs = [[run(seed) for _ in range(2)] for seed in (1, 2, 3, 4)]
    for a, b in runs:
        assert np.array_equal(a, b)
    assert len({r[0].tobytes() for r in runs}) > 1


def test_styles_are_drawn_from_the_list(weights_dir):
    d = sample()
    styles = [painting(), painting()[::-1, :, ::-1].copy()]
    aug = A.Compose([StyleAugment(styles=styles, strength=1.0, weights_dir=weights_dir, p=1)], seed=0)
    outs = {aug(**d)["image"].tobytes() for _ in range(8)}
    assert len(outs) == 2


def test_the_transform_pickles():
    t = StyleAugment(strength=0.7, p=1)
    u = pickle.loads(pickle.dumps(t))
    d = sample()
    assert np.array_equal(A.Compose([u], seed=3)(**d)["image"], A.Compose([t], seed=3)(**d)["image"])


def test_coco128_boxes_and_masks_are_those_of_the_flip_alone(coco128):
    """A real coco128 image with its YOLO boxes and a mask drawn from them."""
    from PIL import Image

    stem = "000000000009"
    with Image.open(coco128 / "images" / "train2017" / f"{stem}.jpg") as im:
        image = np.asarray(im.convert("RGB"))
    rows = np.loadtxt(coco128 / "labels" / "train2017" / f"{stem}.txt", ndmin=2)
    h, w = image.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    for k, (_, cx, cy, bw, bh) in enumerate(rows):
        mask[int((cy - bh / 2) * h):int((cy + bh / 2) * h), int((cx - bw / 2) * w):int((cx + bw / 2) * w)] = k + 1
    d = {"image": image, "mask": mask, "bboxes": rows[:, 1:].tolist(), "labels": rows[:, 0].astype(int).tolist()}
    params = A.BboxParams(format="yolo", label_fields=["labels"])
    flip = A.Compose([A.HorizontalFlip(p=1)], bbox_params=params)(**d)
    both = A.Compose([A.HorizontalFlip(p=1), StyleAugment(size=128, p=1)], bbox_params=params)(**d)
    assert np.array_equal(both["mask"], flip["mask"])
    assert np.allclose(np.asarray(both["bboxes"]), np.asarray(flip["bboxes"]))
    assert list(both["labels"]) == list(flip["labels"]) and len(flip["labels"]) == len(rows)
    assert both["image"].shape == image.shape
    assert np.abs(both["image"].astype(int) - flip["image"].astype(int)).mean() > 10
