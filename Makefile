# Two commands matter: `make bench` (measure this machine) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of PyTorch; installed only where no torch is present, so a GPU
# machine keeps its CUDA build. Set TORCH= to skip PyTorch altogether.
TORCH ?= torch==2.13.0
# The spark backend's pyspark, installed where Java is found; SPARK= skips it (about 0.5 GB).
SPARK ?= yes
SUITE ?= quick
RESULTS ?= results
ARGS ?=

.PHONY: bench test bench-self install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	@if [ -n "$(TORCH)" ] && ! $(BIN)/python -c "import torch" 2>/dev/null; then \
		echo "Installing $(TORCH)"; $(BIN)/python -m pip install -q "$(TORCH)"; fi
	@if [ -n "$(SPARK)" ] && command -v java >/dev/null; then \
		echo "Installing pyspark (Java found)"; $(BIN)/python -m pip install -q -e '.[spark]'; fi
	@touch $@

$(VENV)/.test: $(VENV)/.bench
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

install: $(VENV)/.bench
install-test: $(VENV)/.test

# On a machine with an NVIDIA driver, `sizeup doctor` says first what the run will be able to measure there.
bench: install
	@if command -v nvidia-smi >/dev/null; then $(BIN)/sizeup doctor || true; fi
	@$(BIN)/sizeup run --suite $(SUITE) --results-dir $(RESULTS) $(ARGS); status=$$?; \
		$(BIN)/sizeup report --results-dir $(RESULTS); exit $$status

# Two workers; a test that measures (marked quiet) has the machine to itself while it runs.
test: install-test
	$(BIN)/python -m pytest -n 2 --dist worksteal --ignore=tests/benchmarks $(ARGS)

# The harness measuring itself (sampler overhead); kept out of `make test`'s timing.
bench-self: install-test
	$(BIN)/python -m pytest tests/benchmarks -o addopts="" -s --benchmark-columns=min,median,iqr,rounds $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks *.egg-info
