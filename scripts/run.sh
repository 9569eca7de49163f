#!/usr/bin/env bash
# `make run`: a private PostgreSQL cluster under .data/run, a generated master
# key in .data/master.key, migrations, a demo tenant with a sample manual, the
# technicians' notes and a demo user, then the server. No accounts or keys
# needed; a hosted model is used only when DASHSCOPE_API_KEY / OPENAI_API_KEY /
# SHIFU_LLM_* are set.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-.data}
mkdir -p "$DATA"
# The cluster people keep their manuals in: durable settings and password logins (an
# older checkout's cluster is upgraded in place; see pg.sh).
port=${RUN_PORT:-54321}
admin=$(bash scripts/pg.sh start "$DATA/run" "$port" durable)
own_db=${DATABASE_URL:-}
export DATABASE_URL=${DATABASE_URL:-$(bash scripts/pg.sh db "$admin" shifu)}
if [ ! -s "$DATA/master.key" ]; then
  (umask 077; ./shifu keygen > "$DATA/master.key")
fi
export SHIFU_MASTER_KEY=${SHIFU_MASTER_KEY:-$(cat "$DATA/master.key")}
# The server's own login, shifu_app: `shifu migrate` sets its password.
if [ ! -s "$DATA/app.password" ]; then
  (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$DATA/app.password")
fi
export SHIFU_APP_PASSWORD=${SHIFU_APP_PASSWORD:-$(cat "$DATA/app.password")}
./shifu migrate
if ./shifu docs --tenant demo >/dev/null 2>&1; then
  echo "demo tenant exists"
else
  ./shifu tenant create demo
  ./shifu ingest --tenant demo sample/cnc-3000-maintenance.md
  ./shifu ingest --tenant demo --kind note sample/technician-notes.csv
  if ./shifu help | grep -q "user create"; then
    pw=$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | head -c 12)
    printf '%s\n' "$pw" | ./shifu user create --tenant demo --user demo --role admin >/dev/null
    (umask 077; printf 'tenant: demo\nlogin: demo\npassword: %s\n' "$pw" > "$DATA/demo-login.txt")
  fi
fi
if [ -f "$DATA/demo-login.txt" ]; then
  chmod 600 "$DATA/demo-login.txt" # older checkouts wrote it world-readable
  echo "demo login (tenant demo, user demo): the password is in $DATA/demo-login.txt"
fi
if [ -z "$own_db" ]; then
  # The server gets only its own login, not the superuser's.
  exec env -u DATABASE_URL SHIFU_APP_DATABASE_URL="postgres://shifu_app:$SHIFU_APP_PASSWORD@127.0.0.1:$port/shifu?sslmode=disable" ./shifu serve
fi
exec ./shifu serve
