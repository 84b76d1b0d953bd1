#!/usr/bin/env bash
# tools.sh: the Python tools `make test` checks the deployment with, in a project-local
# virtualenv under ${OMS_TOOLS_CACHE:-~/.cache/tenantoms/tools} (installed on first use).
#
#   scripts/tools.sh install      install cfn-lint and the SAM CLI if missing
#   scripts/tools.sh check        cfn-lint template.yaml, then sam validate --lint (both offline)
#   scripts/tools.sh lambda       cargo-lambda and zig (PyPI), the arm64 Rust target; prints the
#                                 virtualenv's bin directory to put first on PATH
#   scripts/tools.sh watch        cargo-lambda only (`make lambda-local`); prints the same
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${OMS_TOOLS_CACHE:-$HOME/.cache/tenantoms/tools}"
VENV="$CACHE_DIR/venv"
CFN_LINT_SPEC='cfn-lint==1.*'
SAM_SPEC='aws-sam-cli==1.*'

say() { echo "tools: $*" >&2; }
die() { echo "tools: error: $*" >&2; exit 1; }

install() {
    command -v python3 >/dev/null 2>&1 || die "python3 not found (apt-get install -y python3 python3-venv)"
    if [[ ! -x $VENV/bin/pip ]]; then
        say "creating a virtualenv at $VENV"
        mkdir -p "$CACHE_DIR"
        python3 -m venv "$VENV" || die "cannot create a virtualenv (apt-get install -y python3-venv)"
    fi
    if [[ ! -x $VENV/bin/cfn-lint ]]; then
        say "installing $CFN_LINT_SPEC"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check "$CFN_LINT_SPEC" || die "pip install $CFN_LINT_SPEC failed"
    fi
    if [[ ! -x $VENV/bin/sam ]]; then
        say "installing $SAM_SPEC (about 30 s the first time)"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check "$SAM_SPEC" || die "pip install $SAM_SPEC failed"
    fi
}

check() {
    install
    cd "$ROOT"
    echo "+ cfn-lint template.yaml"
    "$VENV/bin/cfn-lint" template.yaml
    echo "+ sam validate --lint"
    SAM_CLI_TELEMETRY=0 "$VENV/bin/sam" validate --lint --region us-east-1 -t template.yaml
}

lambda_tools() {
    install
    if [[ ! -x $VENV/bin/cargo-lambda ]]; then
        say "installing cargo-lambda and ziglang (PyPI)"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check cargo-lambda ziglang \
            || die "pip install cargo-lambda ziglang failed"
    fi
    if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
        say "adding the aarch64-unknown-linux-gnu target"
        rustup target add aarch64-unknown-linux-gnu >&2 || die "rustup target add failed"
    fi
    echo "$VENV/bin"
}

watch_tools() {
    install
    if [[ ! -x $VENV/bin/cargo-lambda ]]; then
        say "installing cargo-lambda (PyPI)"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check cargo-lambda \
            || die "pip install cargo-lambda failed"
    fi
    echo "$VENV/bin"
}

case ${1:-} in
    install) install ;;
    check) check ;;
    lambda) lambda_tools ;;
    watch) watch_tools ;;
    *) echo "usage: $0 install|check|lambda|watch" >&2; exit 2 ;;
esac
