package snp

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/fastverify"
)

// AMD VCEK/VLEK X.509 extension OIDs (1.3.6.1.4.1.3704.1.x), as AMD's KDS
// specification (publication 57230) lists them. They are functions so that
// no caller can change them; the fake chain builders use them too.
//
// OIDStructVersion is the structVersion extension (INTEGER).
func OIDStructVersion() asn1.ObjectIdentifier { return amdOID(1) }

// OIDProductName is the productName extension (IA5String, e.g. "Milan-B0").
func OIDProductName() asn1.ObjectIdentifier { return amdOID(2) }

// OIDBlSPL is the bootloader SPL extension (INTEGER).
func OIDBlSPL() asn1.ObjectIdentifier { return amdOID(3, 1) }

// OIDTeeSPL is the TEE SPL extension (INTEGER).
func OIDTeeSPL() asn1.ObjectIdentifier { return amdOID(3, 2) }

// OIDSnpSPL is the SNP firmware SPL extension (INTEGER).
func OIDSnpSPL() asn1.ObjectIdentifier { return amdOID(3, 3) }

// OIDReservedSPL returns the reserved SPL extension 1.3.6.1.4.1.3704.1.3.n
// (n = 4 to 7), which AMD's certificates carry as 0.
func OIDReservedSPL(n int) asn1.ObjectIdentifier { return amdOID(3, n) }

// OIDUcodeSPL is the microcode SPL extension (INTEGER).
func OIDUcodeSPL() asn1.ObjectIdentifier { return amdOID(3, 8) }

// OIDFmcSPL is the FMC SPL extension (INTEGER; Turin only).
func OIDFmcSPL() asn1.ObjectIdentifier { return amdOID(3, 9) }

// OIDHWID is the hwID extension of a VCEK (the raw chip id).
func OIDHWID() asn1.ObjectIdentifier { return amdOID(4) }

// OIDCSPID is the csp_id extension (IA5String) that only VLEKs carry: the
// cloud provider AMD issued the VLEK to.
func OIDCSPID() asn1.ObjectIdentifier { return amdOID(5) }

func amdOID(arcs ...int) asn1.ObjectIdentifier {
	return append(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1}, arcs...)
}

var (
	oidProductName = OIDProductName()
	oidBlSPL       = OIDBlSPL()
	oidTeeSPL      = OIDTeeSPL()
	oidSnpSPL      = OIDSnpSPL()
	oidUcodeSPL    = OIDUcodeSPL()
	oidFmcSPL      = OIDFmcSPL()
	oidHWID        = OIDHWID()
	oidCSPID       = OIDCSPID()
)

// Sentinel errors of reading a VCEK or VLEK certificate.
var (
	// ErrVCEKFormat reports a VCEK certificate that is malformed or lacks AMD extensions.
	ErrVCEKFormat = errors.New("malformed VCEK certificate")
	// ErrCriticalExtension reports a certificate with a critical extension
	// this package does not process. It comes with ErrVCEKFormat for a VCEK
	// and with ErrRoots for an ARK or ASK.
	ErrCriticalExtension = errors.New("certificate has an unknown critical extension")
)

// vcekHandled are the extensions ParseVCEK processes beyond those Go's x509
// parser handles: a VCEK may mark these critical. AMD marks none of its
// extensions critical (every real VCEK in testdata/ and go-sev-guest's
// fake ones: structVersion, productName, the SPLs and hwID are all
// non-critical), so a critical structVersion (.1.1), reserved SPL
// (.1.3.4-.1.3.7) or any other extension is unknown and rejected.
var vcekHandled = []asn1.ObjectIdentifier{oidProductName, oidBlSPL, oidTeeSPL, oidSnpSPL, oidUcodeSPL, oidFmcSPL, oidHWID, oidCSPID}

// checkCritical returns ErrCriticalExtension for the first critical
// extension of c that neither Go's x509 parser nor the caller (handled)
// processes. Go records those in UnhandledCriticalExtensions but enforces
// them only in Certificate.Verify, which this package does not use (chains
// are checked with CheckSignature against pinned certificates).
func checkCritical(c *x509.Certificate, handled []asn1.ObjectIdentifier) error {
	for _, id := range c.UnhandledCriticalExtensions {
		if !slices.ContainsFunc(handled, id.Equal) {
			return fmt.Errorf("%w: %s in %q", ErrCriticalExtension, id, format.Truncate(c.Subject.CommonName, 64))
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
		return fmt.Errorf("%w: %q is not a CA (basicConstraints)", ErrRoots, format.Truncate(c.Subject.CommonName, 64))
	}
	if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("%w: %q key usage does not allow signing certificates", ErrRoots, format.Truncate(c.Subject.CommonName, 64))
	}
	return nil
}

// MaxVCEKSize bounds the DER accepted as a VCEK certificate.
const MaxVCEKSize = 8192

// VCEK is a parsed VCEK or VLEK certificate with its AMD extensions
// (SigningKey says which). Parsing does not establish trust: see
// Roots.VerifyVCEK.
type VCEK struct {
	// SigningKey is SigningKeyVCEK, or SigningKeyVLEK for a certificate
	// with the csp_id extension: the SIGNING_KEY a report it signs carries.
	SigningKey uint32
	// CSPID is a VLEK's csp_id extension (the cloud provider); empty for a VCEK.
	CSPID string
	Cert  *x509.Certificate
	// ProductName is the productName extension, e.g. "Milan-B0".
	ProductName string
	// Product is the product line named by ProductName.
	Product Product
	// HWID is the hwID extension: 64 bytes, or 8 on Turin; nil for a VLEK.
	HWID []byte
	// TCB holds the security patch levels of the blSPL, teeSPL, snpSPL,
	// ucodeSPL and (Turin) fmcSPL extensions.
	TCB TCBParts
	key *ecdsa.PublicKey
}

// ParseVCEK parses a DER VCEK or VLEK certificate and its AMD extensions.
// It requires an ECDSA P-384 key, a product name that ParseProduct accepts
// (ErrProductName) and every TCB extension of the product line; a VCEK
// carries a hardware id (hwID), a VLEK the csp_id extension instead (a
// certificate with both, or neither, is rejected). It rejects
// certificates with an unknown critical extension (ErrCriticalExtension)
// and a keyUsage that does not allow digital signatures. Every error
// matches ErrVCEKFormat.
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
	have, err := v.parseExtensions(cert.Extensions)
	if err != nil {
		return nil, err
	}
	if !have.name || !have.bl || !have.tee || !have.snp || !have.ucode {
		return nil, fmt.Errorf("%w: missing AMD extension (productName, blSPL, teeSPL, snpSPL and ucodeSPL are required)", ErrVCEKFormat)
	}
	switch {
	case have.csp && have.hwid:
		return nil, fmt.Errorf("%w: certificate carries both hwID (VCEK) and csp_id (VLEK)", ErrVCEKFormat)
	case have.csp:
		v.SigningKey = SigningKeyVLEK
	case !have.hwid:
		return nil, fmt.Errorf("%w: neither hwID (VCEK) nor csp_id (VLEK) extension", ErrVCEKFormat)
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
			return nil, fmt.Errorf("%w: Turin %s without fmcSPL extension", ErrVCEKFormat, v.KeyName())
		}
	}
	if v.SigningKey == SigningKeyVCEK && len(v.HWID) != wantHWID {
		return nil, fmt.Errorf("%w: hwID is %d bytes, want %d for %s", ErrVCEKFormat, len(v.HWID), wantHWID, p)
	}
	return v, nil
}

// amdExtensions records which AMD extensions a certificate carries.
type amdExtensions struct{ name, hwid, bl, tee, snp, ucode, fmc, csp bool }

// parseExtensions fills v from AMD's extensions (Go's x509 parser already
// rejects duplicate extensions).
func (v *VCEK) parseExtensions(exts []pkix.Extension) (amdExtensions, error) {
	var have amdExtensions
	spls := []struct {
		id   asn1.ObjectIdentifier
		dst  *uint8
		have *bool
	}{
		{oidBlSPL, &v.TCB.Bootloader, &have.bl}, {oidTeeSPL, &v.TCB.TEE, &have.tee}, {oidSnpSPL, &v.TCB.SNP, &have.snp},
		{oidUcodeSPL, &v.TCB.Microcode, &have.ucode}, {oidFmcSPL, &v.TCB.FMC, &have.fmc},
	}
	for _, ext := range exts {
		var err error
		switch id := ext.Id; {
		case id.Equal(oidProductName):
			have.name = true
			err = unmarshalExact(ext.Value, &v.ProductName, "ia5")
		case id.Equal(oidHWID):
			have.hwid = true
			v.HWID, err = octets(ext.Value)
		case id.Equal(oidCSPID):
			have.csp = true
			err = unmarshalExact(ext.Value, &v.CSPID, "ia5")
		default:
			for _, spl := range spls {
				if id.Equal(spl.id) {
					*spl.have = true
					*spl.dst, err = splValue(ext.Value)
				}
			}
		}
		if err != nil {
			return have, fmt.Errorf("%w: extension %s: %v", ErrVCEKFormat, ext.Id, err)
		}
	}
	return have, nil
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

// KeyName returns "VCEK" or "VLEK".
func (v *VCEK) KeyName() string { return SigningKeyName(v.SigningKey) }

// SigningKeyName names a SIGNING_KEY value: "VCEK", "VLEK", "none" or
// "reserved".
func SigningKeyName(k uint32) string {
	switch k {
	case SigningKeyVCEK:
		return "VCEK"
	case SigningKeyVLEK:
		return "VLEK"
	case SigningKeyNone:
		return "none"
	}
	return "reserved"
}

// Sentinel errors of verifying a report with its VCEK or VLEK.
var (
	// ErrReportSignature reports a report signature that the VCEK does not verify.
	ErrReportSignature = errors.New("SNP report signature invalid")
	// ErrChipID reports a VCEK hwID that differs from the report's CHIP_ID.
	ErrChipID = errors.New("VCEK hwID does not match the report's chip id")
	// ErrTCB reports a VCEK TCB that differs from the report's REPORTED_TCB.
	ErrTCB = errors.New("VCEK TCB does not match the report's reported TCB")
)

// VerifyVCEK checks that v is signed (RSASSA-PSS SHA-384) by a trusted
// intermediate of its product line, whose ARK is trusted: the ASK for a
// VCEK, the ASVK for a VLEK. It checks that v, the intermediate and the ARK
// are valid at now, and returns the chain that signed v.
func (r *Roots) VerifyVCEK(v *VCEK, now time.Time) (*Chain, error) {
	chains := r.Chains(v.Product)
	if len(chains) == 0 {
		return nil, fmt.Errorf("%w: no trusted roots for product line %s", ErrChain, v.Product)
	}
	if v.Cert.SignatureAlgorithm != x509.SHA384WithRSAPSS {
		return nil, fmt.Errorf("%w: %s signature algorithm %v, want SHA384-RSAPSS", ErrChain, v.KeyName(), v.Cert.SignatureAlgorithm)
	}
	lastErr := fmt.Errorf("%w: no trusted ASVK for product line %s signs VLEKs", ErrChain, v.Product)
	for _, c := range chains {
		ica := c.Intermediate(v)
		if ica == nil {
			continue
		}
		if !bytes.Equal(v.Cert.RawIssuer, ica.RawSubject) {
			lastErr = fmt.Errorf("%w: %s issuer %q is not the trusted %s", ErrChain, v.KeyName(), format.Truncate(format.ReadableName(v.Cert.Issuer.String()), 128), ica.Subject.String())
			continue
		}
		if err := checkCertSignature(ica, v.Cert); err != nil {
			lastErr = fmt.Errorf("%w: %s signature does not verify with the trusted %s (%s): %v", ErrChain, v.KeyName(), ica.Subject.CommonName, c.origin(), err)
			continue
		}
		if err := c.CheckValidity(v, now); err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, lastErr
}

// checkCertSignature is ica.CheckSignature(c.SignatureAlgorithm,
// c.RawTBSCertificate, c.Signature), with the same result and errors, but
// an RSASSA-PSS SHA-384 signature by an RSA key (a VCEK or VLEK signed by
// an ASK or ASVK) is verified by fastverify: the hash and salt length
// (= hash length) are those x509 uses, and x509's own checks (a known
// algorithm whose public-key type matches the key) hold for that pair.
func checkCertSignature(ica, c *x509.Certificate) error {
	pub, ok := ica.PublicKey.(*rsa.PublicKey)
	if !ok || ica.PublicKeyAlgorithm != x509.RSA || c.SignatureAlgorithm != x509.SHA384WithRSAPSS {
		return ica.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature)
	}
	digest := sha512.Sum384(c.RawTBSCertificate)
	return fastverify.VerifyPSS(pub, crypto.SHA384, digest[:], c.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
}

// VerifyReportSignature checks the report's ECDSA P-384 SHA-384 signature
// (R and S as 72-byte little-endian integers at 0x2A0 and 0x2E8) over
// report[0:0x2A0] with the certificate's key. The report's SIGNER_INFO
// must name the certificate's kind: a report saying VLEK is not verified
// with a VCEK and vice versa (ErrSigningKey with ErrReportSignature),
// before the signature is checked.
func (v *VCEK) VerifyReportSignature(r *Report) error {
	raw := r.Raw
	if len(raw) != ReportSize {
		return fmt.Errorf("%w: %d bytes", ErrReportFormat, len(raw))
	}
	if err := v.CheckSigningKey(r); err != nil {
		return err
	}
	rInt := leInt(raw[OffsetSignatureR:OffsetSignatureS])
	sInt := leInt(raw[OffsetSignatureS:signatureEnd])
	digest := sha512.Sum384(raw[:SignedSize])
	if !fastverify.VerifyECDSAP384(v.key, digest[:], rInt, sInt) {
		return ErrReportSignature
	}
	return nil
}

// CheckSigningKey checks that the report's SIGNER_INFO names the kind of
// key v is: a report that says VLEK was not signed by a VCEK, whatever
// its chip id and TCB, and vice versa. It fails with ErrSigningKey and
// ErrReportSignature (the error VerifyReportSignature returns for it), so
// that a verifier can check it before the chip id and TCB binding, which
// would otherwise name a symptom (a VLEK-signed report's zero chip id, a
// VLEK's other TCB) rather than the wrong kind of certificate.
func (v *VCEK) CheckSigningKey(r *Report) error {
	if k := r.SignerKey(); k != v.SigningKey {
		return fmt.Errorf("%w: %w: SIGNER_INFO names signing key %d (%s), but the report is verified with a %s; a %s-signed report needs its %s certificate",
			ErrReportSignature, ErrSigningKey, k, SigningKeyName(k), v.KeyName(), SigningKeyName(k), SigningKeyName(k))
	}
	return nil
}

// CheckChipID checks that a VCEK can be bound to (or fetched for) the
// report: MASK_CHIP_KEY is clear (the host did not mask the VCEK, which
// then signs no report), CHIP_ID is not zero (the host did not mask the
// chip id: MASK_CHIP_ID) and, on a report whose CPUID names Turin, CHIP_ID
// is Turin's 8-byte hardware id followed by zeros (see [checkTurinChipID]).
// Otherwise ErrChipID.
func (r *Report) CheckChipID() error {
	if r.ChipKeyMasked() {
		return fmt.Errorf("%w: SIGNER_INFO says MASK_CHIP_KEY: the host masked the chip key, so no genuine report is signed by the VCEK", ErrChipID)
	}
	if format.AllZero(r.ChipID[:]) {
		return fmt.Errorf("%w: the report's CHIP_ID is zero (masked by the host: MASK_CHIP_ID), so it names no chip", ErrChipID)
	}
	if p, ok, err := r.ProductFromCPUID(); err == nil && ok && p == Turin {
		return checkTurinChipID(r.ChipID[:])
	}
	return nil
}

// checkTurinChipID checks a Turin CHIP_ID: its first 8 bytes are the
// hardware id (the VCEK's hwID, KDS's id), the other 56 zero, as in every
// real Turin report (testdata/ms-tav, testdata/oak) and as AMD's tooling
// reads it (virtee/sev tells Turin by those zeros). A Turin CHIP_ID with a
// non-zero byte after the hardware id names no VCEK: ErrChipID. (A zero
// CHIP_ID is refused before, by [Report.CheckChipID].)
func checkTurinChipID(chip []byte) error {
	if !format.AllZero(chip[8:]) {
		return fmt.Errorf("%w: Turin chip id has non-zero bytes after the 8-byte hwID", ErrChipID)
	}
	return nil
}

func leInt(le []byte) *big.Int {
	be := make([]byte, len(le))
	for i, b := range le {
		be[len(le)-1-i] = b
	}
	return new(big.Int).SetBytes(be)
}

// CheckBinding checks that the certificate belongs to the chip and TCB of
// the report. For a VCEK: hwID == CHIP_ID (first 8 bytes on Turin, whose
// remaining chip id bytes must be zero); a report that says MASK_CHIP_KEY
// (the VCEK masked) or whose chip id is zero binds to no VCEK, not even
// one with a zero hwID (ErrChipID). A VLEK carries no hwID: it binds to no
// chip, and the report's chip id (often zero) is not checked. For both,
// the certificate's TCB must equal REPORTED_TCB (ErrTCB).
func (v *VCEK) CheckBinding(r *Report) error {
	if v.SigningKey == SigningKeyVCEK {
		if err := v.checkChip(r); err != nil {
			return err
		}
	}
	if got, want := r.ReportedTCB, v.ReportedTCB(); got != want {
		return fmt.Errorf("%w: report %s (0x%016x), %s %s", ErrTCB, got.Parts(v.Product), uint64(got), v.KeyName(), v.TCB)
	}
	return nil
}

// checkChip checks a VCEK's hwID against the report's CHIP_ID.
func (v *VCEK) checkChip(r *Report) error {
	if err := r.CheckChipID(); err != nil {
		return err
	}
	chip := r.ChipID[:]
	if v.Product == Turin {
		if err := checkTurinChipID(chip); err != nil {
			return err
		}
		chip = chip[:8]
	}
	if subtle.ConstantTimeCompare(chip, v.HWID) != 1 {
		return fmt.Errorf("%w: report chip id %s…, VCEK hwID %s…", ErrChipID, hex.EncodeToString(chip[:8]), hex.EncodeToString(v.HWID[:8]))
	}
	return nil
}
