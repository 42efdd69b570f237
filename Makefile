# otelcol-mcp: OpenTelemetry Collector distribution built with ocb.
#
#   make build     install the pinned ocb into ./bin if needed, build ./build/otelcol-mcp
#   make validate  build, then validate otelcol-config.yaml,
#                  deploy/agent-config.yaml and the overlays with the binary
#   make test      start/reuse PostgreSQL (scripts/pg-up.sh), build, go test -race ./...
#   make lint      gofmt -l (must print nothing), go vet ./... and golangci-lint
#                  (pinned in internal/tools/lint, rules in .golangci.yml)
#   make generate  regenerate each component's internal/metadata, lifecycle
#                  and goleak tests from its metadata.yaml with the mdatagen
#                  pinned in internal/tools/go.mod
#   make run       PostgreSQL + build, then run the collector in the foreground
#   make demo      PostgreSQL + build, then scripts/demo.sh
#   make bench     exporter, commit-floor, query and end-to-end benchmarks (bench/)
#   make chaos     fault scenarios (chaos/run.sh), results in .run/chaos/results.md
#   make soak      the default pipeline at RATE (5000) routed requests/s for
#                  DURATION (2h): RSS, queue, commit latency, freshness and rollup
#                  lag every 10 s into OUT (.run/soak)/soak.csv and soak.png,
#                  then reconcile (bench/soak.sh); e.g. make soak DURATION=6m
#   make realworld real MCP emitters end to end: traceloop and Sentry (npm),
#                  ToolHive vMCP v0.47.0 (built from the Go module proxy),
#                  each run checked row by row (e2e TestRealWorldEmitters)
#   make clean     stop the private PostgreSQL cluster (if pg-up.sh started one),
#                  remove build/ bin/ .run/ (.pgdata/ is kept; delete it by hand)

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

# The ocb version is defined once, in builder-config.yaml ("# ocb: vX.Y.Z");
# the Dockerfile reads the same line.
BUILDER_CONFIG := builder-config.yaml
OCB_VERSION := $(shell sed -n 's/^\# *ocb: *\(v[0-9][0-9.]*\).*/\1/p' $(BUILDER_CONFIG) | head -n 1)
ifeq ($(strip $(OCB_VERSION)),)
$(error could not read the ocb version ("# ocb: vX.Y.Z") from $(BUILDER_CONFIG))
endif
OCB_MODULE := go.opentelemetry.io/collector/cmd/builder
OCB := $(CURDIR)/bin/builder

DIST_NAME := otelcol-mcp
BINARY := build/$(DIST_NAME)
COLLECTOR_CONFIG ?= otelcol-config.yaml

GO ?= go

# PostgreSQL used by test/run/demo; scripts/pg-up.sh reads the same variables.
MCP_PG_HOST ?= 127.0.0.1
MCP_PG_PORT ?= 5432
export MCP_PG_HOST MCP_PG_PORT
# The tests connect with this DSN (an MCP_TEST_ADMIN_DSN from the environment wins).
MCP_TEST_ADMIN_DSN ?= postgres://postgres@$(MCP_PG_HOST):$(MCP_PG_PORT)/postgres?sslmode=disable
export MCP_TEST_ADMIN_DSN

.PHONY: build ocb validate test lint generate run demo clean pg-up pg-down bench chaos soak realworld realworld-npm rules-test

# Install the pinned ocb when ./bin/builder is missing or reports another version
# (`builder version` prints to stderr).
ocb:
	@have=$$([[ -x "$(OCB)" ]] && "$(OCB)" version 2>&1 || true); \
	if [[ "$$have" == *" $(OCB_VERSION)"* ]]; then \
		echo "ocb $(OCB_VERSION) present at $(OCB)"; \
	else \
		echo "installing ocb $(OCB_VERSION) into $(CURDIR)/bin"; \
		GOBIN="$(CURDIR)/bin" $(GO) install $(OCB_MODULE)@$(OCB_VERSION); \
	fi

# ocb regenerates ./build and lets the Go build cache decide what to recompile,
# so this always runs (a no-change rebuild takes well under a minute).
# --skip-strict-versioning=false makes ocb fail when dependency resolution moves
# the collector core or a listed component to another minor version than the one
# pinned in builder-config.yaml (ocb v0.165.0 skips that check by default).
OCB_FLAGS ?= --skip-strict-versioning=false
build: ocb
	"$(OCB)" --config $(BUILDER_CONFIG) $(OCB_FLAGS)
	@test -x $(BINARY)

AGENT_CONFIG ?= deploy/agent-config.yaml

validate: build
	./$(BINARY) validate --config $(COLLECTOR_CONFIG)
	@echo "$(COLLECTOR_CONFIG): valid"
	./$(BINARY) validate --config $(AGENT_CONFIG)
	@echo "$(AGENT_CONFIG): valid"
	./$(BINARY) validate --config $(COLLECTOR_CONFIG) --config deploy/router-alerts.yaml
	./$(BINARY) validate --config $(COLLECTOR_CONFIG) --config deploy/toolhive-vmcp-logs.yaml
	@echo "the overlays in deploy/: valid"

pg-up:
	bash scripts/pg-up.sh

pg-down:
	bash scripts/pg-down.sh

# The e2e tests run the distribution built here (OTELCOL_MCP_BIN). The npm
# packages let them run the traceloop and Sentry emitters too (e2e
# TestRealWorldEmitters; a registry that does not answer only skips them);
# vMCP runs when make realworld has built it.
#
# The alert rules are tested with the real evaluator: promtool from Debian's
# prometheus package (scripts/prometheus-up.sh installs it when missing; the
# e2e TestRouterAlertsInPrometheus runs a real Prometheus from it).
test: pg-up build realworld-npm rules-test
	MCP_REQUIRE_PROMETHEUS=1 OTELCOL_MCP_BIN=$(CURDIR)/$(BINARY) $(GO) test -race -count=1 -timeout 20m ./...

rules-test:
	bash scripts/prometheus-up.sh >/dev/null
	promtool check rules deploy/prometheus/otelcol-mcp-alerts.yaml deploy/prometheus/mcp-router-alerts.yaml
	promtool test rules deploy/prometheus/*_test.yaml

realworld-npm:
	@if [[ ! -d realworld/node_modules/@modelcontextprotocol/sdk || realworld/package-lock.json -nt realworld/node_modules/.package-lock.json ]]; then \
		(cd realworld && timeout 300 npm ci --no-audit --no-fund) || echo "warning: npm ci failed: the e2e tests skip the real JS emitters"; \
	fi

# golangci-lint is pinned in internal/tools/lint/go.mod (a module of its own,
# like mdatagen's) and built into ./bin when missing or of another version;
# .golangci.yml holds the rule set.
GOLANGCI_LINT := $(CURDIR)/bin/golangci-lint
GOLANGCI_LINT_VERSION := $(shell sed -n 's/^require github.com\/golangci\/golangci-lint\/v2 v\([0-9.]*\)$$/\1/p' internal/tools/lint/go.mod)

lint:
	@dirs=$$($(GO) list -f '{{.Dir}}' ./...); \
	out=$$(gofmt -l $$dirs | sort -u); \
	if [[ -n "$$out" ]]; then echo "gofmt -l reports unformatted files:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@have=$$([[ -x "$(GOLANGCI_LINT)" ]] && "$(GOLANGCI_LINT)" version 2>&1 || true); \
	if [[ -z "$(GOLANGCI_LINT_VERSION)" ]]; then echo "no golangci-lint version in internal/tools/lint/go.mod"; exit 1; fi; \
	if [[ "$$have" != *"version $(GOLANGCI_LINT_VERSION) "* ]]; then \
		echo "building golangci-lint v$(GOLANGCI_LINT_VERSION) into ./bin"; \
		(cd internal/tools/lint && $(GO) build -o "$(GOLANGCI_LINT)" github.com/golangci/golangci-lint/v2/cmd/golangci-lint); \
	fi
	$(GOLANGCI_LINT) run ./...

# mdatagen is pinned in internal/tools/go.mod, a module of its own so that its
# dependencies never move the collector's; it is built into ./bin from there.
# Each component's metadata.yaml is the source of its internal/metadata
# package, generated_component_test.go (lifecycle) and generated_package_test.go
# (goleak).
MDATAGEN := $(CURDIR)/bin/mdatagen
MDATAGEN_COMPONENTS := \
	connector/mcpstateconnector \
	exporter/mcppgexporter \
	processor/mcpsampler \
	processor/mcpnormalizer \
	extension/partitionmgr \
	extension/diskguard \
	receiver/mcpeventsreceiver

generate:
	cd internal/tools && $(GO) build -o "$(MDATAGEN)" go.opentelemetry.io/collector/cmd/mdatagen
	@for dir in $(MDATAGEN_COMPONENTS); do \
		echo "mdatagen $$dir/metadata.yaml"; \
		(cd "$$dir" && "$(MDATAGEN)" metadata.yaml); \
	done

# With the container image's Go runtime settings (scripts/runtime-env.sh).
run: pg-up build
	source scripts/runtime-env.sh && exec ./$(BINARY) --config $(COLLECTOR_CONFIG)

demo: pg-up build
	bash scripts/demo.sh

# Benchmarks whose figures go into docs/benchmarks.md and docs/queries.md.
bench: pg-up build
	bash bench/exporter.sh
	bash bench/commit_floor.sh
	bash bench/queries.sh
	bash bench/e2e_load.sh
	SIM_MODE=replay SAMPLING=default RATES="40000 50000 60000" STEP=30 PROFILE=0 bash bench/e2e_load.sh
	bash bench/agent_cost.sh

# Fault scenarios (chaos/run.sh): >= 1,000,000 events each, reconciled by
# anti-join, against a private PostgreSQL on 55432; see docs/reliability.md.
chaos: build
	bash chaos/run.sh

# Long run of the default pipeline (bench/soak.sh); fails when reconcile does.
soak: DURATION ?= 2h
soak: RATE ?= 5000
soak: OUT ?= .run/soak
soak: pg-up build
	DURATION=$(DURATION) RATE=$(RATE) OUT=$(OUT) bash bench/soak.sh

# npm ci installs the exact packages of realworld/package-lock.json; the
# first vMCP build takes about 10 minutes on 2 cores with an empty module
# cache, seconds after that.
realworld: pg-up build
	cd realworld && npm ci --no-audit --no-fund
	bash realworld/vmcp/build.sh
	MCP_REALWORLD=1 OTELCOL_MCP_BIN=$(CURDIR)/$(BINARY) $(GO) test -count=1 -timeout 20m -v -run TestRealWorldEmitters ./e2e/

clean:
	bash scripts/pg-down.sh
	rm -rf build bin .run
