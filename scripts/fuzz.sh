#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for FUZZ_SECONDS each (default 600), one after another,
# pinned to FUZZ_CPU when set. Installs the nightly toolchain and cargo-fuzz on first use.
# Logs and a summary (exec counts, crashes) go to $CARGO_TARGET_DIR/../fuzz-report; a crash stops
# the run with its reproducer path (then turn it into a regression test of the crate it hit).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-600}
targets=${FUZZ_TARGETS:-"graphql_request cursor_decode jwt_verify money_ids webhook"}
cache=${FUZZ_CACHE:-$HOME/.cache/tenantoms}
export CARGO_TARGET_DIR=$cache/target-fuzz
export CARGO_BUILD_JOBS=${JOBS:-2}
corpus=$cache/fuzz-corpus
report=$cache/fuzz-report
mkdir -p "$corpus" "$report"

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

echo "fuzz: building the targets (nightly, sanitizer coverage)"
(cd fuzz && cargo +nightly fuzz build -O)

python3 fuzz/seeds/make.py "$corpus/seeds"
# GraphQL's punctuation and every name of our schema, as a libFuzzer dictionary.
{
  for t in '{' '}' '(' ')' ':' '$' '!' '@' '...' '"' '[' ']' 'query' 'mutation' 'fragment' 'on' \
           '__typename' '__schema' '@include(if: true)' '@skip(if: false)' '\"query\"' '\"variables\"'; do
    printf '"%s"\n' "${t//\"/\\\"}"
  done
  grep -oE '[A-Za-z_][A-Za-z0-9_]*' schema.graphql | sort -u | sed 's/.*/"&"/'
} >"$report/graphql.dict"

pin=()
[[ -n ${FUZZ_CPU:-} ]] && pin=(taskset -c "$FUZZ_CPU")
summary=$report/summary.txt
: >"$summary"
for t in $targets; do
  mkdir -p "$corpus/$t" "$corpus/seeds/$t"
  dict=()
  [[ $t == graphql_request ]] && dict=(-dict="$report/graphql.dict")
  echo "fuzz: $t for ${seconds}s"
  if ! (cd fuzz && "${pin[@]}" cargo +nightly fuzz run -O "$t" "$corpus/$t" "$corpus/seeds/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 "${dict[@]}") \
        >"$report/$t.log" 2>&1; then
    tail -40 "$report/$t.log" >&2
    echo "fuzz: $t FAILED (log: $report/$t.log; reproducer under fuzz/artifacts/$t/)" >&2
    exit 1
  fi
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$report/$t.log" | grep -oE '[0-9]+$' | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$report/$t.log" | tail -1)
  line="$t: ${runs:-?} executions in ${seconds}s, $cov, no crash"
  echo "fuzz: $line"
  echo "$line" >>"$summary"
done
echo "fuzz: all targets ran; summary in $summary"
