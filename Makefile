# The two commands of the README: `make serve` and `make test`. Both create their own virtualenv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 4000

.PHONY: serve test bench lint clean

$(BIN)/switchyard: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

serve: $(BIN)/switchyard
	$(BIN)/switchyard serve --host $(HOST) --port $(PORT) $(if $(CONFIG),--config $(CONFIG))

# The admin console's browser tests drive Debian's chromium (tests/e2e/test_ui.py); without it they skip.
CHROMIUM ?= /usr/bin/chromium

$(CHROMIUM):
	-@command -v apt-get >/dev/null && (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 \
		|| echo "chromium not installed: the browser tests will be skipped" >&2

test: $(BIN)/switchyard $(CHROMIUM)
	$(BIN)/ruff check src tests bench
	$(BIN)/pytest -q

bench: $(BIN)/switchyard
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache
