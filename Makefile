# relais — run `make help` for the targets.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -s -w -X main.version=$(VERSION)

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build ./bin/relais
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/relais ./cmd/relais

.PHONY: demo
demo: ## Run the demo (simulated providers, no key, no network)
	$(GO) run ./cmd/relais demo

.PHONY: test
test: ## Run the whole test suite (what CI runs)
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...

.PHONY: fuzz
fuzz: ## Fuzz the parsers of untrusted input for a short while
	$(GO) test -run '^$$' -fuzz FuzzPeek -fuzztime 30s ./internal/gateway/
	$(GO) test -run '^$$' -fuzz FuzzReadEvent -fuzztime 30s ./internal/gateway/
	$(GO) test -run '^$$' -fuzz FuzzReadNamedEvent -fuzztime 30s ./internal/gateway/
	$(GO) test -run '^$$' -fuzz FuzzChatToMessages -fuzztime 30s ./internal/translate/
	$(GO) test -run '^$$' -fuzz FuzzMessagesToChat -fuzztime 30s ./internal/translate/
	$(GO) test -run '^$$' -fuzz FuzzResponses -fuzztime 30s ./internal/translate/
	$(GO) test -run '^$$' -fuzz FuzzStreams -fuzztime 30s ./internal/translate/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./internal/config/

.PHONY: bench
bench: ## Micro-benchmarks of the hot-path pieces
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1s ./internal/...

.PHONY: bench-load
bench-load: ## Load benchmark: relais vs a plain proxy vs direct (~10 min, needs the machine) → ./bench-results/
	$(GO) run ./cmd/relais bench --out bench-results

.PHONY: lint
lint: ## gofmt, go vet, and golangci-lint when installed
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	@if command -v golangci-lint >/dev/null; then golangci-lint run; else echo "golangci-lint not installed: skipped"; fi
