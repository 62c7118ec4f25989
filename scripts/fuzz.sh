#!/usr/bin/env bash
# Coverage-guided fuzzing of roomcast's decoders (the cargo-fuzz crate in fuzz/; see fuzz/README.md).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Runs every target (or the ones named) for SECONDS each (default 10; 0 = no time limit, for runs
# bounded by FUZZ_RUNS=<executions> instead) on one core, starting from the committed seeds in
# fuzz/corpus/<target>/ and the corpus earlier runs grew in fuzz/work/<target>/ (not committed).
# Installs cargo-fuzz from crates.io when missing. Builds without a
# sanitizer (safe Rust: libFuzzer catches panics, overflow checks stay on through debug
# assertions, and an allocation over -rss_limit_mb fails the run). Exits non-zero on the first
# crash, leaving the input in fuzz/artifacts/<target>/; prints one summary line per target.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-10}"
shift || true
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
# cargo-fuzz passes unstable compiler flags: the nightly toolchain when there is one (installed if
# the toolchain server is reachable), else the stable compiler told to accept them.
if rustup run nightly rustc --version >/dev/null 2>&1 ||
  timeout 300 rustup toolchain install nightly --profile minimal >/dev/null 2>&1; then
  cargo=(cargo +nightly)
else
  echo "fuzz: no nightly toolchain; using the stable one with RUSTC_BOOTSTRAP=1" >&2
  cargo=(env RUSTC_BOOTSTRAP=1 cargo)
fi

cargo fmt --check # the root's `cargo fmt --all` does not reach this workspace
flags=(--sanitizer none --debug-assertions)
"${cargo[@]}" fuzz build "${flags[@]}"
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <("${cargo[@]}" fuzz list)
fi

limits=(-rss_limit_mb=1024 -timeout=10 -print_final_stats=1)
[ "$seconds" != 0 ] && limits+=("-max_total_time=$seconds")
[ -n "${FUZZ_RUNS:-}" ] && limits+=("-runs=$FUZZ_RUNS")

for target in "${targets[@]}"; do
  mkdir -p "work/$target" "artifacts/$target"
  log="work/$target.log"
  # New inputs go to the first directory (work/, ignored by git); the seeds are only read.
  if ! "${cargo[@]}" fuzz run "${flags[@]}" "$target" "work/$target" "corpus/$target" -- \
    "${limits[@]}" >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz: $target FAILED; input in fuzz/artifacts/$target/, log in fuzz/$log" >&2
    echo "fuzz: replay with: cd fuzz && ${cargo[*]} fuzz run ${flags[*]} $target <input>" >&2
    exit 1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corpus=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[KMG]*b\).*/\1/p' <<<"$last")
  echo "fuzz: $target ok: ${execs:-?} execs, ${rate:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corpus:-?}, 0 crashes"
done
