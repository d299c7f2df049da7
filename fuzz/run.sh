#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60) on its corpus: the committed seeds
# (fuzz/seeds/<target>) plus what earlier runs found (fuzz/corpus/<target>, not committed).
# A crash, a panic, an overflow, a leak or an input slower than 10 s fails the run and leaves the
# input in fuzz/artifacts/<target>/. See docs/TESTING.md.
#
#   bash fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
shift || true

# cargo-fuzz passes -Z flags (sanitizers, coverage instrumentation) to rustc. They need a nightly
# compiler, or a stable one told to accept them: that is what RUSTC_BOOTSTRAP=1 does.
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --quiet
fi

# -O: optimised (the inputs per second matter more than the build); -a: debug assertions and
# overflow checks on, so an arithmetic overflow is a crash, not a silent wrap. AddressSanitizer (the
# default) stays on: the image decoders underneath are unsafe code.
flags=(-O -a)
cargo fuzz build "${flags[@]}"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    if ! cargo fuzz run "${flags[@]}" "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz: $t FAILED (the input is in fuzz/artifacts/$t/)" >&2
        exit 1
    fi
    echo "fuzz: $t: $(grep -E '^Done [0-9]+ runs' "$log" || echo 'done')"
done
echo "fuzz: ${#targets[@]} targets, ${secs}s each, no crash"
