#!/bin/sh
# Rebuild ../static/editor.js, the page's one bundled editor script, from main.js and the
# pinned npm packages (package-lock.json). node_modules stays outside the package:
#   netspec/serve/editor_src/build.sh            (uses $BUILD, default /tmp/cm-build)
# The bundle is committed: installing netspec or running its tests never needs npm.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-/tmp/cm-build}
mkdir -p "$build"
cp "$here/package.json" "$here/package-lock.json" "$here/main.js" "$build/"
cd "$build"
npm ci --no-audit --no-fund
./node_modules/.bin/esbuild main.js --bundle --minify --format=iife --target=es2020 \
  --legal-comments=none --outfile="$here/../static/editor.js"
echo "wrote $here/../static/editor.js"
