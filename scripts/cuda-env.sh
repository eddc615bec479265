# shellcheck shell=bash
# CUDA 13.0 toolkit from PyPI wheels, for building restyle with `--features cuda`.
#
#   source scripts/cuda-env.sh          # install on first use, then export the build environment
#   bash scripts/cuda-env.sh --print    # install, then print the exports (for `eval`)
#
# Why wheels: Debian has no CUDA toolkit; NVIDIA publishes nvcc, the headers and
# the libraries candle links against as `nvidia-*` wheels on PyPI.
#
# Why 13.0 exactly: candle-kernels ships its kernels as PTX that the driver
# JIT-compiles at run time, and a driver only accepts PTX from toolkits up to
# its own CUDA version. The GPU machines run driver 580 = CUDA 13.0, so PTX
# from nvcc 13.1+ would fail to load there. cudarc 0.19 (candle 0.11.1)
# supports 13.0 and reads the version from `nvcc --version`.
#
# What it sets up under $RESTYLE_CUDA_PREFIX (default: <repo>/target/cuda-toolkit):
#   venv/                      the wheels (about 1.2 GB; 2 GB with --cudnn)
#   root -> .../nvidia/cu13    CUDA_ROOT: bin/nvcc, include/, lib/ (+ unversioned .so links)
#   root/lib/stubs/libcuda.so  a link-time stub of the driver API (see below)
#
# Variables read: RESTYLE_CUDA_PREFIX, RESTYLE_CUDA_CUDNN=1 (also install cuDNN),
# CUDA_COMPUTE_CAP (default 90: H100/H200, so no GPU is needed at build time),
# PYTHON (default python3).

_restyle_cuda_main() {
    local repo prefix python cudnn
    repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    prefix="${RESTYLE_CUDA_PREFIX:-$repo/target/cuda-toolkit}"
    python="${PYTHON:-python3}"
    cudnn="${RESTYLE_CUDA_CUDNN:-0}"

    # One CUDA release, pinned: nvcc, crt, nvvm and cccl must agree; the
    # libraries are the ones that shipped with 13.0 (Update 2).
    local -a pkgs=(
        nvidia-cuda-nvcc==13.0.88
        nvidia-cuda-crt==13.0.88
        nvidia-nvvm==13.0.88
        nvidia-cuda-cccl==13.0.85
        nvidia-cuda-runtime==13.0.96
        nvidia-cuda-nvrtc==13.0.88
        nvidia-cublas==13.0.2.14
        nvidia-curand==10.4.0.35
    )
    # cudarc's `cudnn` feature binds the cuDNN 9.21 API.
    [[ "$cudnn" == 1 ]] && pkgs+=(nvidia-cudnn-cu13==9.21.1.3)

    local stamp="$prefix/installed.txt"
    if [[ ! -f "$stamp" ]] || [[ "$(cat "$stamp")" != "${pkgs[*]}" ]]; then
        echo "cuda-env: installing CUDA 13.0 wheels into $prefix" >&2
        mkdir -p "$prefix" || return 1
        if [[ ! -x "$prefix/venv/bin/pip" ]]; then
            "$python" -m venv "$prefix/venv" || { echo "cuda-env: '$python -m venv' failed (Debian: apt-get install python3-venv)" >&2; return 1; }
        fi
        "$prefix/venv/bin/pip" install --quiet --disable-pip-version-check "${pkgs[@]}" \
            || { echo "cuda-env: pip install of the CUDA wheels failed" >&2; return 1; }
        rm -f "$prefix/root"
    fi

    local site
    site="$("$prefix/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" || return 1
    local root="$site/nvidia/cu13"
    [[ -x "$root/bin/nvcc" ]] || { echo "cuda-env: no nvcc in $root/bin (wheel layout changed?)" >&2; return 1; }
    ln -sfn "$root" "$prefix/root"

    # Linkers look for `libX.so`; wheels ship only the sonames `libX.so.N`.
    local so base
    for so in "$root"/lib/lib*.so.*; do
        base="${so##*/}"; base="${base%%.so.*}.so"
        [[ -e "$root/lib/$base" ]] || ln -s "${so##*/}" "$root/lib/$base"
    done
    [[ -e "$root/lib64" ]] || ln -s lib "$root/lib64"
    if [[ "$cudnn" == 1 ]]; then
        for so in "$site"/nvidia/cudnn/lib/libcudnn*.so.*; do
            [[ -e "$so" ]] || continue
            base="${so##*/}"; base="${base%%.so.*}.so"
            [[ -e "$root/lib/$base" ]] || ln -s "$so" "$root/lib/$base"
        done
    fi

    # cudarc links `-lcuda` (the driver API), which comes with the NVIDIA
    # driver, not with any wheel. Like the toolkit's own lib/stubs/libcuda.so,
    # build a stub exporting every driver entry point declared in this
    # toolkit's cuda.h, with the driver's soname, so the binary records
    # `NEEDED libcuda.so.1` and the real driver is loaded at run time. The stub
    # is only ever on the link path, never on LD_LIBRARY_PATH. Every entry
    # returns CUDA_ERROR_STUB_LIBRARY (34), as NVIDIA's own stub does, so a
    # test that loads it on purpose sees a clean CUDA error.
    local stub="$root/lib/stubs/libcuda.so"
    if [[ ! -f "$stub" || "$root/include/cuda.h" -nt "$stub" || "${BASH_SOURCE[0]}" -nt "$stub" ]]; then
        mkdir -p "$root/lib/stubs" || return 1
        local cc="${CC:-cc}" tmp
        tmp="$(mktemp -d)" || return 1
        {
            grep -oE '\bcu[A-Z][A-Za-z0-9_]*[[:space:]]*\(' "$root/include/cuda.h"
            "$cc" -E -P -I "$root/include" "$root/include/cuda.h" | grep -oE '\bcu[A-Z][A-Za-z0-9_]*[[:space:]]*\('
        } | sed 's/[[:space:](]//g' | sort -u \
            | sed 's/.*/int &(void) { return 34; }/' > "$tmp/libcuda_stub.c"
        "$cc" -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$stub" "$tmp/libcuda_stub.c" \
            || { rm -rf "$tmp"; echo "cuda-env: building the libcuda stub failed" >&2; return 1; }
        rm -rf "$tmp"
    fi

    printf '%s\n' "${pkgs[*]}" > "$stamp"

    export CUDA_ROOT="$prefix/root"
    export CUDA_HOME="$CUDA_ROOT" CUDA_PATH="$CUDA_ROOT" CUDA_TOOLKIT_ROOT_DIR="$CUDA_ROOT"
    export NVCC="$CUDA_ROOT/bin/nvcc"
    export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
    case ":$PATH:" in *":$CUDA_ROOT/bin:"*) ;; *) export PATH="$CUDA_ROOT/bin:$PATH" ;; esac
    # For running what was built: cudart, cuBLAS, NVRTC, cuRAND (+ cuDNN).
    # libcuda.so.1 itself must come from the installed NVIDIA driver.
    export RESTYLE_CUDA_LIB_DIR="$CUDA_ROOT/lib"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    # Executed, not sourced.
    set -euo pipefail
    _restyle_cuda_main
    if [[ "${1:-}" == "--print" ]]; then
        for v in CUDA_ROOT CUDA_HOME CUDA_PATH CUDA_TOOLKIT_ROOT_DIR NVCC CUDA_COMPUTE_CAP PATH RESTYLE_CUDA_LIB_DIR; do
            printf 'export %s=%q\n' "$v" "${!v}"
        done
    fi
else
    _restyle_cuda_main
fi
