# Two commands do all set-up on a fresh machine:
#   make demo   — install into .venv, then run the main job on the example instance
#   make test   — install into .venv, then lint, type-check and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean bench

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "syndicate needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The main job on the example instance: ingest the articles, build the feeds, import the
# example subscribers and send the "all" digest through the file backend (var/outbox/).
# Run it again: everything is reported unchanged and nothing new is sent.
demo: $(STAMP)
	$(BIN)/syndicate --config syndicate.toml ingest
	$(BIN)/syndicate --config syndicate.toml build
	$(BIN)/syndicate --config syndicate.toml subscribers import subscribers.csv
	$(BIN)/syndicate --config syndicate.toml digest send all

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/feeds.py
	$(BIN)/python bench/related.py
	mkdir -p bench/out/20ng && $(BIN)/python bench/dedup.py --data bench/out/20ng
	$(BIN)/python bench/render.py
	$(BIN)/python bench/fanout.py

clean:
	rm -rf $(VENV) var public .pytest_cache .mypy_cache .ruff_cache
