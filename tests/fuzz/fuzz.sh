#!/usr/bin/env bash
# Coverage-guided fuzzing of restyle's parsers with libFuzzer (stable Rust).
#
#   tests/fuzz/fuzz.sh run SECONDS [TARGET...]  build, then fuzz the targets (default: all 8)
#                                               in parallel for SECONDS of wall time, all pinned
#                                               to one core (FUZZ_CORE, default the last; a list
#                                               such as 0-1 lets them float) and niced;
#                                               FUZZ_NO_BUILD=1 skips the build
#   tests/fuzz/fuzz.sh cmin [TARGET...]         minimize work/TARGET + corpus/TARGET into corpus/TARGET
#   tests/fuzz/fuzz.sh replay TARGET FILE...    run inputs once (e.g. a crash) on the instrumented build
#   tests/fuzz/fuzz.sh hours                    CPU and wall hours per target, summed over runs.tsv
#
# Each target runs in libFuzzer's fork mode, so a crash, a hang (-timeout) or
# a memory blow-up (-rss_limit_mb) is saved to crashes/TARGET/ and the run goes
# on. The growing corpus is work/TARGET (ignored by git; seeded from
# corpus/TARGET), the log work/TARGET.log, wall and CPU seconds (the fuzzer
# and its jobs) work/TARGET.time. The summary reads libFuzzer's last status
# line: execs, cov (edges covered), ft (features), crash counts.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
triple=x86_64-unknown-linux-gnu
bin="$here/target/$triple/release/restyle-fuzz"
all=(onnx pytorch safetensors wheel style_vector labels image capi)

build() {
    # The flags cargo-fuzz uses with --sanitizer none; --target keeps them off
    # build scripts and proc macros.
    CARGO_TARGET_DIR="$here/target" \
    RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares" \
        nice -n 19 cargo build --release --target "$triple" || exit 1
}

summary() {
    printf '%-13s %8s %8s %10s %6s %6s %s\n' target wall_s cpu_s execs cov ft oom/timeout/crash
    for t in "$@"; do
        line=$(grep -a '^#[0-9]*: cov:' "work/$t.log" 2>/dev/null | tail -1)
        read -r wall cpu < "work/$t.time" 2>/dev/null || { wall=-; cpu=-; }
        printf '%-13s %8s %8s %10s %6s %6s %s\n' "$t" "$wall" "$cpu" \
            "$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$line")" \
            "$(sed -E 's/.* cov: ([0-9]+).*/\1/' <<<"$line")" \
            "$(sed -E 's/.* ft: ([0-9]+).*/\1/' <<<"$line")" \
            "$(sed -E 's#.*oom/timeout/crash: ([0-9/]+).*#\1#' <<<"$line")"
    done
}

# One line per target and run in runs.tsv (committed): the hours each target
# has had add up over sessions there, since work/TARGET.time holds the last run only.
ledger() {
    local t=$1 line wall cpu
    line=$(grep -a '^#[0-9]*: cov:' "work/$t.log" 2>/dev/null | tail -1)
    read -r wall cpu < "work/$t.time" || return
    [[ -s runs.tsv ]] || printf 'date\ttarget\twall_s\tcpu_s\texecs\tcov\tft\tcrashes_saved\n' > runs.tsv
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$wall" "$cpu" \
        "$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$line")" "$(sed -E 's/.* cov: ([0-9]+).*/\1/' <<<"$line")" \
        "$(sed -E 's/.* ft: ([0-9]+).*/\1/' <<<"$line")" "$(ls "crashes/$t" 2>/dev/null | grep -c '^crash-')" >> runs.tsv
}

# CPU hours per target over every run in runs.tsv.
hours() {
    printf '%-13s %5s %9s %9s\n' target runs cpu_h wall_h
    awk -F'\t' 'NR > 1 { cpu[$2] += $4; wall[$2] += $3; n[$2]++ }
        END { for (t in cpu) printf "%-13s %5d %9.2f %9.2f\n", t, n[t], cpu[t] / 3600, wall[t] / 3600 }' runs.tsv | sort
}

cmd="${1:-}"; shift || true
case "$cmd" in
run)
    secs="${1:?seconds}"; shift
    targets=("$@"); [[ ${#targets[@]} -gt 0 ]] || targets=("${all[@]}")
    # FUZZ_NO_BUILD=1: fuzz the binary as built (others' edits to the tree
    # would otherwise rebuild restyle-core first).
    [[ -n "${FUZZ_NO_BUILD:-}" ]] || build
    core="${FUZZ_CORE:-$(( $(nproc) - 1 ))}"
    # `nice` alone does not yield to other work where the kernel groups
    # processes by session (autogroup): a run started with setsid is a group
    # of its own and gets a full share beside the user's builds. Lowering
    # the group's weight too makes the fuzzers truly background work.
    echo 19 > /proc/self/autogroup 2>/dev/null || true
    # Most harnesses write each input to a scratch file (tempfile, so
    # TMPDIR), and libFuzzer's fork mode passes its jobs files too. On a disk
    # mounted with `discard` every truncate waits for the device: style_vector
    # and labels jobs spent much of their time blocked, at a third of the CPU
    # the others got. A tmpfs where there is one; removed after the run.
    if [[ -z "${TMPDIR:-}" && -d /dev/shm && -w /dev/shm ]]; then
        TMPDIR=$(mktemp -d /dev/shm/restyle-fuzz.XXXXXX) && export TMPDIR
        trap 'rm -rf "$TMPDIR"' EXIT
    fi
    for t in "${targets[@]}"; do
        mkdir -p "work/$t" "crashes/$t"
        cp -n corpus/"$t"/* "work/$t/" 2>/dev/null
        (
            TIMEFORMAT='%R %U %S'
            { time RESTYLE_FUZZ_TARGET="$t" nice -n 19 taskset -c "$core" "$bin" "work/$t" \
                -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
                -timeout=30 -rss_limit_mb=2048 -max_len=65536 -max_total_time="$secs" \
                -artifact_prefix="crashes/$t/" > "work/$t.log" 2>&1; } 2> "work/$t.time.raw"
            awk '{printf "%.0f %.0f\n", $1, $2 + $3}' "work/$t.time.raw" > "work/$t.time"
            ledger "$t"
        ) &
    done
    wait
    summary "${targets[@]}"
    ls crashes/*/ 2>/dev/null
    ;;
cmin)
    targets=("$@"); [[ ${#targets[@]} -gt 0 ]] || targets=("${all[@]}")
    for t in "${targets[@]}"; do
        rm -rf "work/$t.min"; mkdir -p "work/$t.min"
        # Seeds first so that they are kept; then everything the runs found.
        RESTYLE_FUZZ_TARGET="$t" nice -n 19 "$bin" -merge=1 -timeout=30 -rss_limit_mb=2048 -artifact_prefix="crashes/$t/" \
            "work/$t.min" corpus/"$t" "work/$t" > "work/$t.cmin.log" 2>&1 || { echo "$t: merge failed"; continue; }
        find corpus/"$t" -type f ! -name 'seed-*' ! -name 'crash-*' -delete
        # Files merge keeps are named by their SHA-1; skip those equal to a
        # seed or crasher (kept by name) and those over 4 KB (size budget).
        have=$(sha1sum corpus/"$t"/* | cut -d' ' -f1)
        find "work/$t.min" -type f -size -4k -printf '%f\n' | grep -vxF "$have" |
            while read -r f; do cp -n "work/$t.min/$f" corpus/"$t"/; done
        echo "$t: $(ls corpus/"$t" | wc -l) files, $(du -sk corpus/"$t" | cut -f1) KB"
    done
    ;;
replay)
    t="${1:?target}"; shift
    RESTYLE_FUZZ_TARGET="$t" "$bin" -runs=1 "$@"
    ;;
hours)
    hours
    ;;
summary)
    targets=("$@"); [[ ${#targets[@]} -gt 0 ]] || targets=("${all[@]}")
    summary "${targets[@]}"
    ;;
*)
    sed -n '2,/^set /p' "$0" | grep '^#'; exit 2 ;;
esac
