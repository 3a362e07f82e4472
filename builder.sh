#!/usr/bin/env bash
# Shim for builder.ts: installs the dependencies on first use (npm ci), then
# runs the builder with the same arguments, from any directory. It runs a
# bundle of builder.ts (dist/builder.mjs, rebuilt when a source is newer),
# which starts about three times faster than loading TypeScript through tsx.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ ! -d "$here/node_modules" ]; then
  echo "g3-composer: installing dependencies (npm ci) ..." >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
# `build` and `base` need host tools (mmdebstrap, apt-utils, e2fsprogs, ...) and a Docker daemon: on a fresh
# machine, install what is missing and start Debian's dockerd (both scripts are idempotent and say what they do).
# G3_NO_HOST_SETUP=1 skips this, for hosts whose tools and daemon are managed otherwise.
if [ "${G3_NO_HOST_SETUP:-}" != "1" ] && [ "$#" -ge 2 ] && { [ "$2" = "build" ] || [ "$2" = "base" ]; }; then
  "$here/scripts/setup-host.sh" >&2
  if ! docker info >/dev/null 2>&1 && ! /usr/bin/docker info >/dev/null 2>&1; then
    "$here/scripts/docker-daemon.sh" start >&2
  fi
fi
# Node.js >= 22.19 (scripts/node.sh: the system's when new enough, else one installed into .tools/node/);
# child processes that run `node` get the same one.
node="$("$here/scripts/node.sh" --path)"
PATH="$(dirname "$node"):$PATH"
export PATH
export G3_PROG="${G3_PROG:-./builder.sh}"
# More threads for file I/O (writes, fsyncs, copies) than libuv's default 4.
export UV_THREADPOOL_SIZE="${UV_THREADPOOL_SIZE:-16}"
bundle="$here/dist/builder.mjs"
esbuild="$here/node_modules/.bin/esbuild"
if [ -x "$esbuild" ] && { [ ! -f "$bundle" ] || [ -n "$(find "$here/builder.ts" "$here/src" "$here/package-lock.json" -newer "$bundle" -print -quit 2>/dev/null)" ]; }; then
  mkdir -p "$here/dist"
  tmp="$bundle.tmp.$$"
  # Built under a temporary name and renamed, so concurrent runs never see half a bundle.
  if "$esbuild" "$here/builder.ts" --bundle --platform=node --format=esm --target=node22 --log-level=warning \
      --banner:js="import { createRequire as __g3req } from 'node:module'; const require = __g3req(import.meta.url);" \
      --outfile="$tmp" >&2; then
    mv -f "$tmp" "$bundle"
  else
    rm -f "$tmp"
  fi
fi
if [ -f "$bundle" ]; then
  exec "$node" "$bundle" "$@"
fi
# No bundle (esbuild unavailable): run the TypeScript directly.
exec "$node" --import "$here/node_modules/tsx/dist/loader.mjs" "$here/builder.ts" "$@"
