#!/usr/bin/env bash
# Re-vendors GraphiQL's assets (served by `oms serve` in dev mode, embedded in the binary, so the
# page works without the internet) from the npm registry at the pinned versions below. To move
# to newer versions: change them here, run this script, check the page in a browser, commit
# shared/http/assets/graphiql/ (the files are the packages' own production builds, unchanged).
set -euo pipefail
GRAPHIQL=3.8.3
REACT=18.3.1
cd "$(dirname "$0")/.."
out=shared/http/assets/graphiql
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null)
for pkg in "graphiql-$GRAPHIQL" "react-$REACT" "react-dom-$REACT"; do
  mkdir -p "$work/$pkg" && tar xzf "$work/$pkg.tgz" -C "$work/$pkg"
done
cp "$work/graphiql-$GRAPHIQL/package/graphiql.min.js" "$work/graphiql-$GRAPHIQL/package/graphiql.min.css" "$out/"
cp "$work/react-$REACT/package/umd/react.production.min.js" "$out/"
cp "$work/react-dom-$REACT/package/umd/react-dom.production.min.js" "$out/"
cp "$work/graphiql-$GRAPHIQL/package/LICENSE" "$out/LICENSE.graphiql"
cp "$work/react-$REACT/package/LICENSE" "$out/LICENSE.react"
echo "graphiql $GRAPHIQL, react and react-dom $REACT in $out:"
ls -l "$out"
