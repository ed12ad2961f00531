# Signet — the two commands a new user needs are `make run` and `make test`.
GO      ?= go
BIN     := bin/signet
export GOTOOLCHAIN := local
export CGO_ENABLED := 1

# VERSION is what `signet version` prints: git describe of this checkout (a worktree too), or
# nothing outside one (a tarball, even unpacked inside another repository), and then the binary
# prints what the Go toolchain recorded. Stamped by make because the toolchain records the commit
# only in a plain clone and never with GOFLAGS=-buildvcs=false.
VERSION := $(shell p=$$(git rev-parse --show-prefix 2>/dev/null) && [ -z "$$p" ] && git describe --always --dirty 2>/dev/null)

.PHONY: run build test deps vet lint unit bench fuzz soak clean

## run: build and start the server with the embedded demo configuration.
## LISTEN=host:port chooses the address; ARGS passes more flags to signet serve.
run: build
	./$(BIN) serve $(if $(LISTEN),--listen $(LISTEN)) $(ARGS)

## build: compile the signet binary into bin/.
build:
	$(GO) build $(if $(VERSION),-ldflags '-X main.version=$(VERSION)') -o $(BIN) ./cmd/signet

## test: install what the tests need (Debian packages, as root, only if missing), then vet, lint and run every test.
test: deps vet lint unit

deps:
	@./scripts/install-deps.sh

vet:
	$(GO) vet ./...

lint:
	$(GO) tool staticcheck -checks all ./...

unit:
	$(GO) test -count=1 -timeout 20m ./...

## bench: start a server on loopback and run the benchmark suite; writes BENCHMARKS.md.
bench: build
	./scripts/bench.sh

## fuzz: run every fuzz target for FUZZTIME each (default 60s); a crasher fails it and is kept in testdata/fuzz/.
FUZZTIME ?= 60s
fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

## soak: 64 clients x 60 s on loopback with 10 % hostile requests and 200 stalled connections; fails on a 5xx, a lost valid request or peak RSS over 256 MiB.
soak: build
	$(GO) run ./scripts/soak -bin $(BIN)

## clean: remove the binary and the demo's data folder, with the audit key and sealed head kept beside it
## (a data folder deleted alone is taken for a wiped audit log, and the next start is refused).
clean:
	rm -rf bin signet-data signet-data.audit-key signet-data.audit-key.head
