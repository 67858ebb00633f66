# tillpay — common tasks. `make test` is what CI runs.
# Go from the official tarball lives in /usr/local/go/bin, often not on PATH.
export PATH := $(PATH):/usr/local/go/bin
GO      ?= go
BIN     ?= bin
PKGS    ?= ./...
FUZZTIME ?= 30s

# Every go command below builds in a workspace whose Fyne has an idle event
# loop and loads the language font on demand (see tools/fynepatch); it is
# written on first use.
WORKSPACE := $(CURDIR)/.build/go.work
export GOWORK := $(WORKSPACE)
# Fyne without its 4 MB colour-emoji font, which a till never shows and
# which Fyne would otherwise parse once per text style (about 20 MB).
export GOFLAGS := $(GOFLAGS) -tags=no_emoji

.PHONY: all deps workspace build till test vet fmt-check bench fuzz run demo clean

all: build

## deps: the Debian packages for cgo and Fyne (asks for sudo when not root)
deps:
	@bash scripts/install-deps.sh

## workspace: the build's Fyne (idle event loop, language font on demand), in .build/
workspace: $(WORKSPACE)

$(WORKSPACE): go.mod go.sum $(wildcard tools/fynepatch/*.go tools/fynepatch/overlay/*)
	GOWORK=off $(GO) run ./tools/fynepatch -out .build/fyne -work $@

build: till
	$(GO) build -o $(BIN)/ ./cmd/...

## till: $(BIN)/tillpay alone
till: $(WORKSPACE)
	$(GO) build -o $(BIN)/tillpay .

## run: the till with its bundled backend and a demo payer
run: deps build
	$(BIN)/tillpay $(ARGS)

## demo: one payment end to end, printed
demo: deps build
	bash scripts/demo.sh

## test: formatting, vet, and the whole suite under the race detector
test: fmt-check vet $(WORKSPACE)
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

vet: $(WORKSPACE)
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## bench: the performance figures, machine-readable (see docs/api.md, docs/scanners.md)
# Code verification runs with 1,000 and 1,000,000 payers (TILLPAY_BENCH_LARGE). The payments'
# share of the no-op rate runs long enough to be read: 60,000 of each.
bench: $(WORKSPACE)
	TILLPAY_BENCH_LARGE=1 $(GO) test -run '^$$' -bench . -skip 'PayHTTP/ratio' -benchmem $(PKGS)
	$(GO) test -run '^$$' -bench 'PayHTTP/ratio' -benchtime 60000x ./backend
	bash bench/serial/run.sh

## fuzz: run every fuzz target for FUZZTIME each (a duration, or a count such as 200000x)
fuzz: $(WORKSPACE)
	@FUZZTIME=$(FUZZTIME) GO=$(GO) bash scripts/fuzz.sh $(PKGS)

clean:
	rm -rf $(BIN) .build
