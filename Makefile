# kpilake: `make help` lists the targets. Every target fetches what it needs (npm packages, Go
# modules, staticcheck) on first use, so a machine with only Go and Node/npm is enough.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ENV ?=
# A template to diff against instead of the deployed stack (offline), e.g. a snapshot.
BASE ?=

BIN := $(CURDIR)/.build/bin
# The project's Node (>= 22, from package.json) and CDK CLI come first; jsii uses the node on PATH.
export PATH := $(CURDIR)/node_modules/.bin:$(BIN):$(PATH)

STATICCHECK_VERSION := v0.8.2
ACTIONLINT_VERSION := v1.7.12
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
CDK := cdk --no-notices --no-version-reporting
GO_TEST_FLAGS ?= -timeout 20m

NODE_STAMP := node_modules/.install-stamp
STATICCHECK := $(BIN)/staticcheck
ACTIONLINT := $(BIN)/actionlint
RIE := $(BIN)/aws-lambda-rie

.PHONY: help setup build demo synth diff deploy deploy-pipeline test test-unit lint snapshot-update bench bench-synth bench-synth-scale bench-extract bench-local clean require-env

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@node -e 'const [maj] = process.versions.node.split("."); if (+maj < 22) { console.error("Node " + process.version + " found; kpilake needs Node 22 or newer (npm ci installs it into node_modules)"); process.exit(1) }'
	@touch $@

$(RIE):
	GOBIN=$(BIN) go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

$(STATICCHECK):
	GOBIN=$(BIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(ACTIONLINT):
	GOBIN=$(BIN) go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

setup: $(NODE_STAMP) $(STATICCHECK) $(ACTIONLINT) ## install the CDK CLI, Node 24, Go modules, staticcheck and actionlint
	go mod download

build: ## compile everything, including the Lambda handlers for arm64
	go build ./...
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -trimpath -tags lambda.norpc,grpcnotrace -o /dev/null ./lambdas/cmd/...

DEMO_FLAGS ?=
KPILAKE := $(BIN)/kpilake

.PHONY: $(KPILAKE)
$(KPILAKE):
	CGO_ENABLED=1 go build -o $@ ./cmd/kpilake

demo: $(KPILAKE) ## run the sample week through the whole pipeline on this machine (no AWS, no server): KPI tables and lake/report.html
	$(KPILAKE) local run --lake lake --clean $(DEMO_FLAGS)

report-picture: ## draw docs/local-report.png, the README's picture of the local run's report (needs Chromium)
	scripts/report-picture.sh

synth: $(NODE_STAMP) ## synthesize templates into cdk.out (ENV=prod for one environment)
	rm -rf cdk.out
	$(CDK) synth $(if $(ENV),-c env=$(ENV)) --quiet
	@ls cdk.out/*.template.json

# With BASE, the tree's ENV is synthesized as the snapshot tests do and both sides are normalized
# alike (infra/review): only real changes show. BASE_ACCOUNT names the account BASE was synthesized
# for, if it was a real one.
BASE_ACCOUNT ?=
diff: $(NODE_STAMP) require-env ## diff ENV against the deployed stack (or BASE=template.json, offline and normalized)
ifneq ($(BASE),)
	go run ./infra/cmd/review -env $(ENV) -base $(BASE) $(if $(BASE_ACCOUNT),-account $(BASE_ACCOUNT))
else
	$(CDK) diff -c env=$(ENV) KpiLake-$(ENV)
endif

# broadening asks before a change that widens IAM or security groups, and fails where it cannot
# ask (no terminal, as in a CI job); APPROVAL=never deploys such a change without asking.
APPROVAL ?= broadening
deploy: $(NODE_STAMP) require-env ## deploy ENV (asks before widening IAM or security groups)
	$(CDK) deploy -c env=$(ENV) --require-approval $(APPROVAL) KpiLake-$(ENV)

deploy-pipeline: $(NODE_STAMP) ## deploy the CDK Pipelines stack once (kpilake.delivery.pipeline in cdk.json); it then deploys every environment and itself
	$(CDK) deploy --require-approval $(APPROVAL) KpiLake-pipeline

test: $(NODE_STAMP) ## run every test: units, constructs, snapshots, cdk-nag, cfn-lint
	go test $(GO_TEST_FLAGS) ./...

test-unit: ## the tests that need no service and no CDK synth (go test -short -tags unit): the inner loop; make test runs everything
	go test -short -tags unit $(GO_TEST_FLAGS) ./...

lint: $(STATICCHECK) $(ACTIONLINT) ## gofmt, go vet, staticcheck, actionlint (the GitHub workflows)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	GOFLAGS=-tags=lambda.norpc $(STATICCHECK) ./...
	$(ACTIONLINT) -no-color

snapshot-update: $(NODE_STAMP) ## rewrite test/testdata/*.template.json after an intended change
	go test ./test -run 'TestSnapshot' -update

.PHONY: diagram
diagram: $(NODE_STAMP) ## draw docs/architecture.svg (flow view) and docs/architecture-full.svg (inventory), with their .dot, from the synthesized dev stack; needs Graphviz
	@command -v dot >/dev/null || { echo "make diagram needs Graphviz's dot command: apt-get install graphviz (macOS: brew install graphviz)"; exit 1; }
	go test ./infra/diagram -run 'TestCommitted' -count=1 -update

bench: bench-synth bench-extract bench-backfill bench-coldstart bench-local ## every benchmark (figures as ratios against a baseline of the same run)

bench-synth: $(NODE_STAMP) ## make synth: time and peak RSS against an empty CDK Go app; the scaling table (1/10/50 sources, 5/100/500 KPIs)
	scripts/bench-synth.sh
	@$(MAKE) --no-print-directory bench-synth-scale

bench-synth-scale: $(NODE_STAMP) ## the scaling table alone: resources, template bytes and synth seconds of generated environments
	go test ./test -run '^$$' -bench '^BenchmarkSynthScaling$$' -benchtime 1x -timeout 30m 2>/dev/null | sed -n '/^synth scaling/,/^goos:/p' | grep -v '^goos:'

bench-local: ## make demo on a fresh clone (wall, after the build) and a 365-day local run (rows/s, peak RSS)
	scripts/bench-local.sh

bench-extract: ## extraction: rows/s and MB/s against `mariadb -B`, peak RSS at 100k and 1M rows
	KPILAKE_BENCH_ROWS=100000 go test ./lambdas/extract -run '^$$' -bench BenchmarkExtract -benchtime 1x -timeout 30m
	KPILAKE_BENCH_ROWS=1000000 go test ./lambdas/extract -run '^$$' -bench BenchmarkExtract -benchtime 1x -timeout 30m

.PHONY: bench-coldstart
bench-coldstart: $(RIE) ## each Lambda: zipped arm64 size, cold-start init under aws-lambda-rie, with and without tracing, vs a minimal Go function
	KPILAKE_RIE=$(RIE) go test ./lambdas/coldstart -run '^$$' -bench '^BenchmarkColdStart$$' -benchtime 1x -timeout 30m

.PHONY: bench-backfill
bench-backfill: ## backfill simulation (365 days x 5 KPIs and 73 days x 50 KPIs, quota 20, 20 workers; throttling, crashes): x ideal and x sequential; fails a missed goal
	go test ./lambdas/backfill/backfillsim -run '^$$' -bench '^BenchmarkBackfill$$' -benchtime 1x -timeout 30m

clean: ## remove build output
	rm -rf cdk.out .build

require-env:
	@if [ -z "$(ENV)" ]; then echo "give an environment: make $(MAKECMDGOALS) ENV=dev (see cdk.json context kpilake.environments)"; exit 2; fi
