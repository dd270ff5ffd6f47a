# Two commands on a fresh machine:
#   make run    install everything into .venv/ and start the app
#   make test   install everything (Chromium too), lint with ruff and run every test
# A second run reuses what is installed: the stamps below only go stale when
# requirements*.txt change.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
APP_STAMP := $(VENV)/.app-installed
DEV_STAMP := $(VENV)/.dev-installed
CHROMIUM := /usr/bin/chromium
NGINX := /usr/sbin/nginx
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PORT ?= 8501

.PHONY: run test chromium nginx bench clean

run: $(APP_STAMP)
	MALLOC_ARENA_MAX=2 $(BIN)/streamlit run app.py --server.port $(PORT)

test: $(DEV_STAMP) chromium nginx
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: $(DEV_STAMP) chromium
	$(BIN)/python bench/run_all.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(APP_STAMP): requirements.txt constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(DEV_STAMP): requirements-dev.txt $(APP_STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# Debian's Chromium for the end-to-end tests (Playwright cannot download browsers here).
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "Installing Debian's chromium for the end-to-end tests"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# Debian's nginx for the scale-out test (tests/test_scaleout.py runs its own nginx in the
# foreground with deploy/nginx.conf; the system service is not used).
nginx:
	@if [ ! -x $(NGINX) ]; then \
		echo "Installing Debian's nginx for the scale-out test"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	fi

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache .hypothesis
