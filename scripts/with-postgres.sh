#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server on a free loopback port, exported as
# TRADECHAIN_TEST_POSTGRES_URL, and stops the server afterwards whatever happens.
#   scripts/with-postgres.sh cargo test ...
# Installs PostgreSQL from Debian's packages when no server binaries are found. The server
# refuses to run as root, so it runs as the `postgres` user in a directory that user owns.
set -euo pipefail

find_bin() {
  for d in /usr/local/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

if ! PGBIN=$(find_bin); then
  echo "with-postgres: installing PostgreSQL (Debian package)" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "with-postgres: no PostgreSQL server binaries and not root: cannot install" >&2
    exit 1
  fi
  PGBIN=$(find_bin)
fi

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d /tmp/tradechain-pg.XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres "$dir"
cleanup() {
  as_pg "$PGBIN/pg_ctl" -D "$dir/db" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

as_pg "$PGBIN/initdb" -D "$dir/db" -U postgres --auth=trust >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$dir/db" -l "$dir/log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
export TRADECHAIN_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "with-postgres: PostgreSQL on 127.0.0.1:$port" >&2
"$@"
