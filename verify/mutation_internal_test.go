package verify

import (
	"bytes"
	"context"
	"crypto/sha512"
	"errors"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// Tests added by the mutation testing of the SEV-SNP checks (mutation29a).
// They hold the inner layers of checks that New's policy validation
// already guards from outside (a policy never lists the zero digest), so
// that each layer stays a check of its own.

// TestCheckAuthorKeyLayers: checkAuthorKey refuses a zero
// AUTHOR_KEY_DIGEST even when the list it is given holds the zero digest
// (which ParsePolicy and New refuse), refuses a listed digest without
// AUTHOR_KEY_EN, and compares all 48 bytes.
func TestCheckAuthorKeyLayers(t *testing.T) {
	author := sha512.Sum384([]byte("an author key"))
	lastOff := author
	lastOff[47] ^= 1
	zero := make(HexBytes, 48)
	tests := []struct {
		name   string
		digest [48]byte
		info   uint32
		list   []HexBytes
		ok     bool
	}{
		{"listed, AUTHOR_KEY_EN", author, snp.SignerInfoAuthorKeyEn, []HexBytes{author[:]}, true},
		{"zero digest, zero listed", [48]byte{}, snp.SignerInfoAuthorKeyEn, []HexBytes{zero}, false},
		{"zero digest, zero listed, bit clear", [48]byte{}, 0, []HexBytes{zero}, false},
		{"listed, AUTHOR_KEY_EN clear", author, 0, []HexBytes{author[:]}, false},
		{"last byte differs", lastOff, snp.SignerInfoAuthorKeyEn, []HexBytes{author[:]}, false},
		{"first 47 bytes listed", author, snp.SignerInfoAuthorKeyEn, []HexBytes{author[:47]}, false},
		{"no list", [48]byte{}, 0, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &snp.Report{AuthorKeyDigest: tc.digest, SignerInfo: tc.info}
			err := checkAuthorKey(r, tc.list)
			if tc.ok != (err == nil) {
				t.Fatalf("checkAuthorKey = %v, want accepted %v", err, tc.ok)
			}
			var verr *Error
			if err != nil && (!errors.As(err, &verr) || verr.Check != CheckParavisorIdentity) {
				t.Errorf("err = %v, want %s", err, CheckParavisorIdentity)
			}
		})
	}
	if !bytes.Equal(zero, make([]byte, 48)) {
		t.Fatal("the list was changed")
	}
}

// TestCheckParavisorLayers: checkParavisor rejects, whatever policy it is
// handed (these policies New refuses): an untrusted digest under
// allow_any_paravisor combined with id_key_digests (the list wins), the
// zero digest listed, the emulator's public digest listed for a chain not
// marked emulated; a listed digest passes, also required for an HCL report.
func TestCheckParavisorLayers(t *testing.T) {
	listed := sha512.Sum384([]byte("a listed paravisor key"))
	other := sha512.Sum384([]byte("another paravisor key"))
	fake := fakeamd.IDKeyDigest()
	tests := []struct {
		name     string
		digest   [48]byte
		pol      Policy
		required bool
		ok       bool
	}{
		{"listed", listed, Policy{IDKeyDigests: []HexBytes{listed[:]}}, true, true},
		{"listed, bare report", listed, Policy{IDKeyDigests: []HexBytes{listed[:]}}, false, true},
		{"allow any and a list, unlisted", other, Policy{AllowAnyParavisor: true, IDKeyDigests: []HexBytes{listed[:]}}, true, false},
		{"allow any and a list, unlisted, bare report", other, Policy{AllowAnyParavisor: true, IDKeyDigests: []HexBytes{listed[:]}}, false, false},
		{"allow any, no list", other, Policy{AllowAnyParavisor: true}, true, true},
		{"zero digest listed", [48]byte{}, Policy{IDKeyDigests: []HexBytes{make(HexBytes, 48)}}, true, false},
		{"emulator's digest listed, real chain", fake, Policy{IDKeyDigests: []HexBytes{fake[:]}}, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &snp.Report{IDKeyDigest: tc.digest}
			err := checkParavisor(context.Background(), &Claims{}, r, &tc.pol, nil, tc.required, false)
			if tc.ok != (err == nil) {
				t.Fatalf("checkParavisor = %v, want accepted %v", err, tc.ok)
			}
			var verr *Error
			if err != nil && (!errors.As(err, &verr) || verr.Check != CheckParavisorIdentity) {
				t.Errorf("err = %v, want %s", err, CheckParavisorIdentity)
			}
		})
	}
}

// TestPendingVCEKKeyedOnRoots: a VCEK chain recorded by a verification in
// progress (pending) is found again only for the same DER and the same
// roots, as the cache's entries are: a chain verified under one set of
// roots never answers for another, nor for another certificate.
func TestPendingVCEKKeyedOnRoots(t *testing.T) {
	der := []byte("a VCEK's DER")
	r1, r2 := &snp.Roots{}, &snp.Roots{}
	e := &vcekEntry{roots: r1}
	c := newCache(CacheConfig{})
	p := &pending{c: c}
	p.addVCEK(der, e)
	if got, ok := p.lookupVCEK(bytes.Clone(der), r1); !ok || got != e {
		t.Fatalf("same DER and roots: %v, %v", got, ok)
	}
	if _, ok := p.lookupVCEK(der, r2); ok {
		t.Error("found under other roots")
	}
	if _, ok := p.lookupVCEK([]byte("another VCEK's DER"), r1); ok {
		t.Error("found for another certificate")
	}
	p.commit()
	next := &pending{c: c} // the next verification's
	if got, ok := next.lookupVCEK(der, r1); !ok || got != e {
		t.Fatalf("committed, same DER and roots: %v, %v", got, ok)
	}
	if _, ok := next.lookupVCEK(der, r2); ok {
		t.Error("committed: found under other roots")
	}
}
