# Tidemark: `make test` runs every test target; `make run` runs the verifier's default campaign.
# Both install the system packages they need (Debian) when missing.
# `make bench` (opt-in) measures the store beside a raw fdatasync loop and SQLite.

SWIFT ?= swift
SYSTEM_PACKAGES := libsqlite3-dev faketime libfaketime

.PHONY: deps build test run release bench install clean

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

## install: the release CLI into $(PREFIX)/bin (default /usr/local/bin, on PATH), so every
## `tidemark ...` line in the README and the reports runs as printed. DESTDIR stages it.
PREFIX ?= /usr/local
TIDEMARK_BIN ?= .build/release/tidemark
install: release
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(TIDEMARK_BIN) $(DESTDIR)$(PREFIX)/bin/tidemark

clean:
	rm -rf .build
