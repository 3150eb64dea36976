# snp-vtpm: build, test, fuzz, and create an Azure Confidential VM.
#
#   make build            static, cgo-free release binary bin/snp-vtpm (no TPM simulator)
#   make build-emulated   cgo binary bin/snp-vtpm-emulated with --emulate
#   make test             go vet (with and without cgo) + all tests with the race detector (mutation sweeps sampled)
#   make sweep            the full mutation sweeps and the 10 000-document cache test (CI runs it)
#   make fuzz             every fuzz target for FUZZTIME each
#   make bench            the verifier's performance ratios (BENCHMARKS.md; SNPVTPM_ASSERT_RATIOS=1 asserts the goals)
#   make deploy           create the CVM (settings: deploy/azure.sh; DRY_RUN=1 prints the az commands)
#   make delete           delete the CVM's resource group, after asking (YES=1: without; DRY_RUN=1 too)
#   make install-cvm CONFIDENTIAL_VM=<address>   build, copy bin/snp-vtpm to /usr/local/bin on the CVM

GO          ?= go
BIN         ?= bin
PKG         := ./cmd/snp-vtpm
TEST_TIMEOUT ?= 20m
FUZZTIME    ?= 10s
ADMIN_USER  ?= azureuser
# CONFIDENTIAL_VM is the CVM's address (printed by make deploy).
CONFIDENTIAL_VM ?=

# deploy/azure.sh reads its settings from the environment (never from the
# recipe's command line, so that no value is read by the shell).
export RESOURCE_GROUP VM_NAME LOCATION VM_SIZE IMAGE_ID ADMIN_USER SSH_KEY PUBLIC_IP SSH_SOURCE YES DRY_RUN CONFIDENTIAL_VM BIN

.PHONY: all build build-emulated check-release test sweep fuzz bench deploy delete install-cvm clean

all: build

# The release binary: no cgo, so no TPM simulator and no emulator; static.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(BIN)/snp-vtpm $(PKG)
	@$(MAKE) --no-print-directory check-release

# check-release fails unless bin/snp-vtpm was built without cgo and
# contains no TPM simulator.
check-release:
	@$(GO) version -m $(BIN)/snp-vtpm | grep -q 'CGO_ENABLED=0' \
		|| { echo "error: $(BIN)/snp-vtpm was built with cgo" >&2; exit 1; }
	@! $(GO) version -m $(BIN)/snp-vtpm | grep -q 'go-tpm-tools' \
		|| { echo "error: $(BIN)/snp-vtpm contains go-tpm-tools (the TPM simulator)" >&2; exit 1; }
	@if command -v file >/dev/null 2>&1; then \
		file $(BIN)/snp-vtpm | grep -q 'statically linked' \
		|| { echo "error: $(BIN)/snp-vtpm is not statically linked" >&2; exit 1; }; \
	fi
	@echo "$(BIN)/snp-vtpm: static, no cgo, no TPM simulator"

# With cgo: the emulated Azure CVM is built in (--emulate).
build-emulated:
	CGO_ENABLED=1 $(GO) build -trimpath -o $(BIN)/snp-vtpm-emulated $(PKG)

test:
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) vet ./...
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

# The sweeps make test samples, in full: every mutation of every real
# fixture (hardening) and 10 000 rejected documents through one cache.
sweep:
	SNPVTPM_FULL_SWEEP=1 $(GO) test -count=1 -timeout $(TEST_TIMEOUT) -run 'TestMutation|TestRejectedEvidenceLeavesNoMemo' ./hardening/ ./verify/

# Runs each fuzz target (found with go test -list) for FUZZTIME
# (scripts/fuzz-target.sh: a Go 1.26 coordinator deadline race is retried once).
fuzz:
	@set -e; \
	targets=$$($(GO) test -list '^Fuzz' ./... | awk '/^Fuzz/ { f[n++] = $$1 } /^ok/ { for (i = 0; i < n; i++) print $$2 " " f[i]; n = 0 }'); \
	if [ -z "$$targets" ]; then echo "no fuzz targets"; exit 0; fi; \
	echo "$$targets" | while read -r pkg target; do \
		echo "== $$pkg $$target ($(FUZZTIME))"; \
		GO="$(GO)" scripts/fuzz-target.sh "$$pkg" "$$target" $(FUZZTIME); \
	done

# Floor, fresh, repeat and go-sev-guest measured interleaved; prints the
# ratios with min/median/max over SNPVTPM_RATIO_ROUNDS rounds (default 5).
bench:
	$(GO) test ./bench -run TestRatios -v -count=1 -timeout $(TEST_TIMEOUT)

deploy:
	@bash deploy/azure.sh deploy

delete:
	@bash deploy/azure.sh delete

install-cvm: build
	@bash deploy/azure.sh install

clean:
	rm -rf $(BIN)
