#!/usr/bin/env bash
# The Python package (issue 17, ffi/python): builds the wheel with maturin,
# installs it into a fresh virtual environment and runs its pytest suite
# there, against the installed wheel (not the source tree).
#
# The wheel is built in the dev profile on purpose: `cargo test --workspace`
# has just built every dependency in target/debug at opt-level 3, so only
# pyo3, numpy (the crate) and the extension itself compile here; a release
# build would compile the whole dependency tree again.
#
# maturin (a build tool) lives in .venv-python, ignored by git; numpy,
# pytest, Pillow and albumentations 2.0.8 (MIT, no torch: ~15 s to install)
# come from pip's configured index into the test environment.
# Called by .ci/run; RESTYLE_CI_PYTHON=0 skips it there.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
python=${PYTHON:-python3}
tools=.venv-python
if [[ ! -x "$tools/bin/maturin" ]]; then
    "$python" -m venv "$tools"
    "$tools/bin/pip" install -q maturin
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# pyo3-ffi, pyo3, numpy and the extension compile again here (maturin
# configures pyo3 differently from cargo test's build); nothing else does.
"$tools/bin/maturin" build -q -m ffi/python/Cargo.toml --profile dev -o "$work/wheels"
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$work"/wheels/restyle-*.whl pytest pillow "albumentations==2.0.8"
echo "python: wheel built and installed in $((SECONDS - start)) s"
# From the tests' folder: `import restyle` finds the installed package only.
# test_torchvision.py needs torch: .ci/torch.sh runs it.
(cd ffi/python/tests && "$work/venv/bin/python" -m pytest -q -p no:cacheprovider --ignore=test_torchvision.py)
echo "python: stage took $((SECONDS - start)) s"
