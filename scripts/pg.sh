#!/usr/bin/env bash
# Starts (creating on first use) a private PostgreSQL 15 cluster under DIR listening on
# 127.0.0.1:PORT, and prints its superuser URL. PostgreSQL refuses to run as root, so the
# cluster belongs to the postgres user when we are root.
#
# Two modes. fast (the default) is for throw-away clusters (tests, eval): fsync,
# full_page_writes and synchronous_commit off, anyone on 127.0.0.1 trusted. durable is for
# clusters people keep data in (`make run`): PostgreSQL's defaults for all three (an
# acknowledged commit survives a crash or power cut), SCRAM passwords on 127.0.0.1 and peer
# on the socket for the cluster's OS owner; the superuser's password is kept in DIR.password
# (0600). Starting an existing cluster in durable mode upgrades it in place, idempotently:
# the fast settings are removed, pg_hba.conf is rewritten, the password is set, and start-up
# fails unless the server reports the three settings on.
# `pg.sh db URL NAME` creates database NAME on the server at superuser URL unless it exists,
# and prints its URL. `pg.sh crash DIR` stops the server at once (no checkpoint), as a
# power cut would, for the crash tests.
# `pg.sh replica PRIMARY_PORT DIR PORT` makes (on first use) DIR a streaming hot standby of
# the cluster on 127.0.0.1:PRIMARY_PORT (pg_basebackup -R), starts it on PORT and prints its
# superuser URL. Stop it with `pg.sh stop DIR`.
# usage: pg.sh start DIR PORT [fast|durable] | pg.sh replica PRIMARY_PORT DIR PORT | pg.sh stop DIR | pg.sh crash DIR | pg.sh db URL NAME
set -euo pipefail
PGBIN=/usr/lib/postgresql/15/bin
cmd=$1
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
usage() { echo "usage: pg.sh start DIR PORT [fast|durable] | pg.sh replica PRIMARY_PORT DIR PORT | pg.sh stop DIR | pg.sh crash DIR | pg.sh db URL NAME" >&2; exit 2; }
# durable DIR PORT: the durable settings and authentication, applied to a new or old cluster.
durable() {
  local dir=$1 port=$2 pwfile="$1.password" owner
  if [ ! -s "$pwfile" ]; then
    (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$pwfile")
  fi
  owner=$(stat -c %U "$dir")
  # Older checkouts appended these to postgresql.conf; the defaults are on.
  as_pg sed -i -E '/^(fsync|synchronous_commit|full_page_writes) = off$/d' "$dir/postgresql.conf"
  as_pg tee "$dir/pg_hba.conf" >/dev/null <<HBA
# Written by scripts/pg.sh (durable mode); rewritten on every start.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 peer map=owner
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
HBA
  as_pg tee "$dir/pg_ident.conf" >/dev/null <<IDENT
# Written by scripts/pg.sh: the cluster's OS owner may be the superuser over the socket.
owner  $owner  postgres
IDENT
}
case "$cmd" in
start)
  dir=$(realpath -m "$2") port=$3 mode=${4:-fast}
  case "$mode" in fast|durable) ;; *) usage ;; esac
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    # The parents must be traversable by the postgres user.
    p=$dir; while [ "$p" != / ]; do p=$(dirname "$p"); [ "$(id -u)" = 0 ] && chmod o+x "$p" 2>/dev/null || true; done
    as_pg "$PGBIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$dir/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
shared_buffers = 512MB
maintenance_work_mem = 512MB
CONF
    if [ "$mode" = fast ]; then
      as_pg tee -a "$dir/postgresql.conf" >/dev/null <<CONF
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
    fi
  fi
  [ "$mode" = durable ] && durable "$dir" "$port"
  if ! as_pg "$PGBIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    as_pg "$PGBIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null
  elif [ "$mode" = durable ]; then
    as_pg "$PGBIN/pg_ctl" -D "$dir" reload >/dev/null # every setting changed above takes a reload
  fi
  if [ "$mode" = fast ]; then
    echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
    exit 0
  fi
  pw=$(cat "$dir.password")
  psql_pg() { as_pg psql -h "$dir" -p "$port" -U postgres -d postgres -qAtX -v ON_ERROR_STOP=1 "$@"; }
  # Over the socket (peer; trust on an old cluster not yet reloaded), from stdin so the
  # password is not in any process's arguments. Then write out what fsync=off may have left
  # only in the OS cache.
  psql_pg >/dev/null <<SQL
ALTER ROLE postgres PASSWORD '$pw';
CHECKPOINT;
SQL
  sync
  got=$(psql_pg -c "SELECT current_setting('fsync') || current_setting('full_page_writes') || current_setting('synchronous_commit')")
  if [ "$got" != ononon ]; then
    echo "pg.sh: $dir still runs with fsync/full_page_writes/synchronous_commit = $got (see postgresql.auto.conf and postgresql.conf)" >&2
    exit 1
  fi
  echo "postgres://postgres:$pw@127.0.0.1:$port/postgres?sslmode=disable"
  ;;
crash)
  as_pg "$PGBIN/pg_ctl" -D "$(realpath -m "$2")" -m immediate stop >/dev/null
  ;;
replica)
  pport=$2 dir=$(realpath -m "$3") port=$4
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    chmod 700 "$dir"
    p=$dir; while [ "$p" != / ]; do p=$(dirname "$p"); [ "$(id -u)" = 0 ] && chmod o+x "$p" 2>/dev/null || true; done
    # initdb's trust rules admit replication connections from 127.0.0.1.
    as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$pport" -U postgres -D "$dir" -R -X stream -c fast
    cat >>"$dir/postgresql.conf" <<CONF
port = $port
unix_socket_directories = '$dir'
hot_standby = on
hot_standby_feedback = on
CONF
  fi
  if ! as_pg "$PGBIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    as_pg "$PGBIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null
  fi
  echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  ;;
stop)
  dir=$(realpath -m "$2")
  as_pg "$PGBIN/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
  ;;
db)
  url=$2 name=$3
  psql "$url" -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1 ||
    psql "$url" -qc "CREATE DATABASE \"$name\""
  echo "${url%/postgres?sslmode=disable}/$name?sslmode=disable"
  ;;
*) usage ;;
esac
