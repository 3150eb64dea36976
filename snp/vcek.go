package snp

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// AMD VCEK X.509 extension OIDs (1.3.6.1.4.1.3704.1.x).
var (
	oidProductName = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 2}
	oidBlSPL       = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 1}
	oidTeeSPL      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 2}
	oidSnpSPL      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 3}
	oidUcodeSPL    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 8}
	oidFmcSPL      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 9}
	oidHWID        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 4}
	oidCSPID       = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 5}
)

// vcekHandled are the extensions ParseVCEK processes beyond those Go's x509
// parser handles: a VCEK may mark these critical. AMD marks none of its
// extensions critical (every real VCEK in testdata/ and go-sev-guest's
// fake ones: structVersion, productName, the SPLs and hwID are all
// non-critical), so a critical structVersion (.1.1), reserved SPL
// (.1.3.4-.1.3.7) or any other extension is unknown and rejected.
var vcekHandled = []asn1.ObjectIdentifier{oidProductName, oidBlSPL, oidTeeSPL, oidSnpSPL, oidUcodeSPL, oidFmcSPL, oidHWID}

// checkCritical returns ErrCriticalExtension for the first critical
// extension of c that neither Go's x509 parser nor the caller (handled)
// processes. Go records those in UnhandledCriticalExtensions but enforces
// them only in Certificate.Verify, which this package does not use (chains
// are checked with CheckSignature against pinned certificates).
func checkCritical(c *x509.Certificate, handled []asn1.ObjectIdentifier) error {
	for _, id := range c.UnhandledCriticalExtensions {
		if !slices.ContainsFunc(handled, id.Equal) {
			return fmt.Errorf("%w: %s in %q", ErrCriticalExtension, id, truncate(c.Subject.CommonName, 64))
		}
	}
	return nil
}

// CheckCACertificate checks an ARK or ASK beyond its signature: it has no
// unknown critical extension (ErrCriticalExtension), and where it carries
// basicConstraints or keyUsage they allow it to sign certificates. AMD's
// ARKs and ASKs mark exactly basicConstraints (CA) and keyUsage
// (keyCertSign, cRLSign) critical. Errors match ErrRoots.
func CheckCACertificate(c *x509.Certificate) error {
	if err := checkCritical(c, nil); err != nil {
		return fmt.Errorf("%w: %w", ErrRoots, err)
	}
	if c.BasicConstraintsValid && !c.IsCA {
		return fmt.Errorf("%w: %q is not a CA (basicConstraints)", ErrRoots, truncate(c.Subject.CommonName, 64))
	}
	if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("%w: %q key usage does not allow signing certificates", ErrRoots, truncate(c.Subject.CommonName, 64))
	}
	return nil
}

// MaxVCEKSize bounds the DER accepted as a VCEK certificate.
const MaxVCEKSize = 8192

// VCEK is a parsed VCEK certificate with its AMD extensions. Parsing does not
// establish trust: see Roots.VerifyVCEK.
type VCEK struct {
	Cert *x509.Certificate
	// ProductName is the productName extension, e.g. "Milan-B0".
	ProductName string
	// Product is the product line named by ProductName.
	Product Product
	// HWID is the hwID extension: 64 bytes, or 8 on Turin.
	HWID []byte
	// TCB holds the security patch levels of the blSPL, teeSPL, snpSPL,
	// ucodeSPL and (Turin) fmcSPL extensions.
	TCB TCBParts
	key *ecdsa.PublicKey
}

// ParseVCEK parses a DER VCEK certificate and its AMD extensions. It
// requires an ECDSA P-384 key, a product name that ParseProduct accepts
// (ErrProductName), a hardware id and every TCB extension of the product
// line, and rejects VLEK certificates (csp_id extension), certificates with
// an unknown critical extension (ErrCriticalExtension) and a keyUsage that
// does not allow digital signatures. Every error matches ErrVCEKFormat.
func ParseVCEK(der []byte) (*VCEK, error) {
	if len(der) == 0 || len(der) > MaxVCEKSize {
		return nil, fmt.Errorf("%w: %d bytes of DER", ErrVCEKFormat, len(der))
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrVCEKFormat, err)
	}
	return vcekFromCert(cert)
}

func vcekFromCert(cert *x509.Certificate) (*VCEK, error) {
	key, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P384() {
		return nil, fmt.Errorf("%w: public key is not ECDSA P-384", ErrVCEKFormat)
	}
	if err := checkCritical(cert, vcekHandled); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVCEKFormat, err)
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, fmt.Errorf("%w: key usage does not allow digital signatures", ErrVCEKFormat)
	}
	v := &VCEK{Cert: cert, key: key}
	var have struct{ name, hwid, bl, tee, snp, ucode, fmc bool }
	for _, ext := range cert.Extensions {
		id := ext.Id
		var err error
		switch {
		case id.Equal(oidProductName):
			have.name = true
			err = unmarshalExact(ext.Value, &v.ProductName, "ia5")
		case id.Equal(oidHWID):
			have.hwid = true
			v.HWID, err = octets(ext.Value)
		case id.Equal(oidBlSPL):
			have.bl = true
			v.TCB.Bootloader, err = splValue(ext.Value)
		case id.Equal(oidTeeSPL):
			have.tee = true
			v.TCB.TEE, err = splValue(ext.Value)
		case id.Equal(oidSnpSPL):
			have.snp = true
			v.TCB.SNP, err = splValue(ext.Value)
		case id.Equal(oidUcodeSPL):
			have.ucode = true
			v.TCB.Microcode, err = splValue(ext.Value)
		case id.Equal(oidFmcSPL):
			have.fmc = true
			v.TCB.FMC, err = splValue(ext.Value)
		case id.Equal(oidCSPID):
			return nil, fmt.Errorf("%w: certificate is a VLEK (csp_id extension), not a VCEK", ErrVCEKFormat)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: extension %s: %v", ErrVCEKFormat, id, err)
		}
	}
	if !have.name || !have.hwid || !have.bl || !have.tee || !have.snp || !have.ucode {
		return nil, fmt.Errorf("%w: missing AMD extension (productName, hwID, blSPL, teeSPL, snpSPL and ucodeSPL are required)", ErrVCEKFormat)
	}
	p, err := ParseProduct(v.ProductName)
	if err != nil {
		return nil, fmt.Errorf("%w: productName: %w", ErrVCEKFormat, err)
	}
	v.Product = p
	wantHWID := ChipIDSize
	if p == Turin {
		wantHWID = 8
		if !have.fmc {
			return nil, fmt.Errorf("%w: Turin VCEK without fmcSPL extension", ErrVCEKFormat)
		}
	}
	if len(v.HWID) != wantHWID {
		return nil, fmt.Errorf("%w: hwID is %d bytes, want %d for %s", ErrVCEKFormat, len(v.HWID), wantHWID, p)
	}
	return v, nil
}

func unmarshalExact(b []byte, out any, params string) error {
	rest, err := asn1.UnmarshalWithParams(b, out, params)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d trailing bytes", len(rest))
	}
	return nil
}

func splValue(b []byte) (uint8, error) {
	var v int64
	if err := unmarshalExact(b, &v, ""); err != nil {
		return 0, err
	}
	if v < 0 || v > 255 {
		return 0, fmt.Errorf("value %d out of range", v)
	}
	return uint8(v), nil
}

// octets returns the hwID: AMD stores the raw bytes without an OCTET STRING
// header; a DER OCTET STRING is accepted too.
func octets(b []byte) ([]byte, error) {
	if len(b) == ChipIDSize || len(b) == 8 {
		return b, nil
	}
	var o []byte
	if err := unmarshalExact(b, &o, ""); err != nil {
		return nil, err
	}
	return o, nil
}

// ReportedTCB returns the VCEK's TCB encoded with its product's layout, the
// value a report signed by this VCEK carries as REPORTED_TCB.
func (v *VCEK) ReportedTCB() TCB { return ComposeTCB(v.Product, v.TCB) }

// VerifyVCEK checks that v is signed (RSASSA-PSS SHA-384) by a trusted ASK
// of its product line, whose ARK is trusted, and that the VCEK, ASK and ARK
// are valid at now. It returns the chain that signed v.
func (r *Roots) VerifyVCEK(v *VCEK, now time.Time) (*Chain, error) {
	chains := r.Chains(v.Product)
	if len(chains) == 0 {
		return nil, fmt.Errorf("%w: no trusted roots for product line %s", ErrChain, v.Product)
	}
	if v.Cert.SignatureAlgorithm != x509.SHA384WithRSAPSS {
		return nil, fmt.Errorf("%w: VCEK signature algorithm %v, want SHA384-RSAPSS", ErrChain, v.Cert.SignatureAlgorithm)
	}
	var lastErr error
	for _, c := range chains {
		if !bytes.Equal(v.Cert.RawIssuer, c.ASK.RawSubject) {
			lastErr = fmt.Errorf("%w: VCEK issuer %q is not the trusted %s", ErrChain, v.Cert.Issuer.String(), c.ASK.Subject.String())
			continue
		}
		if err := c.ASK.CheckSignature(v.Cert.SignatureAlgorithm, v.Cert.RawTBSCertificate, v.Cert.Signature); err != nil {
			lastErr = fmt.Errorf("%w: VCEK signature does not verify with the trusted %s (%s): %v", ErrChain, c.ASK.Subject.CommonName, c.Source, err)
			continue
		}
		if err := checkValidity(v.Cert, now); err != nil {
			return nil, err
		}
		if err := c.checkValidity(now); err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, lastErr
}

// VerifyReportSignature checks the report's ECDSA P-384 SHA-384 signature
// (R and S as 72-byte little-endian integers at 0x2A0 and 0x2E8) over
// report[0:0x2A0] with the VCEK's key. The report's SIGNER_INFO must say
// it was signed by a VCEK: a report naming a VLEK (or no key) is rejected
// with ErrSigningKey (and ErrReportSignature) before the signature is
// checked, as this package verifies no VLEK.
func (v *VCEK) VerifyReportSignature(r *Report) error {
	raw := r.Raw
	if len(raw) != ReportSize {
		return fmt.Errorf("%w: %d bytes", ErrReportFormat, len(raw))
	}
	if k := r.SignerKey(); k != SigningKeyVCEK {
		name := "reserved"
		switch k {
		case SigningKeyVLEK:
			name = "VLEK, which is not supported"
		case SigningKeyNone:
			name = "none"
		}
		return fmt.Errorf("%w: %w: SIGNER_INFO names signing key %d (%s), but the report is verified with a VCEK", ErrReportSignature, ErrSigningKey, k, name)
	}
	rInt := leInt(raw[0x2A0:0x2E8])
	sInt := leInt(raw[0x2E8:0x330])
	digest := sha512.Sum384(raw[:SignedSize])
	if !ecdsa.Verify(v.key, digest[:], rInt, sInt) {
		return ErrReportSignature
	}
	return nil
}

// CheckChipID checks that the report names its chip: MASK_CHIP_KEY is clear
// and CHIP_ID is not zero. Otherwise no VCEK can be bound to (or fetched
// for) the report (ErrChipID).
func (r *Report) CheckChipID() error {
	if r.ChipIDMasked() {
		return fmt.Errorf("%w: the report's CHIP_ID is masked (SIGNER_INFO MASK_CHIP_KEY), so it names no chip", ErrChipID)
	}
	if allZero(r.ChipID[:]) {
		return fmt.Errorf("%w: the report's CHIP_ID is zero", ErrChipID)
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func leInt(le []byte) *big.Int {
	be := make([]byte, len(le))
	for i, b := range le {
		be[len(le)-1-i] = b
	}
	return new(big.Int).SetBytes(be)
}

// CheckBinding checks that the VCEK belongs to the chip and TCB of the report:
// hwID == CHIP_ID (first 8 bytes on Turin, whose remaining chip id bytes
// must be zero) and the VCEK's TCB == REPORTED_TCB. A report whose chip id
// is masked (MASK_CHIP_KEY) or zero names no chip and binds to no VCEK,
// not even one with a zero hwID (ErrChipID).
func (v *VCEK) CheckBinding(r *Report) error {
	if err := r.CheckChipID(); err != nil {
		return err
	}
	chip := r.ChipID[:]
	if v.Product == Turin {
		for _, b := range chip[8:] {
			if b != 0 {
				return fmt.Errorf("%w: Turin chip id has non-zero bytes after the 8-byte hwID", ErrChipID)
			}
		}
		chip = chip[:8]
	}
	if subtle.ConstantTimeCompare(chip, v.HWID) != 1 {
		return fmt.Errorf("%w: report chip id %s…, VCEK hwID %s…", ErrChipID, hex.EncodeToString(chip[:8]), hex.EncodeToString(v.HWID[:8]))
	}
	if got, want := r.ReportedTCB, v.ReportedTCB(); got != want {
		return fmt.Errorf("%w: report %s (0x%016x), VCEK %s", ErrTCB, got.Parts(v.Product), uint64(got), v.TCB)
	}
	return nil
}
