// Package bench holds the verifier's performance benchmarks and the ratio
// check of BENCHMARKS.md. It has no code outside its tests:
//
//	go test ./bench -run TestRatios -v              # the ratios, printed
//	SNPVTPM_ASSERT_RATIOS=1 go test ./bench -run TestRatios -v   # and asserted
//	go test ./bench -run '^$' -bench . -benchmem     # the benchmarks
//
// The benchmarks measure, in one process and one run, the cryptographic
// floor of a verification (one ECDSA P-384, one RSA-4096 PSS and one
// RSA-2048 PKCS#1 v1.5 verification over the bytes actually signed), the
// verification of fresh evidence (verify.Options.DisableCache), of repeat
// evidence (the same VM and HCL report with a new quote each time), and the
// straightforward pipeline a user would write with go-sev-guest on the same
// evidence. bench/loadgen drives `snp-vtpm serve` under concurrent load.
package bench
