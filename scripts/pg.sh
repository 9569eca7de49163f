#!/usr/bin/env bash
# Starts (creating on first use) a private PostgreSQL 15 cluster under DIR listening on
# 127.0.0.1:PORT, and prints its superuser URL. PostgreSQL refuses to run as root, so the
# cluster belongs to the postgres user when we are root.
# `pg.sh db URL NAME` creates database NAME on the server at superuser URL unless it exists,
# and prints its URL.
# `pg.sh replica PRIMARY_PORT DIR PORT` makes (on first use) DIR a streaming hot standby of
# the cluster on 127.0.0.1:PRIMARY_PORT (pg_basebackup -R), starts it on PORT and prints its
# superuser URL. Stop it with `pg.sh stop DIR`.
# usage: pg.sh start DIR PORT | pg.sh replica PRIMARY_PORT DIR PORT | pg.sh stop DIR | pg.sh db URL NAME
set -euo pipefail
PGBIN=/usr/lib/postgresql/15/bin
cmd=$1
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
start)
  dir=$(realpath -m "$2") port=$3
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
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  fi
  if ! as_pg "$PGBIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    as_pg "$PGBIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null
  fi
  echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
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
*) echo "usage: pg.sh start DIR PORT | pg.sh replica PRIMARY_PORT DIR PORT | pg.sh stop DIR | pg.sh db URL NAME" >&2; exit 2 ;;
esac
