#!/usr/bin/env bash
# Runs every test against a private PostgreSQL cluster (or TEST_DATABASE_URL when set).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  TEST_DATABASE_URL=$(bash scripts/pg.sh start "${DATA:-.data}/test" "${TEST_PORT:-54329}")
  export TEST_DATABASE_URL
fi
# The corpus for the end-to-end and eval tests (apt-get download). Without it those
# tests skip, and fail under CI=true (internal/testenv).
export SHIFU_CORPUS=${SHIFU_CORPUS:-$HOME/.cache/shifu-corpus}
if [ -f ../shared/eval/fetch-corpus.sh ] && [ ! -d "$SHIFU_CORPUS/docs" ]; then
  bash ../shared/eval/fetch-corpus.sh "$SHIFU_CORPUS" ||
    { apt-get update -qq && bash ../shared/eval/fetch-corpus.sh "$SHIFU_CORPUS"; } ||
    echo "test: corpus not fetched; the corpus tests will skip (and fail under CI=true)" >&2
fi
# The bilingual dictionary scripts/deps.sh builds (tests that need it fail under CI=true without it).
export SHIFU_DICT=${SHIFU_DICT:-$PWD/${DATA:-.data}/cedict.txt}
# The JSON stream is summarised: result lines, failed tests' output, every
# skipped test with its reason, and "N passed, N failed, N skipped" last.
mkdir -p "${DATA:-.data}"
go build -o "${DATA:-.data}/testsum" ./scripts/testsum
go test -count=1 -timeout 40m -json "${@:-./...}" 2>&1 | "${DATA:-.data}/testsum"
