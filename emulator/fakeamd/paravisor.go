package fakeamd

import "encoding/hex"

// ParavisorName is the short name verifiers give the emulated paravisor,
// identified by IDKeyDigest.
const ParavisorName = "emulated-hcl"

// idKeyDigestHex is IDKeyDigest in hex; fakeamd_test.go derives it again
// from IDKeySeed.
const idKeyDigestHex = "7fc40e8e1e0b7358e618e12ab606a41d430faa64b6e20d5ccd69b57af2acffdbb564967578455506800e66edc9988f32"

// IDKeySeed is the text whose SHA-384 is the private scalar of the emulated
// paravisor's fake ID key (ECDSA P-384). It is published here on purpose:
// anyone can sign an ID block with that key, so its digest proves nothing
// about a real chip.
const IDKeySeed = "snp-vtpm emulated paravisor ID key (public: anyone can sign with it)"

// IDKeyDigest returns the ID_KEY_DIGEST (a report field, snp.OffsetIDKeyDigest) of the emulated
// CVM's paravisor: SHA-384 of the fake ID public key in AMD's SEV ECDSA
// public key format (0x404 bytes: curve 2 = P-384 as a little-endian
// uint32, Qx and Qy as 72-byte little-endian integers, zero reserved bytes),
// where the key is the P-384 point of the scalar SHA-384(IDKeySeed).
//
// A real Azure paravisor's reports carry the digest of Microsoft's ID key
// instead. Verifiers trust this digest only for reports whose VCEK chains
// to the emulated chain (--trust-emulated), never on a real chip: the key
// is public.
func IDKeyDigest() [48]byte {
	var d [48]byte
	// A constant of the right length: the error cannot happen (tested).
	_, _ = hex.Decode(d[:], []byte(idKeyDigestHex))
	return d
}
