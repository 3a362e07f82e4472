#!/usr/bin/env bash
# Starts, stops or reports a Docker daemon for builds and integration tests.
#   start   use a daemon that already answers, else install docker.io (when dockerd
#           is missing) and run dockerd in the background until it answers
#   stop    stop only a daemon this script started (its pid file), never another one
#   status  exit 0 when a daemon answers
# Idempotent. Needs root (or sudo) only to install packages and run dockerd.
set -euo pipefail

LOG=${G3_DOCKERD_LOG:-/tmp/g3-dockerd.log}
PIDFILE=${G3_DOCKERD_PIDFILE:-/tmp/g3-dockerd.pid}
START_WAIT=60
STOP_WAIT=30

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

have() { command -v "$1" >/dev/null 2>&1; }

# Clients that can talk to a daemon: a configured one first, then Debian's (its
# API version matches the packaged daemon), then whatever docker is on PATH.
clients() {
  local c
  for c in "${G3_DOCKER_CLIENT:-}" /usr/bin/docker docker; do
    [ -n "$c" ] && have "$c" && echo "$c"
  done
  return 0
}

# Prints "client server-version" for the first client whose daemon answers.
answering() {
  local c v
  while read -r c; do
    if v=$("$c" version --format '{{.Server.Version}}' 2>/dev/null) && [ -n "$v" ]; then
      echo "$c $v"
      return 0
    fi
  done < <(clients)
  return 1
}

# The pid this script recorded, if that process is still a running dockerd
# (a recycled pid belonging to something else is not ours to kill).
our_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid=$(cat "$PIDFILE")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ "$(ps -p "$pid" -o comm= 2>/dev/null)" = "dockerd" ] || return 1
  echo "$pid"
}

install_dockerd() {
  # docker.io Depends on containerd, runc, tini and iptables, so skipping
  # Recommends (apparmor, git, needrestart, ...) still gives a working engine.
  echo "dockerd is missing: installing docker.io" >&2
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io
}

fail_with_log() {
  echo "$1" >&2
  if [ -f "$LOG" ]; then
    echo "--- last lines of $LOG ---" >&2
    tail -n 30 "$LOG" >&2
  fi
  exit 1
}

start() {
  local found
  if found=$(answering); then
    echo "a Docker daemon already answers (client ${found% *}, server ${found#* })"
    return 0
  fi
  have dockerd || install_dockerd
  local pid
  if pid=$(our_pid); then
    echo "dockerd $pid (started earlier by this script) does not answer yet; waiting" >&2
  else
    : >"$LOG"
    # The shell records its own pid, then becomes dockerd: the pid file names
    # dockerd itself even when sudo sits in between.
    $sudo sh -c 'echo $$ >"$1"; exec dockerd' sh "$PIDFILE" >>"$LOG" 2>&1 </dev/null &
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      [ -s "$PIDFILE" ] && break
      sleep 0.2
    done
    pid=$(cat "$PIDFILE" 2>/dev/null || true)
    echo "started dockerd (pid ${pid:-unknown}, log $LOG)" >&2
  fi
  local waited=0
  while [ "$waited" -lt "$START_WAIT" ]; do
    if found=$(answering); then
      echo "Docker daemon answers (client ${found% *}, server ${found#* })"
      return 0
    fi
    # A daemon that already exited will not answer: report it now, not in a minute.
    if [ -n "${pid:-}" ] && ! $sudo kill -0 "$pid" 2>/dev/null; then
      $sudo rm -f "$PIDFILE"
      fail_with_log "dockerd exited before it answered"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  fail_with_log "no answer from dockerd after ${START_WAIT} s (pid ${pid:-unknown} left running; stop it with: $0 stop)"
}

stop() {
  if [ ! -f "$PIDFILE" ]; then
    echo "no daemon started by this script ($PIDFILE is absent); leaving any other daemon alone"
    return 0
  fi
  local pid
  if ! pid=$(our_pid); then
    echo "$PIDFILE names no running dockerd; removing the stale pid file"
    $sudo rm -f "$PIDFILE"
    return 0
  fi
  $sudo kill "$pid"
  local waited=0
  while $sudo kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge "$STOP_WAIT" ]; then
      echo "dockerd $pid still runs ${STOP_WAIT} s after SIGTERM; see $LOG, or kill -9 $pid" >&2
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  $sudo rm -f "$PIDFILE"
  echo "stopped dockerd $pid"
}

status() {
  local found
  if found=$(answering); then
    echo "Docker daemon answers (client ${found% *}, server ${found#* })"
    return 0
  fi
  echo "no Docker daemon answers" >&2
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
