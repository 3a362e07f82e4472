#!/usr/bin/env bash
# Shim for builder.ts, from any folder: scripts/launch.sh installs the
# dependencies on first use (npm ci), picks Node.js >= 22.19 (scripts/node.sh,
# which installs one into .tools/ when the system's is older), and runs the
# esbuild bundle of builder.ts (dist/builder.mjs, rebuilt when a source is
# newer), which starts about three times faster than TypeScript through tsx.
# readlink -f: also when called through a symlink (npm's bin link).
exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/scripts/launch.sh" builder "$@"
