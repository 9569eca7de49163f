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
admin=$(bash scripts/pg.sh start "$DATA/run" "${RUN_PORT:-54321}")
export DATABASE_URL=${DATABASE_URL:-$(bash scripts/pg.sh db "$admin" shifu)}
if [ ! -s "$DATA/master.key" ]; then
  (umask 077; ./shifu keygen > "$DATA/master.key")
fi
export SHIFU_MASTER_KEY=${SHIFU_MASTER_KEY:-$(cat "$DATA/master.key")}
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
    printf 'tenant: demo\nlogin: demo\npassword: %s\n' "$pw" > "$DATA/demo-login.txt"
  fi
fi
[ -f "$DATA/demo-login.txt" ] && { echo "demo login (also in $DATA/demo-login.txt):"; cat "$DATA/demo-login.txt"; }
exec ./shifu serve
