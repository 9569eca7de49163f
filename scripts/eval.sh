#!/usr/bin/env bash
# `make eval`: ingests the evaluation corpus (../shared/eval/fetch-corpus.sh)
# into a private cluster under .data/eval, once, with the offline embedder, and
# runs `shifu eval` over the dev questions. Extra arguments go to shifu eval
# (e.g. --out hits.jsonl). Delete .data/eval to ingest again after changing the
# chunker or the analyzer.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-.data}
CORPUS=${SHIFU_CORPUS:-$HOME/.cache/shifu-corpus}
QUESTIONS=${QUESTIONS:-../shared/eval/dev.jsonl}
[ -d "$CORPUS/docs" ] || bash ../shared/eval/fetch-corpus.sh "$CORPUS"
mkdir -p "$DATA"
admin=$(bash scripts/pg.sh start "$DATA/eval" "${EVAL_PORT:-54335}")
base=${admin%/postgres?sslmode=disable}
if [ ! -s "$DATA/eval.key" ]; then
  (umask 077; ./shifu keygen > "$DATA/eval.key")
fi
export SHIFU_MASTER_KEY
SHIFU_MASTER_KEY=$(cat "$DATA/eval.key")
export DATABASE_URL=$base/shifu?sslmode=disable
if ! psql "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname = 'shifu'" | grep -q 1; then
  psql "$admin" -qc "CREATE DATABASE shifu"
  ./shifu migrate
  ./shifu tenant create eval
  ./shifu ingest --tenant eval "$CORPUS/docs"
fi
./shifu migrate
./shifu eval --tenant eval --questions "$QUESTIONS" "$@"
