# ChatCLI AIOps Platform. `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO ?= go
# Pinned control-plane versions live in hack/etcd/go.mod and
# hack/controlplane/go.mod; changing them rebuilds the binaries.
BIN := $(CURDIR)/bin
SERVICES := instance-operator watcher-bridge correlator analyzer remediator postmortem-writer
GO_TEST_FLAGS ?= -race -count=1 -timeout=30m
# The code generators, Helm and golangci-lint are pinned in modules of their
# own under hack/tools, so their dependencies never reach the services.
TOOL := GOWORK=off $(GO) tool -modfile=hack/tools/go.mod
LINT_TOOL := GOWORK=off $(GO) tool -modfile=hack/tools/golangci/go.mod

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: generate
generate: ## Generate deepcopy code, CRDs and each service's RBAC into the chart, and Go code from proto/.
	$(TOOL) controller-gen object paths=./api/...
	$(TOOL) controller-gen crd:allowDangerousTypes=true paths=./api/... output:crd:artifacts:config=api/crds
	hack/chart-crds.sh
	hack/rbac.sh $(SERVICES)
	$(TOOL) buf generate

.PHONY: verify
verify: generate ## Regenerate, then fail if anything generated is stale.
	@git rev-parse --is-inside-work-tree >/dev/null 2>&1 || { echo "verify compares against git: run it in a checkout"; exit 1; }
	@if [[ -n "$$(git status --porcelain -- api proto charts)" ]]; then \
		git status --porcelain -- api proto charts; \
		git --no-pager diff --stat -- api proto charts; \
		echo "generated files are stale: run 'make generate' and commit"; exit 1; fi
	@for mod in . e2e hack/kwok hack/kubectl hack/tools hack/tools/protoc-gen hack/tools/golangci hack/tools/kal; do (cd $$mod && GOWORK=off $(GO) mod tidy -diff) || { echo "go.mod of $$mod is not tidy"; exit 1; }; done
	GOWORK=off $(GO) build ./...
	hack/check-pseudo-versions.sh
	GO=$(GO) hack/buf-breaking.sh

.PHONY: lint
lint: ## Run gofmt, go vet, golangci-lint, kube-api-linter, buf lint and helm lint.
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^hack/')); \
		if [[ -n "$$unformatted" ]]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(LINT_TOOL) golangci-lint run ./...
	cd e2e && $(GO) vet ./... && GOWORK=off $(GO) tool -modfile=../hack/tools/golangci/go.mod golangci-lint run ./...
	GOWORK=off $(GO) run -modfile=hack/tools/kal/go.mod ./hack/tools/kal/main.go -test=false ./api/...
	$(TOOL) buf lint
	GO=$(GO) hack/buf-breaking.sh
	$(TOOL) helm lint --strict charts/chatcli-aiops

##@ Build

.PHONY: build
build: ## Build the six services into bin/.
	GOWORK=off $(GO) build -o $(BIN)/ $(addprefix ./services/,$(SERVICES))

.PHONY: testenv-bins
testenv-bins: ## Build etcd, kube-apiserver, kube-controller-manager and kube-scheduler into bin/ (cached by their pins).
	hack/build-pinned.sh hack/etcd . etcd
	hack/build-pinned.sh hack/controlplane ./cmd/kube-apiserver kube-apiserver
	hack/build-pinned.sh hack/controlplane ./cmd/kube-controller-manager kube-controller-manager
	hack/build-pinned.sh hack/controlplane ./cmd/kube-scheduler kube-scheduler

# kwok (fake nodes) and kubectl for the local cluster of e2e/ and `make demo`,
# each pinned in a module of its own under hack/ and cached by its pins.
# Builds take turns with other heavy jobs through $(BUILD_LOCK); set
# BUILD_LOCK= when the caller already holds it.
BUILD_LOCK ?= /tmp/aiops-heavy.lock
export BUILD_LOCK

.PHONY: e2e-bins
e2e-bins: testenv-bins ## Build kwok and kubectl into bin/ as well (cached by their pins).
	hack/build-pinned.sh hack/kwok sigs.k8s.io/kwok/cmd/kwok kwok
	hack/build-pinned.sh hack/kubectl . kubectl

.PHONY: redis
redis: ## Install Debian's redis-server when it is missing.
	hack/ensure-redis.sh

##@ Test

.PHONY: test
# The e2e module runs every scenario it has (they are few and quick: the
# cluster starts in about 4 s): the fault stages heal only with the right fix,
# the services authenticate as their own chart ServiceAccounts, a burst of
# faults with Redis stopped gives one Issue each and a standby correlator
# takes over from a stopped leader, and a remediator killed mid-plan resumes
# without repeating its action (scenario 10), scenarios 4 (a
# Runbook's restart does not hold; the next attempt adjusts resources), 6 (a
# team Runbook beats the AI's actions), 9 (an Alertmanager alert, healed by
# a Runbook) and 11 (dry-run mode waits for an approval), and scenarios
# 1 (OOM), 2 (bad rollout) and 3 (no fix, escalate) assert fault -> Anomaly -> Issue ->
# Analyzing, and the rest of the loop where it has landed (a step that has
# not landed skips; `make e2e E2E_REQUIRE_FULL_LOOP=1` makes it fail).
test: redis testenv-bins e2e-bins build ## Run every test against a real API server and Redis, then the e2e scenarios.
	TESTENV_BIN_DIR=$(BIN) $(GO) test $(GO_TEST_FLAGS) ./...
	cd e2e && E2E_REQUIRE_FULL_LOOP=$(E2E_REQUIRE_FULL_LOOP) TESTENV_BIN_DIR=$(BIN) $(GO) test $(E2E_TEST_FLAGS) ./...

# No -race for e2e: the code under test runs in the service processes, and
# the harness is mostly waiting. -p 1: each package starts a control plane
# of its own (the scenarios' cluster, the chart's install test), and two at
# once on two cores starve each other's API servers.
E2E_TEST_FLAGS ?= -count=1 -timeout=20m -p 1
# The whole loop has landed: every scenario step must pass (0 lets the steps
# of services that are not there skip).
E2E_REQUIRE_FULL_LOOP ?= 1

.PHONY: e2e
e2e: redis e2e-bins build ## Run the end-to-end scenarios on a local cluster (E2E_REQUIRE_FULL_LOOP=1: every step of the loop must pass).
	cd e2e && E2E_REQUIRE_FULL_LOOP=$(E2E_REQUIRE_FULL_LOOP) TESTENV_BIN_DIR=$(BIN) $(GO) test $(E2E_TEST_FLAGS) -v ./...

.PHONY: bench
bench: redis testenv-bins e2e-bins build ## Run the benchmarks against a real API server and Redis, and the pipeline on the e2e cluster, and print a report.
	TESTENV_BIN_DIR=$(BIN) $(GO) run ./services/watcher-bridge/bench --watcher-bridge=$(BIN)/watcher-bridge
	TESTENV_BIN_DIR=$(BIN) $(GO) test -run '^$$' -bench 'Scrub|Overhead|InsightReady' -benchtime 100x -cpu 1 ./libs/scrub ./services/analyzer/internal/reconcilers/aiinsight
	TESTENV_BIN_DIR=$(BIN) $(GO) test -run '^$$' -bench ConcurrentAnalyses -benchtime 1x ./services/analyzer/internal/reconcilers/aiinsight
	$(GO) test -run '^$$' -bench RoundTrip -benchtime 500x ./libs/llm/providers
	TESTENV_BIN_DIR=$(BIN) $(GO) test -run '^$$' -bench IssueResolvedToPostMortem -benchtime 1x ./services/postmortem-writer/internal/reconcilers/postmortem
	TESTENV_BIN_DIR=$(BIN) $(GO) test -run '^$$' -bench PlanToFirstAction -benchtime 1x ./services/remediator/internal/reconcilers/remediationplan
	TESTENV_BIN_DIR=$(BIN) $(GO) test -run '^$$' -bench AnomalyToIssue -benchtime 1x ./services/correlator/internal/reconcilers/issue
	TESTENV_BIN_DIR=$(BIN) $(GO) test -run '^$$' -bench InstanceToDeploymentAndService -benchtime 1x ./services/instance-operator/internal/reconcilers/instance
	cd e2e && $(if $(BUILD_LOCK),flock $(BUILD_LOCK)) env GOWORK=off $(GO) build -o $(BIN)/pipelinebench ./cmd/pipelinebench
	$(BIN)/pipelinebench

##@ Run

.PHONY: demo
demo: redis e2e-bins build ## Run the platform on a local cluster, break a sample app two ways, show each incident and its PostMortem (KEEP=1 leaves it running).
	cd e2e && $(if $(BUILD_LOCK),flock $(BUILD_LOCK)) env GOWORK=off $(GO) build -o $(BIN)/demo ./cmd/demo
	$(BIN)/demo
