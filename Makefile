# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean system-packages chromium

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

$(STAMP): requirements.lock pyproject.toml | system-packages
	test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
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

## test: lint, import contracts and the whole test suite
test: system-packages $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest

bench: system-packages $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) verbinder.db outbox
