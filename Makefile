# syntheo: `make demo` and `make test` work on a fresh clone (they install what they need first).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-install
DEMO_DIR ?= demo-out
DEMO_SIZE ?= 366
DEMO_TILES ?= T30TYP T30TYN T31TCJ T31TCH
DEMO_MONTHS ?= 2018-07 2018-08
PYTEST_ARGS ?=

.PHONY: demo test install clean

install: $(STAMP)

# Reinstalls only when the package definition changes (second `make test` installs nothing).
$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Simulated L2A products of 4 tiles over June-August 2018, then the
# monthly syntheses of July and August for every tile.
demo: install
	$(BIN)/l2a simulate --out $(DEMO_DIR)/l2a --tiles $(shell echo $(DEMO_TILES) | tr ' ' ',') \
		--start 2018-06-01 --end 2018-08-31 --size $(DEMO_SIZE) --seed 1
	@for month in $(DEMO_MONTHS); do for tile in $(DEMO_TILES); do \
		$(BIN)/l3a compose $(DEMO_DIR)/l2a --tile $$tile --month $$month --out $(DEMO_DIR)/l3a || exit 1; \
	done; done
	@echo "L2A products: $(DEMO_DIR)/l2a (ground truth: $(DEMO_DIR)/l2a/truth); L3A syntheses: $(DEMO_DIR)/l3a"

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache *.egg-info
