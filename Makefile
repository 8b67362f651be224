# The two entry points on a fresh Debian 12 machine (as root):
#   make demo   install what is missing, build, run the demo
#   make test   install what is missing, build, run every test through CTest
BUILD_DIR ?= build
FUZZ_DIR ?= build-fuzz
BUILD_TYPE ?= RelWithDebInfo

.PHONY: all deps browser-deps configure build fuzz-build test demo bench clean

all: build

deps:
	@bash scripts/install-deps.sh

# Chromium, playwright-core and axe-core: only the browser tests need them.
browser-deps:
	@bash scripts/install-browser-tests.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > /dev/null

build: configure
	@cmake --build $(BUILD_DIR)

# The fuzz targets need clang and sanitizers: a build of their own, which
# holds nothing else (tests/fuzz/CMakeLists.txt lists them).
fuzz-build: deps
	@CXX=clang++ CC=clang cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCANOPY_FUZZ=ON > /dev/null
	@cmake --build $(FUZZ_DIR)

test: build fuzz-build browser-deps
	@cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600 -j2

demo: build
	@bash scripts/demo.sh $(BUILD_DIR)

bench: build browser-deps
	@bash bench/run.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) $(FUZZ_DIR)
