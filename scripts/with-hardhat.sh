#!/usr/bin/env bash
# Runs a command with a throwaway Hardhat node (chains/hardhat) on a free loopback port,
# exported as TRADECHAIN_TEST_HARDHAT_URL, and stops the node afterwards whatever happens.
#   scripts/with-hardhat.sh cargo test ...
# Needs `npm ci` in chains/hardhat first (scripts/test.sh does it). Mining mode comes from
# TRADECHAIN_HARDHAT_INTERVAL_MS (unset = automine), read by hardhat.config.js.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
hh="$root/chains/hardhat"
if [ ! -x "$hh/node_modules/.bin/hardhat" ]; then
  echo "with-hardhat: $hh/node_modules missing: run 'npm ci' in chains/hardhat" >&2
  exit 1
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp /tmp/tradechain-hardhat.XXXXXX.log)
(cd "$hh" && HARDHAT_DISABLE_TELEMETRY_PROMPT=true exec node_modules/.bin/hardhat node \
  --hostname 127.0.0.1 --port "$port" >"$log" 2>&1) &
pid=$!
cleanup() {
  kill "$pid" >/dev/null 2>&1 || true
  wait "$pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT INT TERM

url="http://127.0.0.1:$port"
for _ in $(seq 1 120); do
  if curl -sf -H 'content-type: application/json' \
      -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$url" >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "with-hardhat: the node exited:" >&2; cat "$log" >&2; exit 1
  fi
  sleep 0.5
done
curl -sf -H 'content-type: application/json' \
  -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$url" >/dev/null \
  || { echo "with-hardhat: node did not answer on $url" >&2; cat "$log" >&2; exit 1; }
export TRADECHAIN_TEST_HARDHAT_URL="$url"
echo "with-hardhat: Hardhat node on $url" >&2
"$@"
