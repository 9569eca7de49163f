#!/usr/bin/env bash
# `make bench`: the benchmarks the notes quote, on a private cluster.
#   - retrieval latency over the ingested corpus (BenchmarkSearchCorpus: ingests
#     the corpus into a test database first);
#   - vector search over a small synthetic table, chunker, analyzer, hashing
#     embedder, PDF text, time to the first model request;
#   - ingest of the largest manual against pdftotext (`shifu bench ingest`);
#   - search p50/p95/p99 over the eval corpus next to an exact scan
#     (`shifu bench search`; the corpus is make eval's, under $DATA/eval).
# The 1M-chunk HNSW benchmark takes 8 minutes to load and an hour or more to
# index on a busy 2-core host, and 4 GB of disk: run it on its own (see
# internal/postgres/vector_bench_test.go; SHIFU_BENCH_1M_ROWS for a smaller
# size, SHIFU_BENCH_1M_SCAN for walks past ef_search). TestVectorScaleHarness
# runs its code path at 5,000 rows in the ordinary tests.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-.data}
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  TEST_DATABASE_URL=$(bash scripts/pg.sh start "$DATA/test" "${TEST_PORT:-54329}")
  export TEST_DATABASE_URL
fi
export SHIFU_CORPUS=${SHIFU_CORPUS:-$HOME/.cache/shifu-corpus}
[ -d "$SHIFU_CORPUS/docs" ] || bash ../shared/eval/fetch-corpus.sh "$SHIFU_CORPUS"
go test -run '^$' -bench . -benchtime 3x -timeout 60m \
  ./retrieval/ ./internal/postgres/ ./ingest/... ./internal/terms/ ./internal/llm/ ./answer/
go build -o shifu ./cmd/shifu
DATABASE_URL=$(bash scripts/pg.sh db "$TEST_DATABASE_URL" shifu_bench)
export DATABASE_URL
SHIFU_MASTER_KEY=$(./shifu keygen)
export SHIFU_MASTER_KEY
./shifu migrate
./shifu bench ingest "$SHIFU_CORPUS/docs/LinuxCNC_Documentation.pdf"
# Search latency over the eval corpus, ingested once by scripts/eval.sh.
EVAL_INGEST_ONLY=1 bash scripts/eval.sh >/dev/null
(
  SHIFU_MASTER_KEY=$(cat "$DATA/eval.key")
  DATABASE_URL=$(bash scripts/pg.sh db "$(bash scripts/pg.sh start "$DATA/eval" "${EVAL_PORT:-54335}")" shifu)
  export SHIFU_MASTER_KEY DATABASE_URL
  ./shifu bench search --tenant eval --questions "${QUESTIONS:-../shared/eval/dev.jsonl}"
)
