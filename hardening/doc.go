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
//	go test -run '^$' -fuzz FuzzDecodedEvidence -fuzztime 60s ./hardening/
//
// See SECURITY.md at the repository root for the threat model these tests
// exercise.
package hardening
