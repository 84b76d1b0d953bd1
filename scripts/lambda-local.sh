#!/usr/bin/env bash
# lambda-local.sh (`make lambda-local`): the six Lambda functions on this machine, under
# cargo-lambda's `watch` (its Runtime API emulator; each function built and started on its
# first invoke, rebuilt on change), over DynamoDB Local and moto (`scripts/services.sh`).
#
#   scripts/lambda-local.sh            set up, then run `cargo lambda watch` in the foreground
#   scripts/lambda-local.sh setup      set up only (the table, tenants, secrets, queues, bus and
#                                      .lambda-local/env), then exit
#
# The functions' environment is one file, .lambda-local/env (git-ignored), written by
# `oms local setup`; invoke with scripts/invoke.sh (events/README.md). OMS_LAMBDA_PORT (default
# 9000) is where `watch` takes invokes.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${OMS_LAMBDA_LOCAL_DIR:-.lambda-local}
PORT=${OMS_LAMBDA_PORT:-9000}
JOBS=${JOBS:-2}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/tenantoms/target}

[[ -f .services/env ]] || { echo "lambda-local: no .services/env: run scripts/services.sh start all" >&2; exit 1; }
set -a
. ./.services/env
set +a
export OMS_SECRETS_ENDPOINT=$OMS_MOTO_ENDPOINT OMS_SQS_ENDPOINT=$OMS_MOTO_ENDPOINT \
    OMS_EVENTBRIDGE_ENDPOINT=$OMS_MOTO_ENDPOINT
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test

echo "lambda-local: building oms" >&2
cargo build -q -j"$JOBS" -p oms
"$CARGO_TARGET_DIR/debug/oms" local setup --dir "$DIR" >/dev/null
echo "lambda-local: the functions' environment is $DIR/env" >&2
[[ ${1:-} == setup ]] && exit 0

bin=$(scripts/tools.sh watch)
echo "lambda-local: cargo lambda watch on 127.0.0.1:$PORT (Ctrl-C stops it; make services-down stops the emulators)" >&2
exec env PATH="$bin:$PATH" cargo lambda watch --env-file "$DIR/env" -A 127.0.0.1 -P "$PORT"
