# drgrade — the README's two commands are `make demo` and `make test`; both set up everything.
SHELL := /bin/bash
GO    ?= go
export DRGRADE_CACHE ?= $(HOME)/.cache/drgrade
export DRGRADE_VENV  ?= $(DRGRADE_CACHE)/venv
DATA  ?= data/synth
FULL  ?=
# Build variants (docs/setup.md); the default is the CPU libtorch 2.1.0.
#   CUDA=1        link torch 2.1.0's CUDA 12.1 libtorch (PyPI wheel + its nvidia-*-cu12 wheels)
#   TORCH=2.11.0  build against another torch release from PyPI (a CUDA build; 2.11.0 is checked)
# Both rewrite this tree's third_party/: use a separate copy (scripts/cuda-variants.sh does).
CUDA  ?=
TORCH ?=
ifneq ($(CUDA),)
export DRGRADE_CUDA := $(CUDA)
endif
ifneq ($(TORCH),)
export DRGRADE_TORCH_VERSION := $(TORCH)
endif

.PHONY: all setup build test demo pyenv parity goldens bench fmt vet clean
.PHONY: bench-data
.PHONY: bench-forward bench-go bench-serve
.PHONY: cuda-variants mutants browser retina

# Headless Chromium for the browser tests (trainer/report), installed when missing.
browser:
	@./scripts/chromium.sh

# The real fundus photo the tests use (skimage/data/retina.jpg, CC0), fetched once into the cache.
retina:
	@./scripts/retina.sh

all: build

# libtorch 2.1 + the gotch glue under third_party/ (a no-op when nothing changed).
setup:
	@./setup-libtorch.sh

build: setup
	$(GO) build -o bin/drgrade ./cmd/drgrade

# go test compares against the committed goldens; `make parity` compares live against PyTorch.
# Every skip must be on .ci/skips-test.txt (scripts/skipcheck reads go test -json): a test that
# quietly skips is a failure, not a pass.
test: setup browser retina
	$(GO) vet ./...
	set -o pipefail; $(GO) test -count=1 -timeout 45m -json ./... | $(GO) run ./scripts/skipcheck -allow .ci/skips-test.txt
	$(GO) test -count=1 -race ./vision/loader/ ./trainer/metrics/ ./trainer/tblog/ ./vision/dataset/ ./trainer/plot/

# The PyTorch oracle: a venv with torch 2.1.0, torchvision 0.16.0, ... (python/requirements.txt).
pyenv:
	@./scripts/pyenv.sh

# Re-run every committed generator in the venv and compare drgrade against its live output.
parity: setup pyenv retina
	set -o pipefail; DRGRADE_PARITY=1 $(GO) test -count=1 -timeout 60m -json -run Parity ./... | $(GO) run ./scripts/skipcheck -allow .ci/skips-parity.txt

# Rewrite the committed goldens from the venv (review the diff before committing).
goldens: setup pyenv
	DRGRADE_PARITY=update $(GO) test -count=1 -run Parity ./...

# The main job on a synthetic data set, in under 10 minutes on 2 CPU cores: 1200 images of
# 256 px (made once), ShuffleNetV2 x0.5 from scratch at 128 px for 10 epochs, the best epoch by
# quadratic weighted kappa. One libtorch thread: with the loader worker on the other core, more
# threads oversubscribe the CPU and run several times slower.
DEMO_OUT ?= DRresults/demo
demo: build
	bin/drgrade version
	test -f $(DATA)/train.txt || bin/drgrade synth --out $(DATA) --n 1200 --size 256 --overwrite
	bin/drgrade summary --data_path $(DATA) --num_classes 5
	bin/drgrade train --data_path $(DATA) --num_classes 5 --model shufflenet_small --weights "" \
		--epochs 10 --batch_size 32 --img_size 128 --lr 0.002 --best_metric kappa \
		--threads 1 --num_workers 1 --output $(DEMO_OUT)
	bin/drgrade eval --data_path $(DATA) --num_classes 5 --model shufflenet_small --img_size 128 \
		--weights $(DEMO_OUT)/weights/shufflenet_small/DDR.pth --threads 1 --num_workers 1 --out $(DEMO_OUT)/eval \
		--report $(DEMO_OUT)/eval/report.html

# drgrade vs the researcher's PyTorch script, every item of the benchmark issue in one
# interleaved run, one table (bench/README.md); then the serving load table (bench-serve).
# QUICK by default, FULL=1 for the long ones.
bench: build pyenv
	FULL=$(FULL) ./bench/run.sh
	FULL=$(FULL) ./bench/run_serve.sh

# The Go micro-benchmarks (Benchmark* functions), 3 iterations each.
bench-go: setup
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...

# drgrade's training steps against PyTorch's on the same NVIDIA GPU, fp32 and AMP, one table
# (docs/gpu-check.md); exit 2 without a GPU or with a CPU build (use `make gpu-check CUDA=1`).
# On a GPU machine without Go: scripts/gpu-check.sh with a prebuilt CUDA bin/drgrade.
.PHONY: gpu-check
gpu-check: build
	./scripts/gpu-check.sh

# Data pipeline images/s from JPEG, drgrade's loader vs PyTorch's DataLoader (bench/README.md);
# QUICK by default, FULL=1 for more images and pairs.
bench-data: setup pyenv
	FULL=$(FULL) ./bench/run_data.sh

# Milliseconds per eval forward of every zoo model, drgrade vs PyTorch on the same libtorch
# (bench/README.md); QUICK by default, FULL=1 for more pairs, BENCH_MODELS=a,b for a subset.
bench-forward: setup pyenv
	FULL=$(FULL) ./bench/run_forward.sh

# drgrade serve against a plain PyTorch HTTP handler with the same batching rule, on loopback
# (docs/serving.md): images/s, latency, RSS at 1, 8, 32 clients; FULL=1 for 10,000 requests.
bench-serve: build pyenv
	FULL=$(FULL) ./bench/run_serve.sh

# The two CUDA variants (torch 2.1.0 cu121, torch 2.11.0 cu13), each built in its own copy of
# this checkout under ~/.cache/drgrade/variants, checked with `drgrade version` and a short CPU
# training against the default build's numbers (scripts/cuda-variants.sh). No GPU needed.
cuda-variants: build
	DRGRADE_REF_BIN=$(CURDIR)/bin/drgrade ./scripts/cuda-variants.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

vet: setup
	$(GO) vet ./...

clean:
	rm -rf bin
	find third_party -mindepth 1 -maxdepth 1 ! -name README.md ! -name patches -exec rm -rf {} +

# One-line breaks of the port that make test must catch (scripts/mutants.py; not part of CI:
# ~4 min once built). Writes the table to docs/mutants.md.
mutants: setup
	python3 scripts/mutants.py --write
