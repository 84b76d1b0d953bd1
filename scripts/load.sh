#!/usr/bin/env bash
# load.sh: the load part of `make bench`. Starts `oms serve` (release, embedded store, a fresh
# data dir) pinned to core 0 and runs wrk (Debian's package, installed if missing) pinned to
# core 1, over loopback only, each run bounded in time:
#   order(id)      a read of one 2-line order, a dev JWT on every request
#   createOrder    a 2-line order created per request
#   mix            80 % order(id), 20 % createOrder
# at 1, 16 and 64 connections. Prints one table (throughput, p50, p99, errors: non-200 answers
# and GraphQL errors); then order(id) once more at half of its peak throughput, open loop (oha
# from crates.io, installed if missing: requests leave at a fixed rate whatever the latency, and
# latencies are corrected for coordinated omission), for the p99 at half of peak. Writes it all
# as JSON to $OMS_BENCH_DIR/load.json (default target/bench).
#
#   scripts/load.sh <path to the release oms binary>
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OMS="${1:?usage: scripts/load.sh <oms binary>}"
OUT_DIR="${OMS_BENCH_DIR:-$ROOT/target/bench}"
DURATION="${OMS_LOAD_SECONDS:-8}"
CONNECTIONS="${OMS_LOAD_CONNECTIONS:-1 16 64}"

say() { echo "load: $*" >&2; }
die() { echo "load: error: $*" >&2; exit 1; }

if ! command -v wrk >/dev/null 2>&1; then
    say "installing wrk (Debian package)"
    if [[ $(id -u) -eq 0 ]]; then
        apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
    else
        sudo apt-get install -y -qq wrk >/dev/null
    fi
    command -v wrk >/dev/null || die "wrk could not be installed"
fi
if ! command -v oha >/dev/null 2>&1; then
    say "installing oha (cargo install oha --locked; a few minutes, once)"
    cargo install oha --locked -j"${JOBS:-2}" >/dev/null 2>&1 || die "oha could not be installed"
fi
command -v taskset >/dev/null || die "taskset not found (util-linux)"
[[ $(nproc) -ge 2 ]] || die "needs 2 cores: the server and the load generator each get one"

mkdir -p "$OUT_DIR"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# The server: core 0, a free port, its URL read from its first lines.
OMS_LOG=warn taskset -c 0 "$OMS" --data-dir "$WORK/data" serve --listen 127.0.0.1:0 >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER_PID=$!
URL=""
for _ in $(seq 1 300); do
    URL=$(grep -o 'http://[0-9.:]*/graphql' "$WORK/serve.out" | head -1 || true)
    [[ -n $URL ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "oms serve exited: $(cat "$WORK/serve.err")"
    sleep 0.1
done
[[ -n $URL ]] || die "oms serve did not print its URL"
TOKEN=$("$OMS" --data-dir "$WORK/data" token --tenant demo --role staff --ttl 3600)

CREATE='mutation { createOrder(input: {currency: \"USD\", customer: {name: \"Ana Diaz\", email: \"ana@example.com\"}, destination: {name: \"Ana Diaz\", line1: \"1 Main St\", city: \"Springfield\", postalCode: \"62701\", country: \"US\"}, lines: [{sku: \"TEE-M\", vendor: \"v1\", quantity: 2, unitPrice: \"19.99\"}, {sku: \"CAP-1\", vendor: \"v1\", quantity: 1, unitPrice: \"9.50\"}], shipping: \"5.00\"}) { order { id status } userErrors { code } } }'
ORDER_ID=$(curl -sf "$URL" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d "{\"query\":\"$CREATE\"}" | grep -o '"id":"[0-9A-Z]*"' | head -1 | cut -d'"' -f4)
[[ -n $ORDER_ID ]] || die "could not create the order to read"
READ="{ order(id: \\\"$ORDER_ID\\\") { id status version lines { sku quantity } total { amount currency } } }"

# One Lua script per workload: the request(s), and a count of answers that are not a clean 200.
script() {
    local name=$1 read_share=$2
    cat >"$WORK/$name.lua" <<LUA
-- Long brackets: Lua reads no escapes in them, so the JSON's \" stay as they are.
local read_body = [[{"query":"$READ"}]]
local create_body = [[{"query":"$CREATE"}]]
local headers = { ["content-type"] = "application/json", ["authorization"] = "Bearer $TOKEN" }
local threads = {}
n = 0
bad = 0
setup = function(thread) table.insert(threads, thread) end
request = function()
  n = n + 1
  if (n % 100) < $read_share then
    return wrk.format("POST", nil, headers, read_body)
  end
  return wrk.format("POST", nil, headers, create_body)
end
response = function(status, hdrs, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then bad = bad + 1 end
end
done = function(summary, latency, requests)
  local failed = 0
  for _, t in ipairs(threads) do failed = failed + t:get("bad") end
  local e = summary.errors
  io.write(string.format("RESULT rps=%.1f p50_us=%d p99_us=%d requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.requests, failed + e.connect + e.read + e.write + e.timeout))
end
LUA
}
script order 100
script create 0
script mix 80

printf '%-12s %5s %10s %9s %9s %8s\n' workload conns "req/s" "p50 ms" "p99 ms" errors
echo "[" >"$WORK/rows.json"
first=1
for workload in order create mix; do
    for c in $CONNECTIONS; do
        out=$(taskset -c 1 wrk -t1 -c"$c" -d"${DURATION}s" --timeout 5s -s "$WORK/$workload.lua" "$URL" 2>&1) || die "wrk failed: $out"
        line=$(grep '^RESULT' <<<"$out") || die "no result from wrk: $out"
        rps=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$line")
        p50=$(sed -E 's/.*p50_us=([0-9]+).*/\1/' <<<"$line")
        p99=$(sed -E 's/.*p99_us=([0-9]+).*/\1/' <<<"$line")
        errors=$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$line")
        printf '%-12s %5s %10.0f %9.2f %9.2f %8s\n' "$workload" "$c" "$rps" \
            "$(awk -v u="$p50" 'BEGIN{print u/1000}')" "$(awk -v u="$p99" 'BEGIN{print u/1000}')" "$errors"
        [[ $first -eq 1 ]] || echo "," >>"$WORK/rows.json"
        first=0
        printf '{"workload":"%s","connections":%s,"rps":%s,"p50_ms":%s,"p99_ms":%s,"errors":%s}' \
            "$workload" "$c" "$rps" "$(awk -v u="$p50" 'BEGIN{print u/1000}')" \
            "$(awk -v u="$p99" 'BEGIN{print u/1000}')" "$errors" >>"$WORK/rows.json"
    done
done
echo "]" >>"$WORK/rows.json"

# order(id) at half of its peak, open loop: the p99 a service sees when it is not saturated.
PEAK=$(grep -o '"workload":"order","connections":[0-9]*,"rps":[0-9.]*' "$WORK/rows.json" | sed 's/.*"rps"://' | sort -g | tail -1)
RATE=$(awk -v p="$PEAK" 'BEGIN{printf "%d", p/2}')
printf '{"query":"%s"}' "$READ" >"$WORK/read.json"
# 64 connections, so that one slow answer does not hold back the requests scheduled after it on
# the same connection; -w: requests still in flight at the deadline are answered, not errors.
taskset -c 1 oha --no-tui --output-format json -w -z "${DURATION}s" -c 64 -q "$RATE" --latency-correction \
    -m POST -T application/json -H "authorization: Bearer $TOKEN" -D "$WORK/read.json" "$URL" \
    >"$WORK/half.json" 2>"$WORK/half.err" || die "oha failed: $(cat "$WORK/half.err")"
HALF=$(python3 - "$WORK/half.json" "$RATE" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
codes = r.get("statusCodeDistribution", {})
errors = sum(n for c, n in codes.items() if c != "200") + sum(r.get("errorDistribution", {}).values())
p = r["latencyPercentiles"]
print(json.dumps({"rate": float(sys.argv[2]), "connections": 64, "rps": r["summary"]["requestsPerSec"],
                  "p50_ms": p["p50"] * 1e3, "p99_ms": p["p99"] * 1e3, "errors": errors}))
PY
) || die "could not read oha's report"
python3 -c 'import json,sys; h=json.loads(sys.argv[1]); print("order(id) at half of peak (%.0f req/s offered): p50 %.2f ms, p99 %.2f ms, %d errors" % (h["rate"], h["p50_ms"], h["p99_ms"], h["errors"]))' "$HALF"

rss_kb=$(grep VmHWM "/proc/$SERVER_PID/status" | grep -o '[0-9]*')
echo "peak RSS of oms serve: $((rss_kb / 1024)) MB"
printf '{"runs":%s,"half_peak":%s,"peak_rss_mb":%s,"seconds_per_run":%s}\n' "$(cat "$WORK/rows.json")" "$HALF" "$((rss_kb / 1024))" "$DURATION" >"$OUT_DIR/load.json"
echo "written: $OUT_DIR/load.json"
