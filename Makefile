# Two commands do everything on a fresh machine with Python 3.11: `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard book/*.ipynb))
PORT ?= 8000

# Every notebook's committed outputs are one run (`make notebooks`, on the author's machine).
# `make test` runs every notebook once more (CONTRIBUTING, "Claims"), in `nbval-check`: every seed
# shifted by SEED_OFFSET (other data, other initialisations, other batch orders) and another CPU
# instruction set (ATEN_CPU_CAPABILITY=default): every assert must hold, and the outputs of cells
# tagged nbval-check-output (exact by construction: shapes, closed forms, hand examples) must be
# reproduced. The notebooks are spread over NBVAL_JOBS processes (pytest-xdist, one notebook
# per process at a time).
# `make nbval` (as committed, this CPU, outputs compared) is the quick check while writing a chapter.
SEED_OFFSET ?= 7
NBVAL := $(PY) -m pytest -q -p no:cacheprovider -p tools.nbtimes --nbval-lax --nbval-current-env \
	--nbval-sanitize-with tools/nbval_sanitize.cfg

.PHONY: install book book-en book-zh_CN translations pdf lab dist test lint unit nbval nbval-check checks site-check artifacts-check notebooks serve clean

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH (or PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

# Both editions at once (one core each): English into _build/html, Chinese into _build/html/zh_CN.
book: $(STAMP)
	rm -rf _build/html _build/.doctrees
	$(MAKE) --no-print-directory -j2 --output-sync=target book-en book-zh_CN
	@echo "The site is in $(CURDIR)/_build/html/index.html, the Chinese edition in _build/html/zh_CN (make serve to browse it)"

book-en: $(STAMP)
	$(VENV)/bin/jupyter-book build --warningiserror --nitpick --keep-going --path-output . .

book-zh_CN: $(STAMP)
	$(PY) tools/build_edition.py zh_CN

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
	$(PY) -m ruff format --check src tests tools _ext book

unit: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests --ignore=tests/artifacts --ignore=tests/reader

nbval: $(STAMP)
	$(NBVAL) --notebook-times _build/notebook-times.json book

NBVAL_JOBS ?= 2
nbval-check: $(STAMP)
	ATTNBOOK_SEED_OFFSET=$(SEED_OFFSET) ATEN_CPU_CAPABILITY=default $(NBVAL) \
	    -n $(NBVAL_JOBS) --dist loadfile --notebook-times _build/notebook-times-check.json book

# The site as a reader gets it: both editions built, printed, checked in the browser;
# JupyterLab and the wheel. (ATTNBOOK_SCREENSHOTS=1 also saves every page to _build/screenshots.)
site-check: $(STAMP)
	$(MAKE) --no-print-directory book
	$(MAKE) --no-print-directory pdf
	ATTNBOOK_REQUIRE_BUILD=1 $(PY) -m pytest -q -p no:cacheprovider \
	    tests/artifacts/test_site.py tests/artifacts/test_reader_view.py tests/reader

# All three at once: the site check mostly waits on the browser and the unit tests take one
# core, so the notebooks (two at a time) fill what the others leave idle. Run in sequence they
# took 657 s on 2 cores, one core idle for most of the site check. The notebooks' time limit
# (tests/artifacts/test_notebook_times.py, 400 s) guards against a runaway, not a busy machine.
checks: $(STAMP)
	$(MAKE) --no-print-directory -j3 --output-sync=target nbval-check unit site-check

# Run after nbval-check: every notebook was timed (on this CPU), none over the limit.
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
