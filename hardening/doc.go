// Package hardening holds the adversarial tests of snp-vtpm: they prove
// that verification fails closed. The package has no code of its own; its
// tests (package hardening_test) mutate every region of real Azure evidence
// byte by byte, splice parts of different VMs and chips together, and fuzz
// the structured fields of decoded evidence, asserting that every rejection
// is a typed *verify.Error, that nothing panics, and that whatever is still
// accepted yields exactly the claims of the unmodified evidence.
//
// Run them with
//
//	go test ./hardening/...            # mutation, splicing, fuzz seeds
//	go test -v -run Mutation ./hardening/   # prints the per-region tables
//	go test -run '^$' -fuzz '^FuzzDecodedEvidence$' -fuzztime 60s -fuzzminimizetime 2s ./hardening/
//
// (also FuzzEvidence and FuzzIMDSParse). Keep -fuzzminimizetime short: an
// input verifies in about a millisecond, and the default minimization
// budget of 60 s per new input stalls the run. A crasher is written to
// testdata/fuzz/<Name>/ and must be committed: go test then replays it.
//
// See SECURITY.md at the repository root for the threat model these tests
// exercise.
package hardening
