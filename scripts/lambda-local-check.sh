#!/usr/bin/env bash
# lambda-local-check.sh (part of `make test`): follows events/README.md's "Local invoke" steps
# word for word — `make lambda-local` (here scripts/lambda-local.sh on a free port, with a
# fresh key directory as a fresh clone has), then every `scripts/invoke.sh` line of the
# README's block — and checks each answer against the one the README gives after `# `:
# a number is the HTTP status, `applied`/`dead_lettered …` the event consumer's outcome (and
# reason), `[]` the batch's `batchItemFailures`. Needs the services (`scripts/services.sh`).
# On a table an earlier run filled, 200 stands for 201 and `duplicate` for `applied`.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMS_LAMBDA_PORT=${OMS_LAMBDA_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
OMS_LAMBDA_LOCAL_DIR=$(mktemp -d)
export OMS_LAMBDA_LOCAL_DIR
log=$(mktemp)
cleanup() {
    [[ -n ${watch:-} ]] && kill -- -"$watch" 2>/dev/null || true
    rm -rf "$OMS_LAMBDA_LOCAL_DIR" "$log"
}
trap cleanup EXIT

mapfile -t steps < <(sed -n '/^```sh lambda-local$/,/^```$/p' events/README.md | grep '^scripts/invoke.sh ')
[[ ${#steps[@]} -ge 8 ]] || { echo "lambda-local-check: events/README.md lists ${#steps[@]} invokes" >&2; exit 1; }

setsid scripts/lambda-local.sh >"$log" 2>&1 &
watch=$!
for _ in $(seq 1 300); do
    grep -q "starting Runtime server" "$log" && break
    kill -0 "$watch" 2>/dev/null || { cat "$log" >&2; echo "lambda-local-check: make lambda-local stopped" >&2; exit 1; }
    sleep 1
done
grep -q "starting Runtime server" "$log" || { cat "$log" >&2; echo "lambda-local-check: watch did not start" >&2; exit 1; }

failed=0
for step in "${steps[@]}"; do
    command=${step%%#*}
    want=$(echo "${step#*# }" | sed 's/ *$//')
    started=$(date +%s)
    answer=$(timeout 600 $command 2>&1) || true
    got=$(python3 - "$answer" <<'PY'
import json, sys
try:
    d = json.loads(sys.argv[1])
except Exception:
    print("not JSON: " + sys.argv[1][-300:].replace("\n", " "))
    sys.exit()
if "statusCode" in d:
    print(d["statusCode"])
elif "outcome" in d:
    print(" ".join(x for x in (d["outcome"], d.get("reason", "")) if x))
elif "batchItemFailures" in d:
    print(json.dumps(d["batchItemFailures"]))
else:
    print(json.dumps(d)[:300])
PY
)
    # On a table an earlier run filled, the delivery and the tenant event are replays.
    if [[ $got == "$want" || ($want == "201" && $got == "200") || ($want == "applied" && $got == "duplicate") ]]; then
        echo "lambda-local-check: ok   $command -> $got ($(( $(date +%s) - started )) s)"
    else
        echo "lambda-local-check: FAIL $command -> $got, the README says $want" >&2
        failed=1
    fi
done
if [[ $failed -ne 0 ]]; then
    tail -40 "$log" >&2
    exit 1
fi
echo "lambda-local-check: every documented invoke gave the documented answer"
