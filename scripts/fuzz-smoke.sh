#!/usr/bin/env bash
# Fuzz smoke run: builds every cargo-fuzz target once, then runs each from its seed corpus
# (fuzz/seeds/<target>) for N seconds (default 20, at most 60). Fails if any target crashes,
# panics, hangs (-timeout) or goes over its memory limit (-rss_limit_mb).
#
#   scripts/fuzz-smoke.sh [SECONDS]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). On a stable toolchain it sets
# RUSTC_BOOTSTRAP=1 (cargo fuzz needs -Z flags). FUZZ_SANITIZER=address for ASan (slower
# build and runs; default none: Rust code is memory-safe, the run looks for panics, hangs
# and memory blow-ups). FUZZ_TARGETS="feed cel" runs a subset. Crash inputs are kept in
# fuzz/artifacts/<target>/; reproduce with `cargo fuzz run <target> <file>`.
set -euo pipefail

secs="${1:-${FUZZ_SECONDS:-20}}"
if ! [[ "$secs" =~ ^[0-9]+$ ]] || (( secs < 1 || secs > 60 )); then
    echo "fuzz-smoke: SECONDS must be 1..60 (got '$secs'); use fuzz/README.md for longer runs" >&2
    exit 2
fi
sanitizer="${FUZZ_SANITIZER:-none}"
root="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/target-fuzz}"
export RUSTC_BOOTSTRAP=1
cd "$root/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
    exit 2
fi

# Per-target input caps (libFuzzer -max_len), the same order as the entry points' own caps.
max_len() {
    case "$1" in
        intake_http) echo 1048576 ;;
        intake_json | feed | playbook) echo 262144 ;;
        cel) echo 4096 ;;
        *) echo 65536 ;;
    esac
}

targets="${FUZZ_TARGETS:-$(cargo fuzz list)}"
echo "fuzz-smoke: building $(echo $targets | wc -w) targets (sanitizer: $sanitizer)"
cargo fuzz build -O --sanitizer "$sanitizer"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# intake_http keeps its SQLite store and blobs under $TMPDIR: inside the scratch directory.
export TMPDIR="$work"
failed=()
printf '%-12s %8s %12s %10s %8s %s\n' target seconds execs execs/s corpus result
for t in $targets; do
    corpus="$work/$t"
    mkdir -p "$corpus"
    if [ -d "seeds/$t" ]; then cp seeds/"$t"/* "$corpus"/; fi
    log="$work/$t.log"
    set +e
    cargo fuzz run -O --sanitizer "$sanitizer" "$t" "$corpus" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -max_len="$(max_len "$t")" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    execs="$( (grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" || true) | grep -o '[0-9]*$' | tail -1 || true)"
    rate="$( (grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" || true) | grep -o '[0-9]*$' | tail -1 || true)"
    files="$(ls "$corpus" | wc -l)"
    if [ "$rc" -eq 0 ]; then
        result=ok
    else
        result="FAILED (exit $rc)"
        failed+=("$t")
    fi
    printf '%-12s %8s %12s %10s %8s %s\n' "$t" "$secs" "${execs:-?}" "${rate:-?}" "$files" "$result"
    if [ "$rc" -ne 0 ]; then
        echo "---- $t: last lines of the libFuzzer log ----" >&2
        (grep -v '^#[0-9]' "$log" || true) | cut -c1-300 | tail -40 >&2
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz-smoke: FAILED: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz-smoke: all targets ran ${secs} s without a crash, hang or memory blow-up"
