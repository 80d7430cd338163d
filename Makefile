# Two commands do everything on a fresh machine: `make book` and `make test`.
# With a folder named book/ at the top, every target must be .PHONY.
.PHONY: help venv data book test test-unit bench gpu-check colab-check lab clean

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Profile for the book: smoke, cpu or full (default: full with CUDA, else cpu)
PROFILE ?=

help:
	@echo "make book   build the book (executes every chapter) -> _build/html/index.html"
	@echo "make test   unit tests + every chapter under COURSE_PROFILE=smoke + a smoke book build"
	@echo "make bench  benchmarks -> book/running_costs.md (BENCH_BUILDS=1: also time make book/test from fresh clones)"
	@echo "make gpu-check  on a CUDA machine: every chapter on the GPU (smoke), then the full profile -> bench/results/gpu.json"
	@echo "make colab-check  every chapter in a bare environment (only what the course declares) -> bench/results/colab.json"
	@echo "make lab    JupyterLab with the course installed"
	@echo "make data   fetch the data sets only"

# (Re)create the virtualenv when the dependency lists change.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

venv: $(STAMP)

data: $(STAMP)
	$(BIN)/python -m course_lib data prepare

book: data
	$(BIN)/python tools/build_book.py $(if $(PROFILE),--profile $(PROFILE))

# COURSE_STRICT=1: the chapters run with strict placement (course_lib.strict_placement), so a
# tensor that would sit on the wrong device on a GPU fails here too
test: data
	COURSE_PROFILE=smoke COURSE_STRICT=1 COURSE_PROGRESS=0 $(BIN)/python -m pytest

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests -m "not book"

bench: data
	$(BIN)/python bench/run_all.py

gpu-check: data
	$(BIN)/python bench/gpu_check.py

# Every chapter from a student's seat: a fresh environment holding only ipykernel, the course
# installed by the chapter's first cell from a wheel, chapters run from outside the repository
colab-check: data
	$(BIN)/python tools/isolated_run.py

lab: data
	$(BIN)/jupyter lab --notebook-dir=.

clean:
	rm -rf _build
