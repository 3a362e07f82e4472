#!/usr/bin/env bash
# Shim for builder.ts: installs the dependencies on first use (npm ci), then
# runs `builder.ts` with the same arguments from wherever it is called.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ ! -d "$here/node_modules" ]; then
  echo "g3-composer: installing dependencies (npm ci) ..." >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
export G3_PROG="${G3_PROG:-./builder.sh}"
# An absolute loader path lets this work from any directory.
exec node --import "$here/node_modules/tsx/dist/loader.mjs" "$here/builder.ts" "$@"
