#!/usr/bin/env bash
# Autobahn|Testsuite (wstest fuzzingclient) conformance run against
# `switchboard serve --raw-echo` on a free 127.0.0.1 port.  Called by `make conformance`.
#
# Usage: scripts/conformance.sh [CASE_PATTERN ...]      e.g. scripts/conformance.sh '5.*' '6.*'
#   No pattern = every case except EXCLUDE (default "12.* 13.*", the permessage-deflate
#   cases, about 20 minutes more; `make conformance-deflate` runs just those).  Patterns go straight to the shared run.sh.
# Environment knobs (all optional):
#   AUTOBAHN_TOOLS  shared autobahn scripts (default: <repo>/../shared/tools/autobahn)
#   AUTOBAHN_ROOT   autobahn environment + reports (default: $TMPDIR/autobahn or /tmp/autobahn);
#                   built with the shared setup.sh when its wstest is missing
#   EXCLUDE         case patterns to skip (default "12.* 13.*")
#   SWITCHBOARD     server executable (default: <repo>/.venv/bin/switchboard)
#   AGENT, OUTDIR, ENGINE, FAIL_BY_DROP, TIMEOUT   passed through to run.sh
# Artifacts: test-artifacts/autobahn-summary.txt, test-artifacts/autobahn-server.log
# Exit status: run.sh's (0 = conformant, 1 = some case failed, 2 = run error);
#   2 also when setup fails or the server does not become healthy within 20 s.
set -euo pipefail

REPO=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel 2>/dev/null) \
  || REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

AUTOBAHN_TOOLS=${AUTOBAHN_TOOLS:-$REPO/../shared/tools/autobahn}
if [[ ! -f "$AUTOBAHN_TOOLS/run.sh" ]]; then
  echo "conformance: no autobahn tools at $AUTOBAHN_TOOLS (set AUTOBAHN_TOOLS)" >&2; exit 2
fi
AUTOBAHN_TOOLS=$(cd "$AUTOBAHN_TOOLS" && pwd)
# Same default as the shared setup.sh/run.sh use.
AB_ROOT=${AUTOBAHN_ROOT:-${TMPDIR:-/tmp}/autobahn}
SWITCHBOARD=${SWITCHBOARD:-$REPO/.venv/bin/switchboard}
ARTIFACTS=$REPO/test-artifacts
mkdir -p "$ARTIFACTS"
rm -f "$ARTIFACTS/autobahn-summary.txt"   # never leave a stale summary behind

# 1. Autobahn environment, built only when missing.
if [[ ! -x "$AB_ROOT/py27venv/bin/wstest" ]]; then
  echo "conformance: no wstest under $AB_ROOT, running $AUTOBAHN_TOOLS/setup.sh (about a minute)"
  if ! bash "$AUTOBAHN_TOOLS/setup.sh"; then
    echo "conformance: autobahn setup failed" >&2; exit 2
  fi
fi

# 2. Switchboard raw echo server on a free loopback port.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
SERVER_LOG=$ARTIFACTS/autobahn-server.log
SERVER_PID=
RUN_PID=

# Start "$@" in the background in its own session when setsid exists, so the whole tree
# (server workers; run.sh -> timeout -> wstest) can be found and stopped; sets $!.
spawn() {
  if command -v setsid >/dev/null; then setsid "$@" & else "$@" & fi
}
members() {  # members PID: PID plus every process in the session PID leads (setsid)
  echo "$1"
  ps -eo pid=,sid= 2>/dev/null | awk -v s="$1" '$2 == s && $1 != s {print $1}'
}
stop_group() {  # stop_group PID: TERM PID's session (run.sh's `timeout` has its own process group), KILL after 5 s
  local pid=$1 p
  for p in $(members "$pid"); do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  for p in $(members "$pid"); do kill -KILL "$p" 2>/dev/null || true; done
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  if [[ -n "$RUN_PID" ]]; then stop_group "$RUN_PID"; RUN_PID=; fi
  if [[ -n "$SERVER_PID" ]]; then stop_group "$SERVER_PID"; SERVER_PID=; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Section 9 echoes messages of up to 16 MiB: raise the message limit (and the send queue,
# which must exceed it) above the 1 MiB default for this run.
SERVER_CMD=("$SWITCHBOARD" serve --host 127.0.0.1 --port "$PORT" --path /ws --raw-echo
            --max-message-size 16777216 --send-queue-limit 67108864 --log-level warning)
echo "conformance: starting ${SERVER_CMD[*]}  (log: $SERVER_LOG)"
spawn "${SERVER_CMD[@]}" >"$SERVER_LOG" 2>&1 </dev/null
SERVER_PID=$!

healthy=0
deadline=$((SECONDS + 20))
while ((SECONDS < deadline)); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "conformance: server exited before becoming healthy; tail of $SERVER_LOG:" >&2
    tail -20 "$SERVER_LOG" >&2; exit 2
  fi
  if python3 - "$PORT" 2>/dev/null <<'EOF'
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1) as r:
    sys.exit(0 if r.status == 200 else 1)
EOF
  then healthy=1; break; fi
  sleep 0.2
done
if ((!healthy)); then
  echo "conformance: GET /health on 127.0.0.1:$PORT did not answer 200 within 20 s; tail of $SERVER_LOG:" >&2
  tail -20 "$SERVER_LOG" >&2; exit 2
fi
echo "conformance: server healthy on 127.0.0.1:$PORT (pid $SERVER_PID)"

# 3. The suite.  OUTDIR is fixed here so we know where summary.txt lands.
export AGENT=${AGENT:-switchboard}
OUTDIR=${OUTDIR:-$AB_ROOT/reports/$(date +%Y%m%d-%H%M%S)-port$PORT-${ENGINE:-wstest}}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
export OUTDIR

# Run in the background + wait, so INT/TERM are handled at once (the trap stops the run's
# process group and the server) instead of after the whole suite.
export WSPATH=/ws EXCLUDE="${EXCLUDE-12.* 13.*}"
spawn "$AUTOBAHN_TOOLS/run.sh" "$PORT" "$@"
RUN_PID=$!
rc=0
wait "$RUN_PID" || rc=$?
RUN_PID=

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "conformance: WARNING: the server died during the run; see $SERVER_LOG" >&2
fi
if [[ -f "$OUTDIR/summary.txt" ]]; then
  cp "$OUTDIR/summary.txt" "$ARTIFACTS/autobahn-summary.txt"
  echo "conformance: summary -> test-artifacts/autobahn-summary.txt  report: $OUTDIR/index.html"
else
  echo "conformance: run.sh produced no summary (rc=$rc); report dir $OUTDIR" >&2
fi
# 4. Known failures: cases that fail for a documented reason outside Switchboard's code
# (scripts/autobahn-known-failures.txt) do not fail the run; anything else does.
if [[ $rc -eq 1 && -f "$OUTDIR/index.json" ]]; then
  python3 - "$OUTDIR/index.json" "$REPO/scripts/autobahn-known-failures.txt" <<'EOF' && rc=0
import json, sys
report = json.load(open(sys.argv[1]))
known = {line.split()[0] for line in open(sys.argv[2]) if line.strip() and not line.startswith("#")}
bad = sorted(
    case for cases in report.values() for case, v in cases.items()
    if v["behavior"] == "FAILED" or v["behaviorClose"] not in ("OK", "NON-STRICT", "INFORMATIONAL")
)
unknown = [case for case in bad if case not in known]
print(f"conformance: failed cases: {', '.join(bad) or 'none'}; not in the known list: {', '.join(unknown) or 'none'}")
sys.exit(1 if unknown else 0)
EOF
fi
exit "$rc"
