# tillpay — common tasks. `make test` is what CI runs.
GO      ?= go
BIN     ?= bin
PKGS    ?= ./...
FUZZTIME ?= 30s

.PHONY: all build test vet fmt-check bench fuzz run demo clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/... .

## test: formatting, vet, and the whole suite under the race detector
test: fmt-check vet
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## bench: the performance figures, machine-readable (see docs/operations.md)
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN)
