#!/usr/bin/env bash
# The one bootstrap of builder.sh and the hooks, from any directory:
#
#   scripts/launch.sh builder [ARGS...]       what builder.sh runs
#   scripts/launch.sh hook <name> [ARGS...]   what hooks/<name> runs
#
# On first use it installs the npm dependencies (npm ci, one run at a time;
# again when package-lock.json changed), picks Node.js >= 22.19
# (scripts/node.sh), and (re)builds the esbuild bundles dist/builder.mjs and
# dist/hooks.mjs when a source is newer; bundles start about three times
# faster than TypeScript through tsx.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kind="${1:?usage: scripts/launch.sh builder|hook ...}"
shift
case "$kind" in
  builder) command="${2:-}" ;;
  hook)
    command="${1:?usage: scripts/launch.sh hook <name> [ARGS...]}"
    ;;
  *)
    echo "scripts/launch.sh: unknown kind \"$kind\" (builder or hook)" >&2
    exit 2
    ;;
esac

# npm writes node_modules/.package-lock.json last: without it (a fresh clone, or an install cut short) or when
# package-lock.json is newer (a pull changed the dependencies), install them. The lock keeps concurrent first runs
# from installing over each other.
installed() { [ -f "$here/node_modules/.package-lock.json" ] && [ ! "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; }
if ! installed; then
  mkdir -p "$here/.tools"
  (
    if command -v flock >/dev/null 2>&1; then flock 9; fi
    if ! installed; then
      echo "g3-composer: installing dependencies (npm ci) ..." >&2
      cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2
    fi
  ) 9>"$here/.tools/npm-ci.lock"
fi

# `build` and `base` need host tools (mmdebstrap, apt-utils, e2fsprogs, ...) and a Docker daemon: on a fresh
# machine, install what is missing and start Debian's dockerd (both scripts are idempotent and say what they do).
# G3_NO_HOST_SETUP=1 skips this, for hosts whose tools and daemon are managed otherwise.
if [ "${G3_NO_HOST_SETUP:-}" != "1" ] && { [ "$command" = "build" ] || [ "$command" = "base" ]; }; then
  "$here/scripts/setup-host.sh" >&2
  if ! docker info >/dev/null 2>&1 && ! /usr/bin/docker info >/dev/null 2>&1; then
    "$here/scripts/docker-daemon.sh" start >&2
  fi
fi

node="$("$here/scripts/node.sh" --path)"
# Child processes that run `node` get the same one.
PATH="$(dirname "$node"):$PATH"
export PATH
# More threads for file I/O (writes, fsyncs, copies) than libuv's default 4.
export UV_THREADPOOL_SIZE="${UV_THREADPOOL_SIZE:-16}"

bundle="$here/dist/builder.mjs"
hooks_bundle="$here/dist/hooks.mjs"
esbuild="$here/node_modules/.bin/esbuild"
stale() {
  [ ! -f "$bundle" ] || [ ! -f "$hooks_bundle" ] ||
    [ -n "$(find "$here/builder.ts" "$here/hooks/main.ts" "$here/src" "$here/package-lock.json" -newer "$bundle" -print -quit 2>/dev/null)" ]
}
# A bundle older than the sources is never run: when it cannot be rebuilt, the sources run directly.
use_sources=0
if [ -x "$esbuild" ] && stale; then
  mkdir -p "$here/dist"
  tmp="$(mktemp -d "$here/dist/.build-XXXXXX")"
  # Stamped with the time the sources were read, so an edit made during the build still counts as newer.
  touch "$tmp/started"
  # Built under a temporary name and renamed (builder.mjs, the staleness reference, last),
  # so concurrent runs never see half a bundle.
  if "$esbuild" "builder=$here/builder.ts" "hooks=$here/hooks/main.ts" --bundle --platform=node --format=esm \
      --target=node22 --log-level=warning --out-extension:.js=.mjs --outdir="$tmp" \
      --banner:js="import { createRequire as __g3req } from 'node:module'; const require = __g3req(import.meta.url);" >&2; then
    touch -r "$tmp/started" "$tmp/hooks.mjs" "$tmp/builder.mjs"
    mv -f "$tmp/hooks.mjs" "$hooks_bundle"
    mv -f "$tmp/builder.mjs" "$bundle"
  else
    echo "g3-composer: bundling failed (above); running the TypeScript sources instead of the older bundle" >&2
    use_sources=1
  fi
  rm -rf "$tmp"
fi

if [ "$kind" = "builder" ]; then
  export G3_PROG="${G3_PROG:-./builder.sh}"
  if [ "$use_sources" = 0 ] && [ -f "$bundle" ]; then exec "$node" "$bundle" "$@"; fi
  # No bundle (esbuild unavailable): run the TypeScript directly.
  exec "$node" --import "$here/node_modules/tsx/dist/loader.mjs" "$here/builder.ts" "$@"
fi
if [ "$use_sources" = 0 ] && [ -f "$hooks_bundle" ]; then exec "$node" "$hooks_bundle" "$@"; fi
exec "$node" --import "$here/node_modules/tsx/dist/loader.mjs" "$here/hooks/main.ts" "$@"
