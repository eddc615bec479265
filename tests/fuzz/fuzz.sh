#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), niced, and keeps the
# input of a run that died (abort, e.g. a failed allocation) in crashes/.
# Usage: tests/fuzz/fuzz.sh [SECONDS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-60}"; shift || true
targets=("$@"); [[ ${#targets[@]} -gt 0 ]] || targets=(onnx pytorch safetensors wheel style_vector labels image)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
nice -n 19 cargo build --manifest-path tests/fuzz/Cargo.toml || exit 1
bin="$CARGO_TARGET_DIR/debug/restyle-fuzz"
[[ -n "$(ls tests/fuzz/corpus 2>/dev/null)" ]] || "$bin" seed
for t in "${targets[@]}"; do
    nice -n 19 "$bin" run "$t" "$secs"
    rc=$?
    cur="${TMPDIR:-/tmp}/restyle-fuzz-$t.cur"
    if [[ $rc -ne 0 && -f "$cur" ]]; then
        mkdir -p "tests/fuzz/crashes/$t"
        cp "$cur" "tests/fuzz/crashes/$t/died-rc$rc-$(date +%s)"
        echo "$t: the fuzzer died (rc $rc); input kept in tests/fuzz/crashes/$t/"
    fi
done
