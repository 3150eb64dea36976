package eventlog

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"unicode/utf8"

	pb "github.com/google/go-eventlog/proto/state"
	"github.com/google/go-eventlog/wellknown"
)

// maxName bounds the certificate subjects and firmware strings in claims
// (they are attacker-chosen bytes).
const maxName = 256

// Cert is a certificate of a Secure Boot variable.
type Cert struct {
	// Subject is the certificate's subject (RFC 2253, at most 256 bytes).
	Subject string `json:"subject"`
	// SHA256 is the SHA-256 of the DER certificate (hex): the digest a
	// policy pins.
	SHA256 string `json:"sha256"`
	// WellKnown names a certificate go-eventlog knows (Microsoft's CAs,
	// GCE's default PK).
	WellKnown string `json:"well_known,omitempty"`
}

// SignatureDB is the content of a Secure Boot signature database variable
// (PK, KEK, db or dbx).
type SignatureDB struct {
	// Certs are its X.509 certificates.
	Certs []Cert `json:"certs,omitempty"`
	// Hashes are its image digests (hex).
	Hashes []string `json:"hashes,omitempty"`
}

// HasCert reports whether db holds a certificate whose DER has SHA-256
// digest (hex, lower case).
func (db *SignatureDB) HasCert(digest string) bool {
	if db == nil {
		return false
	}
	for _, c := range db.Certs {
		if c.SHA256 == digest {
			return true
		}
	}
	return false
}

// signatureDB converts go-eventlog's database (nil for nil).
func signatureDB(d *pb.Database) *SignatureDB {
	if d == nil {
		return nil
	}
	out := &SignatureDB{}
	for _, c := range d.GetCerts() {
		out.Certs = append(out.Certs, certOf(c))
	}
	for _, h := range d.GetHashes() {
		out.Hashes = append(out.Hashes, hex.EncodeToString(h))
	}
	return out
}

// wellKnownDER returns the DER of a certificate go-eventlog represents by
// name only.
func wellKnownDER(w pb.WellKnownCertificate) []byte {
	switch w {
	case pb.WellKnownCertificate_MS_WINDOWS_PROD_PCA_2011:
		return wellknown.WindowsProductionPCA2011Cert
	case pb.WellKnownCertificate_MS_THIRD_PARTY_UEFI_CA_2011:
		return wellknown.MicrosoftUEFICA2011Cert
	case pb.WellKnownCertificate_MS_THIRD_PARTY_KEK_CA_2011:
		return wellknown.MicrosoftKEKCA2011Cert
	case pb.WellKnownCertificate_GCE_DEFAULT_PK:
		return wellknown.GceDefaultPKCert
	}
	return nil
}

// certOf describes one certificate.
func certOf(c *pb.Certificate) Cert {
	der := c.GetDer()
	var out Cert
	if w := c.GetWellKnown(); w != pb.WellKnownCertificate_UNKNOWN {
		out.WellKnown = w.String()
		der = wellKnownDER(w)
	}
	sum := sha256.Sum256(der)
	out.SHA256 = hex.EncodeToString(sum[:])
	if x, err := x509.ParseCertificate(der); err == nil {
		out.Subject = bounded(x.Subject.String())
	}
	return out
}

// bounded cuts s to maxName bytes on a rune boundary.
func bounded(s string) string {
	if len(s) <= maxName {
		return s
	}
	cut := maxName
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
