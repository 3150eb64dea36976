// Package bench holds the verifier's performance benchmarks and the ratio
// check of BENCHMARKS.md. It has no code outside its tests:
//
//	go test ./bench -run TestRatios -v -count 1                   # the ratios, printed
//	SNPVTPM_ASSERT_RATIOS=1 go test ./bench -run TestRatios -v -count 1   # and asserted
//	go test ./bench -run '^$' -bench . -benchmem                  # the benchmarks
//	go run ./bench/loadgen                                        # snp-vtpm serve under load
//	go run ./bench/loadgen -null                                  # the HTTP floor (a null server, same client)
//	go run ./bench/loadgen -servers old=BIN,new=self,null -rounds 5  # interleaved per-core ratios
//
// The benchmarks measure, in one process and one run, the cryptographic
// floor of a verification (one ECDSA P-384, one RSA-4096 PSS and one
// RSA-2048 PKCS#1 v1.5 verification over the bytes actually signed), the
// verification of fresh evidence (a verify.Verifier with its cache
// disabled), of repeat evidence with one long-lived Verifier (the same VM and HCL report with a new quote each time), and the
// straightforward pipeline a user would write with go-sev-guest on the same
// evidence. See BENCHMARKS.md at the repository root for results and what
// limits them.
package bench
