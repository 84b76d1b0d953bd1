# TenantOMS developer commands. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# A shared target dir outside the clone keeps repeated runs fast; a fresh machine just fills it.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/tenantoms/target
# CI builds a fresh clone once: incremental state only fills the shared target dir (every clone
# path adds its own, tens of GB over a day of runs).
ifeq ($(CI),true)
export CARGO_INCREMENTAL ?= 0
endif
JOBS ?= 2
CARGO ?= cargo

.PHONY: lambda-local lambda-local-check fuzz schema-check deploy template-check lambda-bins test test-inner test-long tools fmt-check clippy deps-check services-up services-down unit build serve bench lambda clean

SERVICES := scripts/services.sh
# Exports the endpoints `services.sh start` wrote (read at run time, not when make parses).
WITH_SERVICES := set -a && . ./.services/env && set +a &&

## test: formatting, lints, the services the tests need, and every test; services stop afterwards
test:
	@rc=0; $(MAKE) --no-print-directory test-inner || rc=$$?; \
	$(MAKE) --no-print-directory services-down; \
	if [ $$rc -eq 0 ]; then echo "make test: all checks passed"; else echo "make test: FAILED" >&2; fi; \
	exit $$rc

# Services start before clippy, so DynamoDB Local is up by the time the tests are compiled.
test-inner: tools fmt-check services-up template-check schema-check clippy deps-check lambda-bins unit lambda-local-check

## test-long: as `make test`, with the long property-test counts against DynamoDB Local
test-long:
	@rc=0; OMS_LONG_TESTS=1 $(MAKE) --no-print-directory test-inner || rc=$$?; \
	$(MAKE) --no-print-directory services-down; exit $$rc

## services-up / services-down: DynamoDB Local, moto and redis-server (installed on first use); fails loudly
services-up:
	@$(SERVICES) start all

services-down:
	@$(SERVICES) stop all

## tools: the rustup components and Debian's Chromium (GraphiQL's headless test) `make test`
## needs (no-op when present)
tools:
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }
	@$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@$(CARGO) clippy --version >/dev/null 2>&1 || rustup component add clippy
	@command -v chromium >/dev/null || { echo "tools: installing Debian's chromium (headless GraphiQL test)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| { echo "tools: chromium could not be installed (apt-get install chromium)" >&2; exit 1; }

## lambda-bins: the Lambda binaries for the fake-Runtime-API tests (host arch), in the
## lambda-host profile: release with panic = "abort", as deployed
LAMBDA_BINS := graphql webhook-add-order webhook-shipment-tracker event-consumer outbox-relay notifier
lambda-bins:
	$(CARGO) build -j$(JOBS) --profile lambda-host $(addprefix --bin ,$(LAMBDA_BINS))

## template-check: cfn-lint and sam validate --lint on template.yaml (offline; tools in a venv)
template-check:
	@scripts/tools.sh check

## schema-check: schema.graphql against schema/released.graphql (GraphQL Inspector, npm): a
## breaking change fails unless the released schema is updated in the same change; the
## self-test proves the check refuses a removed field and a changed argument type
schema-check:
	@scripts/schema-check.sh
	@scripts/schema-check.sh --self-test

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy -j$(JOBS) --workspace --all-targets -- -D warnings

## deps-check: the domain crate stays pure (no AWS, Lambda, HTTP, async runtime, I/O or RNG crate)
DOMAIN_FORBIDDEN := ^(aws-|lambda|tokio|hyper|http|reqwest|mio|socket2|redb|redis|rand|getrandom|async-|axum|tower)
deps-check:
	@bad=$$($(CARGO) tree -p domain -e normal --prefix none | grep -E '$(DOMAIN_FORBIDDEN)' | sort -u || true); \
	if [ -n "$$bad" ]; then echo "domain depends on forbidden crates:"; echo "$$bad"; exit 1; fi; \
	echo "deps-check: domain is free of I/O crates"

## unit: every test of the workspace (cargo-nextest when installed, cargo test otherwise)
unit:
	@$(WITH_SERVICES) if $(CARGO) nextest --version >/dev/null 2>&1; then \
		echo "+ cargo nextest run --workspace"; \
		$(CARGO) nextest run -j$(JOBS) --workspace --no-fail-fast; \
	else \
		echo "+ cargo test --workspace (cargo-nextest not installed)"; \
		$(CARGO) test -j$(JOBS) --workspace --no-fail-fast; \
	fi

build:
	$(CARGO) build -j$(JOBS) --workspace

## lambda-local: the six functions on this machine under `cargo lambda watch`, over DynamoDB Local
## and moto, their environment in .lambda-local/env; invoke with scripts/invoke.sh
## (events/README.md). Ctrl-C stops it; `make services-down` stops the emulators.
lambda-local: services-up
	@JOBS=$(JOBS) scripts/lambda-local.sh

## lambda-local-check: events/README.md's local invokes, word for word, each answer checked
lambda-local-check:
	@$(WITH_SERVICES) JOBS=$(JOBS) scripts/lambda-local-check.sh

## fuzz: every cargo-fuzz target in fuzz/ for FUZZ_SECONDS (default 600) each; nightly and
## cargo-fuzz are installed on first use; a crash stops with its reproducer
fuzz:
	scripts/fuzz.sh

## serve: run the product locally (embedded store, dev IdP; no AWS, no Docker)
serve:
	$(CARGO) run -j$(JOBS) --release --bin oms -- serve

## bench: criterion micro-benchmarks (domain, store on the embedded store and on DynamoDB Local,
## auth, api) and the API's DynamoDB cost and scale model, each Lambda binary's cold start and
## size, load over loopback (scripts/load.sh: oms serve on core 0, wrk and oha on core 1); ends
## with one table and target/bench/report.json (scripts/bench-report.py)
CRITERION_ARGS ?= --warm-up-time 1 --measurement-time 3
bench:
	@rc=0; $(MAKE) --no-print-directory services-up lambda-bins && \
	( $(WITH_SERVICES) $(CARGO) bench -j$(JOBS) -p domain -p store -p auth-tests -p edge-tests -p testkit --bench '*' -- $(CRITERION_ARGS) && \
	  $(CARGO) build -j$(JOBS) --release --bin oms && \
	  scripts/load.sh $(CARGO_TARGET_DIR)/release/oms && \
	  scripts/bench-report.py $(CARGO_TARGET_DIR)/criterion target/bench ) || rc=$$?; \
	$(MAKE) --no-print-directory services-down; exit $$rc

## lambda: the deployable arm64 artifacts, by `sam build` itself (it runs `cargo lambda build
## --release --arm64 --bin <function>` for each function of template.yaml) into .aws-sam/build.
## The release profile is tuned for size here, and only here (oms and the tests keep the plain
## release profile), in a target dir of its own so the two never rebuild each other. opt-level z:
## graphql 10.7 MB against 12.0 at s; the functions wait on DynamoDB, not on the CPU. cargo-lambda
## and zig come from PyPI into the tools virtualenv, the arm64 target from rustup.
LAMBDA_TARGET_DIR ?= $(HOME)/.cache/tenantoms/target-lambda
LAMBDA_PROFILE := CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
	CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_PANIC=abort \
	CARGO_PROFILE_RELEASE_STRIP=symbols
lambda:
	@bin=$$(scripts/tools.sh lambda) && PATH="$$bin:$$PATH" \
		env $(LAMBDA_PROFILE) CARGO_TARGET_DIR=$(LAMBDA_TARGET_DIR) CARGO_BUILD_JOBS=$(JOBS) \
		SAM_CLI_TELEMETRY=0 sam build
	@echo "arm64 bootstraps (target <= 10 MB):"; \
	for f in .aws-sam/build/*Function/bootstrap; do \
		awk -v n="$$(basename $$(dirname $$f))" -v s="$$(stat -c %s $$f)" 'BEGIN { printf "  %-32s %5.1f MB\n", n, s / 1e6 }'; \
	done

## deploy: what to run (needs AWS credentials): sam build, then sam deploy --config-env dev|prod
deploy:
	@echo "sam build && sam deploy --config-env dev --parameter-overrides Stage=dev CursorKey=\$$(openssl rand -base64 32)"

clean:
	$(CARGO) clean
