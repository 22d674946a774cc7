# Legate: every target installs what it needs first (the pinned Node 24 comes from npm).
NODE  := node_modules/.bin/node
STAMP := node_modules/.legate-installed

.PHONY: all deps test-tools run test typecheck unit bench clean

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

typecheck: $(STAMP)
	$(NODE) node_modules/typescript/bin/tsc --noEmit -p tsconfig.json

# Every test: type-check, then the node:test suites (real sockets on 127.0.0.1).
test: test-tools typecheck
	$(NODE) --test --test-concurrency=2 --test-timeout=120000 'test/**/*.test.ts'

# make bench ARGS='--quick' (or --only legate,nginx --reps 5 ...; see bench/README.md)
bench: $(STAMP)
	$(NODE) bench/run.ts $(ARGS)

clean:
	rm -rf node_modules
