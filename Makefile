# Benchmarks (DESIGN.md §7).
#   make bench          every benchmark in bench/, within 30 minutes on 2 cores, then bench/REPORT.md
#                       with its PNG figures in bench/figures/ (results and logs in bench/results/)
#   make bench-quick    the same with each benchmark's smallest settings: a smoke run of a few minutes
#   make bench-report   redraw bench/REPORT.md from the results already in bench/results/
# BENCH_ARGS passes options to bench/run_all.py, e.g. make bench BENCH_ARGS="--only chaos,ha_lb".
# Like ./run and ./test, a fresh machine is set up first (scripts/setup.sh), plus matplotlib.

SHELL := /bin/bash
PYTHON := .venv/bin/python
BENCH_STAMP := .venv/.hakube-bench-installed
BENCH_ARGS ?=

.PHONY: bench bench-quick bench-report bench-setup

bench: bench-setup
	$(PYTHON) bench/run_all.py $(BENCH_ARGS)

bench-quick: bench-setup
	$(PYTHON) bench/run_all.py --quick $(BENCH_ARGS)

bench-report: bench-setup
	$(PYTHON) bench/report.py

# setup.sh is idempotent (etcd, HAProxy, the venv with hakube); the bench extra is reinstalled
# only when pyproject.toml changes, as setup.sh does for the test extra.
bench-setup:
	scripts/setup.sh
	@if [ ! -f $(BENCH_STAMP) ] || [ pyproject.toml -nt $(BENCH_STAMP) ]; then \
		echo "[bench] installing hakube with the bench extra (matplotlib) into .venv" >&2; \
		.venv/bin/pip install -q --disable-pip-version-check -e '.[bench]' && touch $(BENCH_STAMP); \
	fi
