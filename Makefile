# The two commands of the README: `make run` (set-up + end-to-end demo) and `make test` (set-up + tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_ARGS ?=

.PHONY: run test setup lint typecheck clean debian

setup: $(STAMP) debian

# torch first: on a machine without torch, a plain `torch` requirement pulls a multi-GB CUDA build,
# so install the CPU build 2.13.0 explicitly when no GPU is visible (users with CUDA get their normal torch).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || { \
	  if command -v nvidia-smi >/dev/null 2>&1; then $(BIN)/pip install torch; \
	  else $(BIN)/pip install torch==2.13.0 || $(BIN)/pip install torch --index-url https://download.pytorch.org/whl/cpu; fi; }
	$(BIN)/pip install -e ".[dev]"
	touch $(STAMP)

# Formal systems come from Debian packages: install them when root, otherwise say how. CoqHammer's `hammer`
# calls the ATPs eprover, z3 and cvc4 (`--coq.automation`); the Coq libraries beside the stdlib are training
# data and the cross-project test (`--coq.libraries`, `--coq.cross_libraries`; their folders under user-contrib).
COQ_LIBRARIES := stdpp flocq coquelicot mathcomp-ssreflect mathcomp-fingroup mathcomp-algebra ext-lib bignums \
  reglang aac-tactics
COQ_LIBRARY_DIRS := Hammer stdpp Flocq Coquelicot mathcomp/ssreflect mathcomp/fingroup mathcomp/algebra ExtLib \
  Bignums RegLang AAC_tactics
DEBIAN_PACKAGES := metamath metamath-databases coq libcoq-stdlib libcoq-hammer eprover z3 cvc4 \
  $(addprefix libcoq-,$(COQ_LIBRARIES))
debian:
	@if command -v metamath >/dev/null 2>&1 && [ -f /usr/share/metamath/databases/set.mm ] \
	  && command -v coqtop >/dev/null 2>&1 && [ -d /usr/lib/ocaml/coq/theories/Arith ] \
	  && (for d in $(COQ_LIBRARY_DIRS); do [ -d /usr/lib/ocaml/coq/user-contrib/$$d ] || exit 1; done) \
	  && command -v eprover >/dev/null 2>&1 && command -v z3 >/dev/null 2>&1 \
	  && command -v cvc4 >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_PACKAGES)) \
	  || echo "warning: could not install the formal systems; run: apt-get install $(DEBIAN_PACKAGES)"; \
	else echo "note: Metamath and Coq need: sudo apt-get install $(DEBIAN_PACKAGES)"; fi

run: setup
	$(BIN)/hyperprover demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy src/hyperprover

test: setup lint typecheck
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) dumped .pytest_cache .mypy_cache .ruff_cache
