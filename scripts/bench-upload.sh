#!/usr/bin/env bash
# Peak memory of a real `shifu serve` under concurrent maximum-size uploads:
# a throw-away cluster and server, then `shifu bench upload`.
#   scripts/bench-upload.sh [SERVER_BINARY] [PG_PORT] [HTTP_PORT] [FILES] [MB]
# SERVER_BINARY (default ./shifu) runs the server, so an older build can be
# measured the same way; the bench client is always ./shifu. Each upload is
# a PDF header and random bytes, so ingest refuses it afterwards; the figures
# are those of the uploads.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-./shifu}"); pgport=${2:-54390}; port=${3:-18390}; files=${4:-4}; mb=${5:-200}
dir=$(mktemp -d)
srv=
trap '[ -n "$srv" ] && kill "$srv" 2>/dev/null || true; [ -n "$srv" ] && wait "$srv" 2>/dev/null || true; bash scripts/pg.sh stop "$dir/pg" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
admin=$(bash scripts/pg.sh start "$dir/pg" "$pgport")
export DATABASE_URL=$(bash scripts/pg.sh db "$admin" shifu)
export SHIFU_MASTER_KEY=$(./shifu keygen) SHIFU_APP_PASSWORD=bench-$RANDOM$RANDOM
"$bin" migrate >/dev/null
"$bin" tenant create bench >/dev/null
printf 'bench-password-%s\n' "$RANDOM$RANDOM" | "$bin" user create --tenant bench --user bench --role supervisor >/dev/null
token=$("$bin" token create --tenant bench --user bench 2>/dev/null)
SHIFU_ADDR=127.0.0.1:$port SHIFU_MAX_UPLOAD_BYTES=$((mb << 20)) "$bin" serve >"$dir/serve.log" 2>&1 &
srv=$!
# A shared machine: a server past RSS_CAP_MB (default 6144) is stopped, and said so.
cap=${RSS_CAP_MB:-6144}
( while kill -0 "$srv" 2>/dev/null; do
    kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$srv/status" 2>/dev/null || echo 0)
    if [ "${kb:-0}" -gt $((cap * 1024)) ]; then echo "server RSS passed ${cap} MiB: stopped" >&2; kill "$srv"; break; fi
    sleep 0.05
  done ) &
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
./shifu bench upload --url "http://127.0.0.1:$port" --token "$token" --pid "$srv" --files "$files" --mb "$mb"
