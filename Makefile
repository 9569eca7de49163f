# Shifu: `make run` starts everything with embedded defaults; `make test` runs every test.
SHELL := /bin/bash
DATA ?= .data
RUN_PORT ?= 54321
TEST_PORT ?= 54329
GO ?= go

.PHONY: run test deps build bench fuzz eval

deps:
	bash scripts/deps.sh

build:
	$(GO) build -o shifu ./cmd/shifu

run: deps build
	bash scripts/run.sh

test:
	bash scripts/deps.sh --test
	bash scripts/test.sh

bench:
	bash scripts/bench.sh

eval: build
	bash scripts/eval.sh

# Each fuzz target for FUZZTIME (go test -fuzz runs one target at a time).
FUZZTIME ?= 30s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done
