# Every target builds on .venv; the stamp files make `make install` idempotent and
# re-run pip only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: install demo test bench lint screenshots clean postgres-server

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

demo: install
	$(BIN)/recon demo

# The suite runs on SQLite and on a private PostgreSQL cluster it starts itself, from Debian's
# server binaries, installed here when missing (unless RECON_TEST_POSTGRES_URL names a server).
postgres-server:
	@if [ -z "$$RECON_TEST_POSTGRES_URL" ] && ! command -v pg_ctl >/dev/null \
		&& ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
		echo "installing Debian's postgresql package for the suite's PostgreSQL tests"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; \
	fi

# One worker per core (pytest-xdist): every test keeps to its own files, ports and databases.
test: $(VENV)/.installed-test postgres-server
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

# BASE=<rev>: the figures that run recon, as ratios against <rev> built in .bench/ beside it.
BASE ?=
bench: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks $(if $(BASE),--base $(BASE))

lint: $(VENV)/.installed-test
	$(BIN)/ruff check engine console recon tests benchmarks
	$(BIN)/ruff format --check engine console recon tests benchmarks
	$(BIN)/mypy

screenshots: $(VENV)/.installed-test
	$(BIN)/python -m console.screenshots screenshots

clean:
	rm -rf $(VENV) build *.egg-info
	for tree in .bench/*/; do [ -d "$$tree" ] && git worktree remove --force "$$tree"; done; true
	rm -rf .bench && git worktree prune
