# Tidemark: `make test` runs every test target; `make run` runs the verifier's default campaign.
# Both install the system packages they need (Debian) when missing.
# `make bench` (opt-in) measures the store beside a raw fdatasync loop and SQLite.
# `make fuzz` (opt-in) runs libFuzzer on every decoder for FUZZ_SECONDS each.

SWIFT ?= swift
SYSTEM_PACKAGES := libsqlite3-dev faketime libfaketime chromium strace sqlite3 python3-plyvel

.PHONY: deps build test run release bench sqlite-matrix install fuzz fuzz-build clean

RUN_OUT ?= Reports/latest

## deps: install missing system packages with apt-get (only those absent).
deps:
	@missing=""; \
	for pkg in $(SYSTEM_PACKAGES); do \
	  dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

build: deps
	$(SWIFT) build

## test: build everything (library, CLI, tests) and run every test target.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

## release: build the tidemark CLI optimized (what `make run` uses).
release: deps
	$(SWIFT) build -c release --product tidemark

## run: the verifier's default campaign: every scenario in Scenarios/ with its own seed count,
## a summary table, and the HTML report path. Exits non-zero when an expectation is not met.
run: release
	@rm -rf $(RUN_OUT)
	.build/release/tidemark run Scenarios/*.yaml --out $(RUN_OUT) --junit $(RUN_OUT)/junit.xml

## bench: `tidemark bench` (release build) on a temporary directory in this one: the store beside a
## raw fdatasync loop and SQLite, as a table. Opt-in and never part of `make test`. BENCH_FLAGS adds flags.
bench: release
	.build/release/tidemark bench $(BENCH_FLAGS)

## sqlite-matrix: SQLite in every journal mode x synchronous setting, explored under every
## persistence model (Scripts/sqlite-matrix.py); prints the table the README quotes. Opt-in.
SQLITE_MATRIX_SEEDS ?= 20
sqlite-matrix: release
	Scripts/sqlite-matrix.py --tidemark .build/release/tidemark --seeds $(SQLITE_MATRIX_SEEDS) --out Reports/sqlite-matrix

## install: the release CLI into $(PREFIX)/bin (default /usr/local/bin, on PATH), so every
## `tidemark ...` line in the README and the reports runs as printed. DESTDIR stages it.
PREFIX ?= /usr/local
TIDEMARK_BIN ?= .build/release/tidemark
install: release
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(TIDEMARK_BIN) $(DESTDIR)$(PREFIX)/bin/tidemark

## fuzz: libFuzzer (swiftc -sanitize=fuzzer, its own build directory so normal builds never need
## the sanitizer) on each target in FUZZ_TARGETS for FUZZ_SECONDS. New inputs go to a scratch
## corpus, then `-merge=1` adds only those with new coverage to Fuzz/corpus/<target>/; crashes land
## in Fuzz/crashes/<target>/, which `make test` replays. Each target's libFuzzer log is kept in
## .build/fuzz/logs/ (its last lines give the executions run). Opt-in, never part of `make test`.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= log-segment log-payload checkpoint manifest synced-record cold-row scenario failure-file trace
FUZZ_FLAGS ?= -max_len=8192 -timeout=10 -rss_limit_mb=2048
FUZZ_BUILD := .build/fuzz
FUZZ_BINARY := $(FUZZ_BUILD)/release/tidemark-fuzz

fuzz-build: deps
	$(SWIFT) build -c release --scratch-path $(FUZZ_BUILD) -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING --product tidemark-fuzz

fuzz: fuzz-build
	@status=0; for target in $(FUZZ_TARGETS); do \
	  mkdir -p Fuzz/corpus/$$target Fuzz/crashes/$$target $(FUZZ_BUILD)/work/$$target $(FUZZ_BUILD)/logs; \
	  echo "fuzz $$target for $(FUZZ_SECONDS) s"; \
	  TIDEMARK_FUZZ_TARGET=$$target $(FUZZ_BINARY) $(FUZZ_FLAGS) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=Fuzz/crashes/$$target/ $(FUZZ_BUILD)/work/$$target Fuzz/corpus/$$target \
	    > $(FUZZ_BUILD)/logs/$$target.log 2>&1 || { status=1; echo "  CRASH: see Fuzz/crashes/$$target/"; }; \
	  grep -E "stat::number_of_executed_units|^Done" $(FUZZ_BUILD)/logs/$$target.log | sed 's/^/  /'; \
	  TIDEMARK_FUZZ_TARGET=$$target $(FUZZ_BINARY) -merge=1 Fuzz/corpus/$$target $(FUZZ_BUILD)/work/$$target > /dev/null 2>&1; \
	done; exit $$status

clean:
	rm -rf .build
