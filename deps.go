//go:build tools

package tools

import (
	_ "github.com/google/go-sev-guest/verify"
	_ "github.com/google/go-sev-guest/validate"
	_ "github.com/google/go-sev-guest/abi"
	_ "github.com/google/go-sev-guest/kds"
	_ "github.com/google/go-sev-guest/testing"
	_ "github.com/google/go-tpm/tpm2"
	_ "github.com/google/go-tpm/tpm2/transport/linuxtpm"
	_ "github.com/google/go-tpm-tools/simulator"
	_ "github.com/spf13/cobra"
	_ "github.com/prometheus/client_golang/prometheus"
)
