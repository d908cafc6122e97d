# Every target bootstraps what it needs (uv, the locked environment, Debian's prometheus and
# chromium where the machine allows it), so a fresh clone needs nothing but `make demo`.
SHELL := /bin/bash
UV = $(shell ./scripts/bootstrap.sh | tail -n 1)
PYTEST_ARGS ?=

.PHONY: demo test bench lint format sandbox help

help:
	@echo "make demo   - play the flagship world through the real Slack code path and print the transcript"
	@echo "make test   - the whole test suite (CI=true turns skipped integration tests into failures)"
	@echo "make bench  - benchmarks; prints a table of figures against targets"
	@echo "make lint   - ruff and mypy --strict"

demo:
	$(UV) run whisperer demo

test:
	$(UV) run pytest $(PYTEST_ARGS)

bench:
	$(UV) run python -m bench

lint:
	$(UV) run sh -c 'ruff check . && ruff format --check . && mypy'

format:
	$(UV) run sh -c 'ruff format . && ruff check --fix .'

sandbox:
	$(UV) run whisperer sandbox up
