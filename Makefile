# syntheo: `make demo` and `make test` work on a fresh clone (they install what they need first).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-install
DEMO_DIR ?= demo-out
DEMO_SIZE ?= 549
PYTEST_ARGS ?=

.PHONY: demo test install clean

install: $(STAMP)

# Reinstalls only when the package definition changes (second `make test` installs nothing).
$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: install
	$(BIN)/l2a simulate --out $(DEMO_DIR)/l2a --start 2018-06-01 --end 2018-08-31 --size $(DEMO_SIZE) --seed 1
	@echo "Simulated L2A products are in $(DEMO_DIR)/l2a (ground truth in $(DEMO_DIR)/l2a/truth)."

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache *.egg-info
