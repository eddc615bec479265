#!/usr/bin/env bash
# The torchvision stage of the Python package (issue 17): the wheel built
# from ffi/python (as in .ci/python.sh), installed into a cached virtual
# environment that holds torch and torchvision, and the tests of
# restyle.torchvision run there.
#
# torch is large: the default wheel on the package index pulls its CUDA
# libraries (gigabytes). The environment is therefore built once and kept
# under /var/cache/restyle-ci (like the GIMP chroot of .ci/plugins.sh),
# rebuilt only when the pinned versions below change. Where pip can reach
# PyTorch's CPU-only wheel index, give its URL in RESTYLE_TORCH_INDEX_URL
# and the much smaller CPU build is installed instead.
#
# Called by .ci/run; RESTYLE_CI_TORCH=0 skips it there.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
python=${PYTHON:-python3}
# torchvision pins the torch release it was built for.
torch_pins="torchvision==0.29.2"
other="numpy pytest"
pins="$torch_pins $other"
cache=${RESTYLE_CI_CACHE:-/var/cache/restyle-ci}
env_dir=$cache/torch-env
stamp="$pins index=${RESTYLE_TORCH_INDEX_URL:-default} python=$("$python" -c 'import sys; print(sys.version.split()[0])')"

if [[ ! -f "$env_dir/restyle-stamp" || "$(cat "$env_dir/restyle-stamp")" != "$stamp" ]]; then
    echo "torch: building the cached environment in $env_dir ($stamp)"
    mkdir -p "$cache"
    # Built beside the old one and swapped in whole: an interrupted build
    # never leaves a half-installed environment that looks finished.
    rm -rf "$env_dir.new"
    "$python" -m venv "$env_dir.new"
    # Through python -m pip: the environment moves after this, which breaks
    # the paths written into its bin/ scripts but not python itself.
    pip=("$env_dir.new/bin/python" -m pip install -q --no-cache-dir)
    if [[ -n "${RESTYLE_TORCH_INDEX_URL:-}" ]]; then
        "${pip[@]}" --index-url "$RESTYLE_TORCH_INDEX_URL" $torch_pins
    fi
    "${pip[@]}" $torch_pins $other
    echo "$stamp" >"$env_dir.new/restyle-stamp"
    rm -rf "$env_dir"
    mv "$env_dir.new" "$env_dir"
    echo "torch: environment built in $((SECONDS - start)) s ($(du -sh "$env_dir" | cut -f1))"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tools=.venv-python
if [[ ! -x "$tools/bin/maturin" ]]; then
    "$python" -m venv "$tools"
    "$tools/bin/pip" install -q maturin
fi
# The same dev-profile build as .ci/python.sh: after it, nothing recompiles.
"$tools/bin/maturin" build -q -m ffi/python/Cargo.toml --profile dev -o "$work/wheels"
"$env_dir/bin/python" -m pip install -q --no-deps --force-reinstall "$work"/wheels/restyle-*.whl
echo "torch: wheel built and installed in $((SECONDS - start)) s"
(cd ffi/python/tests && "$env_dir/bin/python" -m pytest -q -p no:cacheprovider test_torchvision.py)
echo "torch: stage took $((SECONDS - start)) s"
