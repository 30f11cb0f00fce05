# Front door: `make build` and `make test` set up .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: build check test lint serve bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

build: $(STAMP)
	$(PY) -m generator build $(BUILD_ARGS)

check: $(STAMP)
	$(PY) -m generator check $(CHECK_ARGS)

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check generator tests
	$(PY) -m ruff format --check generator tests

# Ctrl-C (130) and SIGTERM (143) are how serve is meant to stop: not a failure of make's.
serve: $(STAMP)
	@$(PY) -m generator serve --port $(PORT); status=$$?; \
	[ $$status -eq 0 ] || [ $$status -eq 130 ] || [ $$status -eq 143 ] || exit $$status

bench: $(STAMP)
	$(PY) benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf site .site.spare site.tmp-* site.old-* .cache $(VENV) .pytest_cache
