# Tidemark: `make test` runs every test target; `make run` runs the verifier's default campaign.
# Both install the system packages they need (Debian) when missing.

SWIFT ?= swift
SYSTEM_PACKAGES := libsqlite3-dev faketime libfaketime

.PHONY: deps build test run clean

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

clean:
	rm -rf .build
