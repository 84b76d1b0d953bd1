#!/usr/bin/env bash
# schema-check.sh: schema.graphql against the last released schema (schema/released.graphql)
# with GraphQL Inspector (npm @graphql-inspector/cli, installed on first use under
# ${OMS_TOOLS_CACHE:-~/.cache/tenantoms/tools}/node). A breaking change (a removed field, a
# changed argument type, …) fails `make test` unless schema/released.graphql is updated in the
# same change, which is a release decision; deprecate (@deprecated) rather than remove.
#
#   scripts/schema-check.sh [old.graphql new.graphql]
#   scripts/schema-check.sh --self-test   # proves the check: a removed field and a changed
#                                         # argument type fail, an added optional field passes
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_DIR="${OMS_TOOLS_CACHE:-$HOME/.cache/tenantoms/tools}/node"
PKG='@graphql-inspector/cli@7.0.0'
OLD="${1:-$ROOT/schema/released.graphql}"
NEW="${2:-$ROOT/schema.graphql}"

die() { echo "schema-check: error: $*" >&2; exit 1; }

command -v npm >/dev/null 2>&1 || die "npm not found (apt-get install -y npm; services.sh installs it too)"
INSPECTOR="$NODE_DIR/node_modules/.bin/graphql-inspector"
if [[ ! -x $INSPECTOR ]]; then
    echo "schema-check: installing $PKG into $NODE_DIR"
    mkdir -p "$NODE_DIR"
    npm install --prefix "$NODE_DIR" --no-audit --no-fund --no-save --loglevel=error "$PKG" \
        || die "npm install $PKG failed"
fi

if [[ ${1:-} == --self-test ]]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    base="$ROOT/schema.graphql"
    # Each variant of the current schema, and whether the check must pass (0) or fail (1).
    variant() { # name sed-expression expected
        sed "$2" "$base" >"$tmp/$1.graphql"
        cmp -s "$base" "$tmp/$1.graphql" && die "self-test: $1 changed nothing (stale pattern)"
        local got=0
        "$INSPECTOR" diff "$base" "$tmp/$1.graphql" >"$tmp/$1.log" 2>&1 || got=1
        [[ $got == "$3" ]] || { cat "$tmp/$1.log" >&2; die "self-test: $1 exited $got, expected $3"; }
        echo "schema-check self-test: $1: $( [[ $3 == 1 ]] && echo refused || echo accepted ), as it must be"
    }
    variant removed-field '/^type Money {/,/^}/{/^\tcurrency: /d}' 1
    variant changed-argument 's/^\torder(id: ID!): Order!/\torder(id: Int!): Order!/' 1
    variant added-optional-field 's/^type Viewer {/type Viewer {\n\tlocale: String/' 0
    exit 0
fi

echo "+ graphql-inspector diff ${OLD#"$ROOT"/} ${NEW#"$ROOT"/}"
"$INSPECTOR" diff "$OLD" "$NEW"
