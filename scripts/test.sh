#!/usr/bin/env bash
# `npm test`: the unit and integration tests. The arm64 boot test spends about
# 17 minutes running emulated arm64 code on one core, so it runs in a second
# vitest process beside everything else instead of after it, followed there by
# the overlay and dracut boots (overlay.itest.ts, about 12 minutes, which build
# an image of their own) and the two-host registry tier (registry-tier.itest.ts,
# two builds of its own); that process's output is printed when it ends. Both processes share one Docker daemon, started here
# when none answers (and stopped here then), and the host tools are installed
# once before either starts. With arguments, vitest runs them as it is given
# them (`npm test -- test/unit/initrd.test.ts`).
set -euo pipefail
cd "$(dirname "$0")/.."
vitest=(scripts/node.sh node_modules/vitest/vitest.mjs run)
if [ $# -gt 0 ]; then exec "${vitest[@]}" "$@"; fi

SLOW=(test/integration/arm64.itest.ts test/integration/overlay.itest.ts test/integration/registry-tier.itest.ts)
scripts/setup-host.sh
started=0
if ! scripts/docker-daemon.sh status >/dev/null 2>&1; then
  scripts/docker-daemon.sh start
  started=1
fi
log=$(mktemp "${TMPDIR:-/tmp}/g3-test-arm64.XXXXXX")
slow=""
cleanup() {
  [ -n "$slow" ] && kill -- "$slow" 2>/dev/null || true
  if [ "$started" = 1 ]; then scripts/docker-daemon.sh stop || true; fi
  rm -f "$log"
}
trap cleanup EXIT
echo "== ${SLOW[*]} run beside the other tests; their output follows them" >&2
"${vitest[@]}" --project integration "${SLOW[@]}" >"$log" 2>&1 &
slow=$!
rc=0
"${vitest[@]}" "${SLOW[@]/#/--exclude=}" || rc=$?
slow_rc=0
wait "$slow" || slow_rc=$?
slow=""
echo "== ${SLOW[*]} (exit $slow_rc)" >&2
cat "$log"
[ "$rc" -ne 0 ] && exit "$rc"
exit "$slow_rc"
