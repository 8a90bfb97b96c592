# The two commands of the README:
#   make run    install deps if missing, build, generate the demo encoder, serve on 127.0.0.1:50051
#   make test   install deps if missing, build everything, run every test with CTest
BUILD_DIR  ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc)
DATA_DIR   ?= data
LISTEN     ?= 127.0.0.1:50051
PYTHON     ?= /usr/bin/python3
DEMO_MODEL := $(DATA_DIR)/models/demo

.PHONY: all deps configure build test run demo-model bench format clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# Skips itself (prints "up to date") when the model folder matches the script and catalog.
demo-model: deps
	@$(PYTHON) tools/make_test_encoder.py --out $(DEMO_MODEL) --build-vocab-from examples/catalog.jsonl

run: configure demo-model
	cmake --build $(BUILD_DIR) -j $(JOBS) --target semrec-server
	@mkdir -p $(DATA_DIR)
	$(BUILD_DIR)/server/semrec-server --listen=$(LISTEN) --model_dir=$(DEMO_MODEL) \
	    --catalog_file=examples/catalog.jsonl

# Index search vs raw hnswlib (SEMREC_BENCH_N items, default 20000), then the encoder stack.
bench: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target benchmarks
	$(BUILD_DIR)/benchmarks/index_benchmark
	$(BUILD_DIR)/benchmarks/encoder_benchmark

format:
	@git ls-files '*.h' '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
