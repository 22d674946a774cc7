# Legate: every target installs what it needs first (the pinned Node 24 comes from npm).
NODE  := node_modules/.bin/node
STAMP := node_modules/.legate-installed

.PHONY: all deps test-tools fuzz-deps fuzz run test typecheck unit bench profile clean conformance

all: deps

$(STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(STAMP)

deps: $(STAMP)

run: $(STAMP)
	bin/legate -c config/demo.yaml

# The Debian tools the tests drive (curl, openssl, h2load/nghttp, python3-grpcio), installed when missing.
test-tools:
	@test/support/install-test-tools.sh

# The fuzzer's native part (test/fuzz/install-runtime.sh: a newer glibc for its prebuilt addon when needed).
FUZZ_LAUNCHER := node_modules/.cache/legate-fuzz/launcher
$(FUZZ_LAUNCHER): $(STAMP) test/fuzz/install-runtime.sh
	@test/fuzz/install-runtime.sh

fuzz-deps: $(FUZZ_LAUNCHER)

# Long coverage-guided fuzzing: make fuzz FUZZ_SECONDS=3600 FUZZ_TARGETS='http1-request hpack-decoder' (test/fuzz/README.md)
FUZZ_SECONDS ?= 300
fuzz: fuzz-deps
	$(NODE) test/fuzz/fuzz-run.ts --seconds=$(FUZZ_SECONDS) $(FUZZ_TARGETS)

typecheck: $(STAMP)
	$(NODE) node_modules/typescript/bin/tsc --noEmit -p tsconfig.json

# Every test: type-check, then the node:test suites (real sockets on 127.0.0.1).
test: test-tools fuzz-deps typecheck
	$(NODE) --test --test-concurrency=2 --test-timeout=120000 'test/**/*.test.ts'

# The public conformance suites on their own (h2spec from ../shared/tools over h2c, TLS and AUTO); `make test` runs them too.
conformance: test-tools $(STAMP)
	$(NODE) --test --test-timeout=120000 test/e2e/h2spec.test.ts

# make bench ARGS='--quick' (or --only legate,nginx --reps 5 ...; see bench/README.md)
bench: $(STAMP)
	$(NODE) bench/run.ts $(ARGS)

# One Legate worker under wrk with V8's CPU profiler: CPU per request by thread (user/kernel) and the hot functions.
# make profile ARGS='--scenario close-5b --profile minimal' (bench/profile.ts --help)
profile: $(STAMP)
	$(NODE) bench/profile.ts $(ARGS)

clean:
	rm -rf node_modules
