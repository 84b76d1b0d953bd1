#!/usr/bin/env bash
# invoke.sh FUNCTION EVENT-FILE: invokes a function running under `make lambda-local` with an
# `events/` file made invokable now (`oms local event`: a fresh token in place of `<token>`,
# add-order bodies signed again at the current time), and prints its answer.
#
#   scripts/invoke.sh graphql events/graphql/viewer.json
#
# OMS_LAMBDA_PORT (default 9000) is where `make lambda-local` takes invokes.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -eq 2 ]] || { echo "usage: $0 FUNCTION EVENT-FILE" >&2; exit 2; }
DIR=${OMS_LAMBDA_LOCAL_DIR:-.lambda-local}
PORT=${OMS_LAMBDA_PORT:-9000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/tenantoms/target}
event=$(mktemp)
trap 'rm -f "$event"' EXIT
"$CARGO_TARGET_DIR/debug/oms" local event "$2" --dir "$DIR" >"$event"
bin=$(scripts/tools.sh watch)
PATH="$bin:$PATH" cargo lambda invoke "$1" -A 127.0.0.1 -P "$PORT" --data-file "$event" --output-format json
