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
# Serve runs in the background so that the shell can pass on a SIGTERM sent to make (which
# hands it to this shell only, and passes on no other signal), and Ctrl-C, which a
# background job ignores.
serve: $(STAMP)
	@$(PY) -m generator serve --port $(PORT) & serve=$$!; \
	trap 'kill -TERM $$serve 2>/dev/null' INT TERM HUP; \
	wait $$serve; status=$$?; \
	while kill -0 $$serve 2>/dev/null; do wait $$serve; status=$$?; done; \
	[ $$status -eq 0 ] || [ $$status -eq 130 ] || [ $$status -eq 143 ] || exit $$status

bench: $(STAMP)
	$(PY) benchmarks/bench.py $(BENCH_ARGS)

# The __pycache__ folders hold numba's compiled code too.
clean:
	rm -rf site .site.spare site.tmp-* site.old-* .cache $(VENV) .pytest_cache .hypothesis \
		.ruff_cache generator/__pycache__ tests/__pycache__ benchmarks/__pycache__
