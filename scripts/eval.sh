#!/usr/bin/env bash
# `make eval`: ingests the evaluation corpus (../shared/eval/fetch-corpus.sh)
# into a private cluster under .data/eval, once, with the offline embedder, and
# runs `shifu eval` over the dev questions. Extra arguments go to shifu eval
# (e.g. --out hits.jsonl). Postings are rebuilt when the analyzer changed;
# delete .data/eval to ingest again after changing the parser or chunker:
# unchanged files are not ingested twice.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-.data}
CORPUS=${SHIFU_CORPUS:-$HOME/.cache/shifu-corpus}
QUESTIONS=${QUESTIONS:-../shared/eval/dev.jsonl}
[ -d "$CORPUS/docs" ] || bash ../shared/eval/fetch-corpus.sh "$CORPUS"
mkdir -p "$DATA"
admin=$(bash scripts/pg.sh start "$DATA/eval" "${EVAL_PORT:-54335}")
if [ ! -s "$DATA/eval.key" ]; then
  (umask 077; ./shifu keygen > "$DATA/eval.key")
fi
export SHIFU_MASTER_KEY
SHIFU_MASTER_KEY=$(cat "$DATA/eval.key")
DATABASE_URL=$(bash scripts/pg.sh db "$admin" shifu)
export DATABASE_URL
./shifu migrate
./shifu docs --tenant eval >/dev/null 2>&1 || ./shifu tenant create eval
# Files already stored unchanged are skipped; a run cut short is completed.
./shifu ingest --tenant eval "$CORPUS/docs"
./shifu reindex --tenant eval
[ -n "${EVAL_INGEST_ONLY:-}" ] && exit 0 # scripts/bench.sh: the corpus, not the scores
./shifu eval --tenant eval --questions "$QUESTIONS" "$@"
