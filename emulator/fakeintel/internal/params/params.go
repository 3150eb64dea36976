// Package params holds the facts of the emulated TDX platform that both
// package fakeintel and its generator (internal/gen) need.
package params

import (
	"crypto/sha512"
	"crypto/x509/pkix"
	"time"
)

// Marker is the organisation of every fake Intel certificate: it marks
// them as emulated.
const Marker = "snp-vtpm EMULATED (not Intel)"

// RootCN is the fake root's common name.
const RootCN = "snp-vtpm EMULATED Intel SGX Root CA (not Intel)"

// RootSubject is the fake root's subject.
func RootSubject() pkix.Name {
	return pkix.Name{CommonName: RootCN, Organization: []string{Marker}}
}

// NotBefore and NotAfter bound the fake chain and collateral.
func NotBefore() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }

// NotAfter is the end of the fake chain's and collateral's validity.
func NotAfter() time.Time { return time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC) }

// MRTD is the emulated paravisor's MRTD.
func MRTD() [48]byte {
	return sha512.Sum384([]byte("snp-vtpm emulated TDX paravisor MRTD (not a real measurement)"))
}
