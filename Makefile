# Two commands do everything on a fresh machine with Python 3.11: `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard book/*.ipynb))
PORT ?= 8000

# Every notebook's committed outputs are one run (`make notebooks`, on the author's machine).
# `make test` runs every notebook twice more (CONTRIBUTING, "Claims"), the two passes side by side:
#   nbval-seed  every seed shifted by SEED_OFFSET, on this CPU: nothing compared, every assert must hold;
#   nbval-cpu   another CPU instruction set (ATEN_CPU_CAPABILITY=default), the committed seeds:
#               outputs of cells tagged nbval-check-output must be reproduced, every assert must hold.
# `make nbval` (as committed, this CPU, outputs compared) is the quick check while writing a chapter.
SEED_OFFSET ?= 7
NBVAL := $(PY) -m pytest -q -p no:cacheprovider -p tools.nbtimes --nbval-lax --nbval-current-env \
	--nbval-sanitize-with tools/nbval_sanitize.cfg

.PHONY: install book translations pdf lab dist test lint unit nbval nbval-seed nbval-cpu checks site-check artifacts-check notebooks serve clean

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH (or PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

book: $(STAMP)
	rm -rf _build/html _build/.doctrees
	$(VENV)/bin/jupyter-book build --warningiserror --nitpick --keep-going --path-output . .
	$(PY) tools/build_edition.py zh_CN
	@echo "The site is in $(CURDIR)/_build/html/index.html, the Chinese edition in _build/html/zh_CN (make serve to browse it)"

# After changing a page's text: refresh the catalogs of the translated editions, then translate
# what is new or fuzzy (CONTRIBUTING, "Translations"); `make test` fails until none is left.
translations: $(STAMP)
	$(PY) tools/translations.py update
	$(PY) tools/translations.py check || true

# The whole book as one PDF: every page of the built site printed by the system Chromium.
pdf: $(STAMP)
	test -f _build/html/index.html || $(MAKE) --no-print-directory book
	$(PY) tools/print_pdf.py _build/html _build/pdf/book.pdf

# JupyterLab on the chapters, from the venv, on 127.0.0.1 only (LAB_ARGS=--no-browser on a server).
LAB_ARGS ?=
lab: $(STAMP)
	$(PY) -m ipykernel install --sys-prefix --name python3 \
	    --display-name "Python 3 (attnbook: Attention in Depth and Breadth)" >/dev/null
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=book \
	    --LabApp.extension_manager=readonly $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# The attnbook wheel, so a downloaded chapter runs anywhere: pip install dist/attnbook-*.whl
dist: $(STAMP)
	rm -rf dist
	$(PY) -m pip wheel --no-deps --no-build-isolation -q -w dist .
	@ls -l dist/*.whl

lint: $(STAMP)
	$(PY) -m ruff check src tests tools book _ext
	$(PY) -m ruff format --check src tests tools _ext

unit: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests --ignore=tests/artifacts --ignore=tests/reader

nbval: $(STAMP)
	$(NBVAL) --notebook-times _build/notebook-times.json book

nbval-seed: $(STAMP)
	ATTNBOOK_SEED_OFFSET=$(SEED_OFFSET) $(NBVAL) --nbval-no-compare \
	    --notebook-times _build/notebook-times-seed.json book

nbval-cpu: $(STAMP)
	ATEN_CPU_CAPABILITY=default $(NBVAL) --notebook-times _build/notebook-times-cpu.json book

# The site as a reader gets it: built, printed, checked in the browser; JupyterLab and the wheel.
site-check: $(STAMP)
	$(MAKE) --no-print-directory book
	$(MAKE) --no-print-directory pdf
	ATTNBOOK_REQUIRE_BUILD=1 $(PY) -m pytest -q -p no:cacheprovider \
	    tests/artifacts/test_site.py tests/artifacts/test_reader_view.py tests/reader

# The unit tests, the two notebook passes and the site, two at a time (the machines have 2 cores).
checks: $(STAMP)
	$(MAKE) --no-print-directory -j2 --output-sync=target nbval-seed nbval-cpu unit site-check

# Run after nbval-seed: every notebook was timed (on this CPU), none over the limit.
artifacts-check: $(STAMP)
	ATTNBOOK_REQUIRE_BUILD=1 $(PY) -m pytest -q -p no:cacheprovider tests/artifacts/test_notebook_times.py

test: lint checks artifacts-check
	@echo "make test: all checks passed"

notebooks: $(STAMP)
	$(PY) tools/execute_notebooks.py $(NOTEBOOKS)

serve:
	@echo "Serving _build/html on http://127.0.0.1:$(PORT)"
	$(PY) -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

clean:
	rm -rf _build
