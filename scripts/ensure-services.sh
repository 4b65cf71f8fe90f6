#!/usr/bin/env bash
# Make sure the databases the integration tests use are up: MariaDB on 127.0.0.1:3306 and
# PostgreSQL 15 on 127.0.0.1:5432. Starts a stopped one with the machine's own commands.
# Under CI (CI=true) a service that cannot be brought up fails loudly; never a silent skip.
set -u

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  return 1
}

ensure() {
  local name=$1 port=$2; shift 2
  if port_open "$port"; then echo "services: $name is up on :$port"; return 0; fi
  echo "services: $name is down on :$port, starting it"
  "$@" >/dev/null 2>&1 || true
  if wait_port "$port"; then echo "services: $name started"; return 0; fi
  echo "services: FAILED to start $name on 127.0.0.1:$port" >&2
  return 1
}

status=0
ensure PostgreSQL 5432 bash -c 'pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start' || status=1
ensure MariaDB 3306 start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || status=1

if [ "$status" -ne 0 ] && [ "${CI:-}" = "true" ]; then
  echo "services: a required database is missing under CI; failing the run" >&2
  exit 1
fi
exit 0
