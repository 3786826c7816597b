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

.PHONY: run test lint lock bench clean system-packages chromium wheel-check

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

## wheel-check: build the wheel (pip and setuptools of the lock, no build isolation) and run
## `verbinder playbook check` and `verbinder demo` from a venv that holds the wheel and only
## what it needs to run (requirements-runtime.lock: the wheel's declared dependencies, hashed,
## at the versions of requirements.lock), in an empty folder: the default playbook, its
## templates and the sample municipality must be inside the package, and `pip check` proves the
## wheel's declared dependencies are there. The runtime venv is kept while its lock is unchanged.
WHEEL_CHECK := $(VENV)/wheel-check
RUNTIME_VENV := $(VENV)/runtime
$(RUNTIME_VENV)/.installed: requirements-runtime.lock | $(STAMP)
	rm -rf $(RUNTIME_VENV)
	$(PY) -m venv $(RUNTIME_VENV) || python3 -m venv $(RUNTIME_VENV)
	$(RUNTIME_VENV)/bin/pip install -q --disable-pip-version-check --require-hashes \
	    -r requirements-runtime.lock
	touch $@

wheel-check: $(STAMP) $(RUNTIME_VENV)/.installed
	rm -rf $(WHEEL_CHECK) && mkdir -p $(WHEEL_CHECK)/run
	$(BIN)/pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation \
	    -w $(WHEEL_CHECK)/dist .
	rm -rf build
	$(RUNTIME_VENV)/bin/pip install -q --disable-pip-version-check --no-deps \
	    --force-reinstall $(WHEEL_CHECK)/dist/verbinder-*.whl
	$(RUNTIME_VENV)/bin/pip check --disable-pip-version-check
	cd $(WHEEL_CHECK)/run && env -u VERBINDER_PLAYBOOK -u VERBINDER_DATABASE_URL \
	    ../../runtime/bin/python -c "import engine, sys; sys.exit(0 if '/runtime/lib/' in engine.__file__ else 'engine imported from ' + engine.__file__)"
	cd $(WHEEL_CHECK)/run && env -u VERBINDER_PLAYBOOK -u VERBINDER_DATABASE_URL \
	    ../../runtime/bin/verbinder playbook check
	cd $(WHEEL_CHECK)/run && env -u VERBINDER_PLAYBOOK -u VERBINDER_DATABASE_URL \
	    ../../runtime/bin/verbinder demo --folder demo > demo.txt 2>&1 || { cat demo.txt; exit 1; }
	grep -q "Incident 1 gesloten/closed" $(WHEEL_CHECK)/run/demo.txt
	@echo "wheel-check: the wheel, installed with only its locked runtime dependencies, ran playbook check and the demo"

## test: lint, import contracts, types, declared dependencies, the wheel and the whole suite
test: system-packages $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/deptry .
	$(BIN)/deptry tests -e '\.venv' --ignore DEP002,DEP004
	$(MAKE) wheel-check
	$(BIN)/pytest $(PYTEST_ARGS)

## lock: pin every package again, with hashes, from pyproject.toml (its dev extra included);
## versions already in requirements.lock are kept while they fit; then the runtime lock (the
## wheel's dependencies only, at those versions) for wheel-check. To move one package:
## `make lock LOCK_ARGS="--upgrade-package NAME"`; to move all: LOCK_ARGS=--upgrade.
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || \
	    ($(PY) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install -q $(PIP_TOOLS))
	$(LOCK_VENV)/bin/pip-compile --quiet --extra dev --all-build-deps --allow-unsafe \
	    --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links \
	    --output-file requirements.lock $(LOCK_ARGS) pyproject.toml
	$(LOCK_VENV)/bin/pip-compile --quiet --allow-unsafe --generate-hashes --strip-extras \
	    --no-emit-index-url --no-emit-find-links --constraint requirements.lock \
	    --output-file requirements-runtime.lock pyproject.toml

bench: system-packages $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) verbinder.db outbox .coverage .coverage.*
