# SkipLSTM: thin wrapper over Python entry points. `make rtl` and `make test` set up .venv
# on first use (scripts/setup.sh); later runs do no set-up work.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.setup-done
export PATH := $(abspath $(VENV))/bin:$(PATH)
export AMARANTH_USE_YOSYS := builtin

CONFIG  ?= configs/default.toml
# The shipped PTB model is baked into the default configuration only; any other CONFIG builds
# without weights (parameters loaded through s_axis_w) unless WEIGHTS names a bundle or .npz.
DEFAULT_WEIGHTS := $(if $(filter configs/default.toml ./configs/default.toml,$(CONFIG)),models/ptb,)
WEIGHTS ?= $(DEFAULT_WEIGHTS)
OUT     ?= build/rtl
PYTEST_ARGS ?=
SIM     ?=
WAVES   ?=

.PHONY: setup rtl lint synth bitstream bench soak test golden sim train eval clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	VENV=$(VENV) bash scripts/setup.sh
	touch $@

# TARGET=ecp5: lane multipliers and weight block RAMs as MULT18X18D / DP16KD primitives
TARGET  ?= generic
rtl: $(STAMP)
	$(PY) -m flow.generate --config $(CONFIG) --out $(OUT) --target $(TARGET) $(if $(WEIGHTS),--weights $(WEIGHTS))

lint: rtl
	$(PY) -m flow.lint --config $(CONFIG) --dir $(OUT)

# ECP5-85F synthesis, place and route of CONFIG (LANES=16,32,64,128 sweeps the lane count):
# build/reports/synth.{json,md}. Tens of minutes for the default configuration.
LANES ?=
synth: $(STAMP)
	$(PY) -m flow.synth --config $(CONFIG) --weights "$(WEIGHTS)" --lanes "$(LANES)"

# ULX3S-85F bitstream of the board top (UART host bridge + core, WEIGHTS baked in) with the
# YoWASP tools: build/bitstream/skiplstm_ulx3s.bit, build/reports/bitstream.{json,md}.
# The core clock comes from the ECP5 PLL: MHZ= lists frequencies to try, highest first (default
# from build/reports/synth.json); the first that meets timing in context is kept. Fails if
# none does. About 30 minutes per attempt for the default configuration.
BAUD ?= 1000000
MHZ ?=
bitstream: $(STAMP)
	$(PY) -m flow.bitstream --config $(CONFIG) --weights "$(WEIGHTS)" --baud $(BAUD) --mhz "$(MHZ)"

# The shipped PTB model through the RTL on the compiled Verilator harness: BENCH_CHARS test
# characters sparse (all: the whole test set), a slice dense, RTL BPC, PyTorch on one core in
# the same run: build/reports/bench.{json,md}, bench_cycles.png.
BENCH_CHARS ?= 50000
bench: $(STAMP)
	$(PY) -m sim.bench --chars $(BENCH_CHARS)

# Randomized soak: SOAK_STEPS steps over SOAK_CONFIGS seeded configurations on Verilator, a
# slice on Icarus; build/reports/soak.json. A mismatch prints a replay command.
SOAK_STEPS ?= 1000000
SOAK_CONFIGS ?= 22
SOAK_SEED ?= 1
soak: $(STAMP)
	$(PY) -m sim.soak --steps $(SOAK_STEPS) --configs $(SOAK_CONFIGS) --seed $(SOAK_SEED)

# The whole regression on both cores (pytest-xdist; JOBS=1 runs it in one process).
JOBS ?= 2
test: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadfile $(PYTEST_ARGS)

sim: $(STAMP)
	SIM=$(SIM) WAVES=$(WAVES) $(PY) -m pytest tests/test_cocotb.py $(PYTEST_ARGS)

# Full training. PTB: a dense start (7 epochs, build/train/ptb_start), then from it, side by
# side, the dense baseline (18 more dense epochs) and the pruned model (18 epochs: the sparsity
# ramps to 91.5% with the smooth count at theta 0.1 over 6, recovers over 11, one quantisation-
# aware epoch), so both have 25 epochs. MNIST: dense and pruned, 160 epochs each from scratch
# on training images moved by up to 2 pixels, side by side. Then the evaluation report.
# Seeded, one torch thread per run; the pruned runs show the progress bar, the dense ones append
# to build/train/<name>.out; per-epoch logs in build/train/; an interrupted `make train`
# continues where it stopped, to the same models. Writes models/; commit what should ship.
# Measured cost in the README.
PTB_START  = build/train/ptb_start
PTB_FINE   = --init $(PTB_START) --lr 1.6e-2 --epochs 18 --valid-limit 100000
PTB_PRUNED = --penalty l0 --theta 0.1 --tau 0.025 --target 0.915 --prune-start 0.0 --warmup 0.3333 \
             --l1-max 20 --qat-epochs 1
DENSE      = --theta 0 --target 0 --l1 0 --qat-epochs 0
train: $(STAMP)
	$(PY) -m train.ptb --resume --out $(PTB_START) --epochs 7 $(DENSE)
	$(MAKE) -j2 train-ptb-dense train-ptb
	$(MAKE) -j2 train-mnist-dense train-mnist
	$(PY) -m train.evaluate

.PHONY: train-ptb-dense train-ptb train-mnist-dense train-mnist
train-ptb-dense: $(STAMP)
	mkdir -p build/train
	$(PY) -m train.ptb --resume --out models/ptb_dense $(PTB_FINE) $(DENSE) \
	    >> build/train/ptb_dense.out 2>&1
train-ptb: $(STAMP)
	$(PY) -m train.ptb --resume --out models/ptb $(PTB_FINE) $(PTB_PRUNED)
train-mnist-dense: $(STAMP)
	mkdir -p build/train
	$(PY) -m train.mnist --resume --out models/mnist_dense $(DENSE) >> build/train/mnist_dense.out 2>&1
train-mnist: $(STAMP)
	$(PY) -m train.mnist --resume --out models/mnist

# Report from the shipped models (a few minutes): build/reports/accuracy.{json,md}, threshold
# sweeps, training curves and per-unit sparsity (PNG)
eval: $(STAMP)
	$(PY) -m train.evaluate

golden: $(STAMP)
	$(PY) -m pytest tests/golden $(PYTEST_ARGS)

clean:
	rm -rf build sim_build
