import os
from pathlib import Path

import pytest


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def weights_dir():
    """The real weights (RESTYLE_WEIGHTS_DIR, else ../shared/weights beside
    the repository); skips without them unless RESTYLE_REQUIRE_REAL_WEIGHTS=1."""
    candidates = [p for p in os.environ.get("RESTYLE_WEIGHTS_DIR", "").split(os.pathsep) if p]
    candidates.append(str(_repo_root().parent / "shared" / "weights"))
    for c in candidates:
        if (Path(c) / "magenta-arbitrary-predict-int8.onnx").is_file():
            return c
    if os.environ.get("RESTYLE_REQUIRE_REAL_WEIGHTS") == "1":
        pytest.fail(f"no real weights in {candidates} and RESTYLE_REQUIRE_REAL_WEIGHTS=1")
    pytest.skip("no real weights (set RESTYLE_WEIGHTS_DIR)")


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def isolated_cache(cache_root, monkeypatch):
    """No test reads the user's cache or downloads: a cache folder of the
    test session's own, offline, and RESTYLE_WEIGHTS_DIR unset (tests pass
    weights_dir)."""
    cache = cache_root
    monkeypatch.setenv("RESTYLE_CACHE_DIR", str(cache))
    monkeypatch.setenv("RESTYLE_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(cache / "hf"))
    monkeypatch.delenv("RESTYLE_WEIGHTS_DIR", raising=False)


@pytest.fixture(scope="session")
def coco128():
    """The coco128 data set beside the repository (../shared/data/coco128):
    images/train2017/*.jpg with YOLO labels in labels/train2017/*.txt.
    Skips without it unless RESTYLE_REQUIRE_REAL_WEIGHTS=1."""
    root = _repo_root().parent / "shared" / "data" / "coco128"
    if (root / "images" / "train2017").is_dir():
        return root
    if os.environ.get("RESTYLE_REQUIRE_REAL_WEIGHTS") == "1":
        pytest.fail(f"no coco128 at {root} and RESTYLE_REQUIRE_REAL_WEIGHTS=1")
    pytest.skip(f"no coco128 at {root}")
