# Two commands do everything on a fresh machine with Python 3.11: `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard book/*.ipynb))
PORT ?= 8000

.PHONY: install book test lint unit nbval artifacts-check notebooks serve clean

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH (or PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

book: $(STAMP)
	rm -rf _build/html _build/.doctrees
	$(VENV)/bin/jupyter-book build --warningiserror --nitpick --keep-going --path-output . .
	@echo "The site is in $(CURDIR)/_build/html/index.html (make serve to browse it)"

lint: $(STAMP)
	$(PY) -m ruff check src tests tools book
	$(PY) -m ruff format --check src tests tools

unit: $(STAMP)
	$(PY) -m pytest -q tests --ignore=tests/artifacts

nbval: $(STAMP)
	$(PY) -m pytest -q -p tools.nbtimes --nbval --nbval-current-env \
	    --nbval-sanitize-with tools/nbval_sanitize.cfg book

artifacts-check: $(STAMP)
	ATTNBOOK_REQUIRE_BUILD=1 $(PY) -m pytest -q tests/artifacts

test: lint unit nbval book artifacts-check
	@echo "make test: all checks passed"

notebooks: $(STAMP)
	$(PY) tools/execute_notebooks.py $(NOTEBOOKS)

serve:
	@echo "Serving _build/html on http://127.0.0.1:$(PORT)"
	$(PY) -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

clean:
	rm -rf _build
