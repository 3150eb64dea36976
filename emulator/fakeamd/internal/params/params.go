// Package params holds the identity of the emulated AMD chip, shared by the
// fakeamd package and the generator of its certificates.
package params

import (
	"crypto/sha512"
	"time"
)

const (
	// Marker is put into every fake certificate so it is never mistaken for
	// one issued by AMD.
	Marker = "snp-vtpm EMULATED (not AMD)"
	// ProductLine is the emulated product line.
	ProductLine = "Milan"
	// ProductName is the VCEK productName extension value.
	ProductName = "Milan-B0"

	// TCB components of the emulated chip (like a real 2024 Milan).
	BlSPL    = 4
	TeeSPL   = 0
	SnpSPL   = 24
	UcodeSPL = 219

	// RevokedVCEKSerial is the serial number of the fake revoked VCEK
	// (the fake VCEK's key and extensions, issued again by the fake ASK)
	// that the fake VCEK CRL lists: "REVOKED" in ASCII. The fake VCEK's
	// serial is 0, the fake ARK's 1 and the fake ASK's 2.
	RevokedVCEKSerial = 0x5245564f4b4544
)

// NotBefore and NotAfter bound the validity of every fake certificate.
func NotBefore() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }

// NotAfter is the end of the validity of every fake certificate.
func NotAfter() time.Time { return time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC) }

// ChipID is the emulated chip's 64-byte CHIP_ID (also the VCEK's hwID).
func ChipID() [64]byte {
	return sha512.Sum512([]byte("snp-vtpm emulated AMD SEV-SNP chip id (not AMD)"))
}

// TCB encodes Milan TCB parts: byte0 bootloader, byte1 TEE, byte6 SNP,
// byte7 microcode (little-endian uint64).
func TCB(bl, tee, snp, ucode uint8) uint64 {
	return uint64(bl) | uint64(tee)<<8 | uint64(snp)<<48 | uint64(ucode)<<56
}
