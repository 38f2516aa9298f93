#!/usr/bin/env bash
# Fuzzes the REST API against its own OpenAPI document with Schemathesis (pinned), on a
# throwaway dev node, and exits with Schemathesis's exit code (non-zero on any failure).
#
#   scripts/schemathesis.sh [BINARY] [-- EXTRA_ST_ARGS...]
#
# BINARY: the tradechain binary (default $TRADECHAIN_BIN, else
# ${CARGO_TARGET_DIR:-<repo>/target}/debug/tradechain). It is run as
# `node --dev` on a free loopback port with a temporary data dir; an organisation
# ("Seeded Trading", trader) is onboarded with the operator token and its token is the one
# Schemathesis sends. The node is stopped and the data dir removed whatever happens.
#
# Settings (environment):
#   ST_AS=org|operator    whose token Schemathesis sends (default org)
#   ST_MAX_EXAMPLES=15    test cases per operation
#   ST_MAX_TIME=600       time budget of the whole run, seconds
#   ST_WORKERS=2          concurrent workers
#   ST_SEED=N             fixed seed (reproducible run)
#   ST_PHASES=LIST        phases to run (default: all; without coverage on Python 3.11)
#   ST_REPORT_DIR=DIR     also write JUnit + NDJSON reports into DIR
#   ST_KEEP=1             keep the data dir and node log (path printed)
#   ST_CONFIG=FILE        a schemathesis.toml to use (`st --config-file`; default
#                         <repo>/schemathesis.toml when there is one)
# Not fuzzed: /v1/events (an endless stream) and POST /v1/tokens/{id}/revoke (the stateful
# phase finds the token's own id in GET /v1/tokens and revokes it: every later request is
# then a 401).
# Schemathesis runs inside the temporary directory, so its crash cache (.schemathesis/, what
# `st replay ID` reads) never lands in the work tree; keep it with ST_KEEP=1.
# Schemathesis is installed with pip into a venv under
# ${XDG_CACHE_HOME:-$HOME/.cache}/tradechain-schemathesis the first time.
set -euo pipefail

ST_VERSION=4.32.5
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

bin=${TRADECHAIN_BIN:-${CARGO_TARGET_DIR:-$repo/target}/debug/tradechain}
if [ $# -gt 0 ] && [ "$1" != "--" ]; then bin=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" = "--" ]; then shift; fi
extra=("$@")

as=${ST_AS:-org}
max_examples=${ST_MAX_EXAMPLES:-15}
max_time=${ST_MAX_TIME:-600}
workers=${ST_WORKERS:-2}

log() { echo "schemathesis.sh: $*" >&2; }

if [ ! -x "$bin" ]; then
  log "no executable tradechain binary at $bin (pass it as the first argument or set TRADECHAIN_BIN)"
  exit 2
fi
case "$as" in org | operator) ;; *) log "ST_AS must be org or operator, not $as"; exit 2 ;; esac
for tool in curl python3; do
  command -v "$tool" >/dev/null || { log "$tool is required"; exit 2; }
done

# --- Schemathesis, pinned, in its own venv -------------------------------------------
# The newest Python there is: CPython 3.11's parser raises "AST constructor recursion depth
# mismatch" at random deep inside Hypothesis (seen in one run in three of the coverage phase
# here); 3.12 and later do not. With 3.11 only, that phase is left out (the fuzzing and
# stateful phases still run every check), and the log says so.
python=
for candidate in python3.13 python3.12 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import venv' 2>/dev/null; then python=$candidate; break; fi
done
[ -n "$python" ] || { log "python3 with venv is required"; exit 2; }
pyver=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
venv=${XDG_CACHE_HOME:-$HOME/.cache}/tradechain-schemathesis/venv-$ST_VERSION-py$pyver
st=$venv/bin/st
if ! { [ -x "$st" ] && "$st" --version 2>/dev/null | grep -qF "$ST_VERSION"; }; then
  log "installing schemathesis==$ST_VERSION into $venv"
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
  if ! "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"; then
    rm -rf "$venv"
    log "pip could not install schemathesis==$ST_VERSION"
    exit 2
  fi
fi

# --- the node --------------------------------------------------------------------------
dir=$(mktemp -d "${TMPDIR:-/tmp}/tradechain-st.XXXXXX")
node_pid=
st_pid=
cleanup() {
  local rc=$?
  if [ -n "$st_pid" ] && kill -0 "$st_pid" 2>/dev/null; then
    kill -TERM "$st_pid" 2>/dev/null || true
    wait "$st_pid" 2>/dev/null || true
  fi
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
    kill -TERM "$node_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
  fi
  if [ "${ST_KEEP:-0}" = 1 ]; then log "kept $dir (node log: $dir/node.log)"; else rm -rf "$dir"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
NO_COLOR=1 "$bin" node --dev --data-dir "$dir/data" --listen "127.0.0.1:$port" >"$dir/node.log" 2>&1 &
node_pid=$!
log "node (pid $node_pid) on $base, data in $dir/data"

ready=0
for _ in $(seq 1 600); do
  if ! kill -0 "$node_pid" 2>/dev/null; then break; fi
  if curl -fsS -o /dev/null --max-time 2 "$base/v1/ready" 2>/dev/null; then ready=1; break; fi
  sleep 0.2
done
if [ "$ready" != 1 ]; then
  log "node did not become ready; last lines of its log:"
  tail -n 30 "$dir/node.log" >&2 || true
  exit 2
fi

token_file=$dir/data/api/operator.token
[ -s "$token_file" ] || { log "no operator token at $token_file"; exit 2; }
operator_token=$(tr -d '[:space:]' <"$token_file")

token=$operator_token
if [ "$as" = org ]; then
  onboarded=$(curl -fsS --max-time 30 -X POST "$base/v1/organisations" \
    -H "Authorization: Bearer $operator_token" -H 'Content-Type: application/json' \
    -d '{"name":"Seeded Trading","roles":["trader"]}') || { log "could not onboard the seeded organisation"; exit 2; }
  token=$(printf '%s' "$onboarded" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
fi
log "sending the $as token"

# --- Schemathesis ------------------------------------------------------------------------
config=${ST_CONFIG:-}
[ -z "$config" ] && [ -f "$repo/schemathesis.toml" ] && config=$repo/schemathesis.toml
args=()
if [ -n "$config" ]; then
  [ -f "$config" ] || { log "no such config file: $config"; exit 2; }
  args+=(--config-file "$(cd "$(dirname "$config")" && pwd)/$(basename "$config")")
fi
args+=(run "$base/openapi.json"
  -H "Authorization: Bearer $token"
  --checks all
  --max-examples "$max_examples"
  --max-time "$max_time"
  --workers "$workers"
  --request-timeout 20
  --exclude-path /v1/events
  --exclude-path-regex '^/v1/tokens/[^/]+/revoke$'
  --generation-database none
  --no-color)
[ -n "${ST_SEED:-}" ] && args+=(--seed "$ST_SEED")
# The coverage phase only where the parser is sound (see above), unless ST_PHASES says.
phases=${ST_PHASES:-}
if [ -z "$phases" ] && [ "$pyver" = "3.11" ]; then
  log "Python 3.11: the coverage phase is left out (see above)"
  phases=examples,fuzzing,stateful
fi
[ -n "$phases" ] && args+=(--phases "$phases")
if [ -n "${ST_REPORT_DIR:-}" ]; then
  mkdir -p "$ST_REPORT_DIR"
  args+=(--report junit,ndjson --report-dir "$(cd "$ST_REPORT_DIR" && pwd)")
fi

# In the background and waited for, so an interrupt stops it and the node at once.
(cd "$dir" && exec "$st" "${args[@]}" "${extra[@]}") &
st_pid=$!
set +e
wait "$st_pid"
rc=$?
set -e
st_pid=

# What the node answered, and the errors behind any 5xx, for the triage.
sed 's/\x1b\[[0-9;]*m//g' "$dir/node.log" >"$dir/node.plain.log" || true
log "node responses by status: $(grep -o 'status=[0-9]*' "$dir/node.plain.log" | sort | uniq -c | tr -s ' ' | tr '\n' ';' || true)"
if grep -q ' ERROR ' "$dir/node.plain.log"; then
  log "errors logged by the node (first 20):"
  grep ' ERROR ' "$dir/node.plain.log" | head -n 20 >&2
fi
log "schemathesis exited $rc"
exit "$rc"
