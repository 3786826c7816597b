# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/pip install -q --disable-pip-version-check
# `make lock` runs pip-tools from a venv of its own (so that it never shares the project's).
LOCK_VENV := $(VENV)/lock-tools
PIP_TOOLS := pip-tools==7.6.2
# The suite on every core (pytest-xdist; a worker takes the next test when it is free), with
# the coverage of the project's code printed at the end. `make test PYTEST_ARGS=` runs it on
# one core without coverage.
PYTEST_ARGS ?= -n auto --dist worksteal --cov --cov-report=term

.PHONY: run test lint lock bench clean system-packages chromium

# Debian packages the reports need: pango for WeasyPrint (PDF), fonts that render Latin and
# Arabic (Noto), and pdftoppm (poppler-utils), with which the tests turn PDFs into PNG pages.
# Installed only when something is missing, so a machine that has them runs no apt-get.
DEBIAN_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig \
	fonts-noto-core fonts-dejavu-core poppler-utils
SUDO := $(shell test "$$(id -u)" = 0 || echo sudo)

system-packages:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  $(SUDO) apt-get -o DPkg::Lock::Timeout=600 update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $$missing; \
	fi

# Every package comes from requirements.lock and must match a hash there; the project itself
# is installed without its dependencies (they are all in the lock), with the locked setuptools.
$(STAMP): requirements.lock pyproject.toml | system-packages
	test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) --require-hashes -r requirements.lock
	$(PIP) --no-deps --no-build-isolation -e .
	touch $(STAMP)

## run: the main job on the embedded defaults (SQLite file, console channel)
run: $(STAMP)
	$(BIN)/verbinder demo

## chromium: the browser the browser tests drive (Debian's package; Playwright cannot
## download its own here). Installed when missing, as CI on a new machine must.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing chromium (apt-get)"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

## test: lint, import contracts, types, declared dependencies and the whole test suite
test: system-packages $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/deptry .
	$(BIN)/deptry tests -e '\.venv' --ignore DEP002,DEP004
	$(BIN)/pytest $(PYTEST_ARGS)

## lock: pin every package again, with hashes, from pyproject.toml (its dev extra included);
## versions already in requirements.lock are kept while they fit. To move one package:
## `make lock LOCK_ARGS="--upgrade-package NAME"`; to move all: LOCK_ARGS=--upgrade.
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || \
	    ($(PY) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install -q $(PIP_TOOLS))
	$(LOCK_VENV)/bin/pip-compile --quiet --extra dev --all-build-deps --allow-unsafe \
	    --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links \
	    --output-file requirements.lock $(LOCK_ARGS) pyproject.toml

bench: system-packages $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) verbinder.db outbox .coverage .coverage.*
