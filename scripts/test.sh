#!/usr/bin/env bash
# The test command (README.md). Installs what the tests need from the package registries
# (the pinned solc and OpenZeppelin, the JSON-RPC clients nobody here wrote), then runs
# every test in the workspace. Works on a fresh machine; reuses a target dir when present.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/tradechain-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# Every npm project the tests use, each pinned by its package-lock.json.
for dir in contracts-sol engine/tests/js api/tests/js chains/hardhat; do
  if [ -f "$dir/package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
# Every ISO 20022 message is validated against its official XSD with xmllint (Debian's
# libxml2-utils), installed here when missing; in CI that validation must run, never skip.
if ! command -v xmllint >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -q libxml2-utils >/dev/null 2>&1 \
    || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q libxml2-utils >/dev/null; }
fi
export TRADECHAIN_REQUIRE_XMLLINT=1
# The web app is tested in a real browser: Debian's headless Chromium driven through its
# ChromeDriver (chromium, chromium-driver), installed here when missing; in CI it must run.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 \
    || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q chromium chromium-driver >/dev/null; }
fi
export TRADECHAIN_REQUIRE_CHROMIUM=1
# With the compiler installed, the stale-artifact check must run, never skip.
export TRADECHAIN_REQUIRE_SOLC=1
# The remote-network tests run against a Hardhat node (chains/hardhat), which
# with-hardhat.sh starts on a free loopback port; in CI they must run, never skip.
export TRADECHAIN_REQUIRE_HARDHAT=1

# The read-model and outbox tests run against SQLite and against a real PostgreSQL server,
# which with-postgres.sh starts on a free loopback port and stops afterwards; with-hardhat.sh
# likewise runs a Hardhat node around the same command.
if cargo nextest --version >/dev/null 2>&1; then
  exec scripts/with-postgres.sh scripts/with-hardhat.sh cargo nextest run --workspace --no-fail-fast "$@"
else
  exec scripts/with-postgres.sh scripts/with-hardhat.sh cargo test --workspace --no-fail-fast "$@"
fi
