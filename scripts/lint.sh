#!/usr/bin/env bash
# What a reviewer checks before reading: no merge markers left, gofmt, go vet,
# staticcheck (pinned) and a tidy go.mod. Run by .ci/run; `bash scripts/lint.sh` locally.
set -euo pipefail
cd "$(dirname "$0")/.."
if git grep -nE '^(<<<<<<<|>>>>>>>)( |$)' -- . ':!*.pdf'; then
  echo "lint: merge conflict markers left in the files above" >&2
  exit 1
fi
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "lint: not gofmt'd:" $unformatted >&2
  exit 1
fi
go vet ./...
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
go mod tidy -diff
echo "lint: ok"
