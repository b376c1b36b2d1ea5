#!/usr/bin/env bash
# `make serve` / `make stop`: a local Prefect server (UI on http://127.0.0.1:4200), the
# reportlake-process work pool, every deployment of prefect.yaml, and one worker.
#
#   scripts/serve.sh start   start what is not running yet, deploy, print where to look
#   scripts/serve.sh stop    stop the worker and the server started by `start` (PID files)
#
# Everything lives under .prefect-local/ (PREFECT_HOME, SQLite database, logs, PID files), so
# ~/.prefect is never touched. The server's database is SQLite there unless
# PREFECT_API_DATABASE_CONNECTION_URL is set (e.g. postgresql+asyncpg://user:pw@host/prefect),
# which is passed through to `prefect server start` unchanged.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="${BIN:-$ROOT/.venv/bin}"
STATE="$ROOT/.prefect-local"
HOST="${PREFECT_SERVE_HOST:-127.0.0.1}"
PORT="${PREFECT_SERVE_PORT:-4200}"
POOL="reportlake-process"
HEALTH_WAIT_S="${PREFECT_SERVE_WAIT_S:-90}"

export PREFECT_HOME="$STATE/home"
export PREFECT_API_URL="http://$HOST:$PORT/api"
export PREFECT_SERVER_ANALYTICS_ENABLED=false
export PREFECT_CLI_PROMPT=false
export PYTHONUNBUFFERED=1

running() {  # running NAME: the process of NAME.pid is alive
    local pidfile="$STATE/$1.pid"
    [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

healthy() {
    "$BIN/python" - "$PREFECT_API_URL/health" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
EOF
}

start_bg() {  # start_bg NAME CMD...: run CMD detached, PID in NAME.pid, output in NAME.log
    local name="$1"
    shift
    # setsid: its own process group, so `stop` ends it and every child it spawned.
    setsid "$@" >>"$STATE/$name.log" 2>&1 </dev/null &
    echo $! >"$STATE/$name.pid"
}

start() {
    mkdir -p "$STATE/home"
    if [[ -n "${PREFECT_API_DATABASE_CONNECTION_URL:-}" ]]; then
        echo "server database: PREFECT_API_DATABASE_CONNECTION_URL (from the environment)"
    else
        echo "server database: SQLite in $PREFECT_HOME"
    fi

    if running server; then
        echo "server already running (pid $(cat "$STATE/server.pid"))"
    else
        if healthy; then
            echo "something else already answers on $PREFECT_API_URL; run make stop or free port $PORT" >&2
            exit 1
        fi
        start_bg server "$BIN/prefect" server start --host "$HOST" --port "$PORT"
        echo "server starting (pid $(cat "$STATE/server.pid"), log $STATE/server.log)"
    fi

    local deadline=$((SECONDS + HEALTH_WAIT_S))
    until healthy; do
        if ! running server || ((SECONDS > deadline)); then
            echo "the server did not become healthy; last lines of $STATE/server.log:" >&2
            tail -n 30 "$STATE/server.log" >&2 || true
            exit 1
        fi
        sleep 0.5
    done
    echo "server healthy: $PREFECT_API_URL"

    if "$BIN/prefect" work-pool inspect "$POOL" >/dev/null 2>&1; then
        echo "work pool $POOL exists"
    else
        "$BIN/prefect" work-pool create "$POOL" --type process
    fi

    "$BIN/prefect" --no-prompt deploy --all

    if running worker; then
        echo "worker already running (pid $(cat "$STATE/worker.pid"))"
    else
        start_bg worker "$BIN/prefect" worker start --pool "$POOL" --type process
        echo "worker started (pid $(cat "$STATE/worker.pid"), log $STATE/worker.log)"
    fi

    cat <<EOF

UI:       http://$HOST:$PORT
Run one:  PREFECT_API_URL=$PREFECT_API_URL $BIN/prefect deployment run 'ingest-reports/inbox-daily'
Stop:     make stop
EOF
}

stop_one() {  # stop_one NAME GRACE_S: TERM, TERM again after GRACE_S, then KILL the group
    local name="$1" grace=$(($2 * 2)) pidfile="$STATE/$1.pid" pid
    [[ -f "$pidfile" ]] || { echo "$name: not started"; return 0; }
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
        # Prefect's own escalation: the first TERM asks for a clean shutdown (the server stops
        # uvicorn; the worker stops polling), a second one makes it SIGKILL itself. Prefect
        # 3.8.8's worker rarely exits on the first, hence the short grace period.
        kill -TERM "$pid" 2>/dev/null || true
        wait_gone "$pid" "$grace"
        kill -TERM "$pid" 2>/dev/null || true
        wait_gone "$pid" 10
        # Whatever is left in its process group (uvicorn, flow-run subprocesses).
        kill -KILL -- "-$pid" 2>/dev/null || true
        echo "$name stopped (pid $pid)"
    else
        echo "$name: not running (stale pid $pid)"
    fi
    rm -f "$pidfile"
}

wait_gone() {  # wait_gone PID HALF_SECONDS
    for _ in $(seq 1 "$2"); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.5
    done
}

stop() {
    stop_one worker 5  # first, so it does not lose its server mid-run
    stop_one server 20
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
