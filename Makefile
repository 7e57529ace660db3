# regbench: `make bench` and `make test` work on a fresh machine (Python 3.11, package registries only).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
WORKERS ?= 2
SUITE ?= suites/default.yaml

.PHONY: install bench test report clean perf

install: $(STAMP)

$(STAMP): pyproject.toml examples/plugins/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	# the example plugins (R1, SN + GP), found through their entry point like any third-party package
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e examples/plugins
	touch $(STAMP)

bench: install
	@start=$$(date +%s); \
	$(BIN)/regbench run $(SUITE) --workers $(WORKERS) && \
	$(BIN)/regbench report results/$$(basename $(SUITE) .yaml) --out reports/$$(basename $(SUITE) .yaml) && \
	echo "make bench: total $$(( $$(date +%s) - start )) s (after install)"

test: install
	$(BIN)/python -m pytest

report: install
	$(BIN)/regbench report results/$$(basename $(SUITE) .yaml) --out reports/$$(basename $(SUITE) .yaml)

clean:
	rm -rf results build .pytest_cache *.egg-info
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +

perf: install
	$(BIN)/python scripts/perf.py
