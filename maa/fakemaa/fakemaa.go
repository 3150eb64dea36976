// Package fakemaa is the emulated CVM's fake Microsoft Azure Attestation
// service: it speaks MAA's AzureGuest protocol on a loopback port, really
// checks what it receives, and mints tokens with the real claim shape,
// encrypted as the real service does.
//
// A request is accepted only if (see Rejection for the checks' names): the
// SNP report verifies through the configured verify.Verifier (which trusts
// the emulated AMD chain) with REPORT_DATA bound to the runtime data, or,
// for isolation type Tdx, the TD quote verifies (the emulated fake Intel
// chain trusted) with REPORTDATA = SHA-256(runtime data) and zeros; the
// AK (AikPub) is that runtime data's HCLAkPub; the AK certificate
// (AikCert), when sent, certifies that AK; the quote of exactly PCRs
// 0-7 is signed by the AK over the client payload's nonce and matches the
// PCR values; the ephemeral key is certified by the AK (TPM2_Certify),
// decrypt-only, and bound by PolicyPCR to those PCR values; and the TCG log
// replays to them. A TDX request gets a tdxvm token with the tdx_* claims
// of MAA's TDX EAT profile. The token is signed by the fake MAA's key, a PUBLIC
// TEST KEY embedded in this package (its certificate, whose subject says
// EMULATED, is maa.EmulatedCertificate), with iss maa.EmulatedIssuer: only
// a verifier that sets maa.Config.TrustEmulated (the CLI's
// --trust-emulated) accepts it. The token's AES key is RSA-encrypted to
// the ephemeral key, so only a vTPM whose PCRs 0-7 still hold the quoted
// values can read it.
//
// The package ships in the CLI (snp-vtpm --emulate maa attest) and is
// cgo-free.
package fakemaa

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Lifetime is how long the fake MAA's tokens are valid: 8 hours, like MAA's.
const Lifetime = 8 * time.Hour

//go:embed key.pem
var keyPEM []byte

// Policy is the fake MAA's attestation policy, in MAA's policy language:
// it permits every request that passes its checks (Service's doc) and
// issues no claims of its own, as MAA's default AzureGuest policy does.
// Its tokens' x-ms-policy-hash is PolicyHash().
const Policy = "version= 1.0;\nauthorizationrules\n{\n\t=> permit();\n};\nissuancerules\n{\n};\n"

// PolicyHash returns the x-ms-policy-hash of the fake MAA's tokens: the
// unpadded base64url SHA-256 of Policy, the form of MAA's (43 characters).
func PolicyHash() string {
	d := sha256.Sum256([]byte(Policy))
	return base64.RawURLEncoding.EncodeToString(d[:])
}

// Config configures the fake MAA.
type Config struct {
	// Verifier verifies the SNP reports and TD quotes it receives; nil
	// means one that trusts AMD's pinned roots and the emulated CVM's fake
	// AMD chain (package emulator/fakeamd), and Intel's root and the
	// emulated TDX CVM's fake Intel chain (verify.Config.TrustEmulatedTDX).
	Verifier *verify.Verifier
	// Now is the token clock; nil means time.Now.
	Now func() time.Time
}

// Service is the fake MAA. It is safe for concurrent use.
type Service struct {
	cfg Config
	key *rsa.PrivateKey
	kid string
}

// New returns the fake MAA.
func New(cfg Config) (*Service, error) {
	if cfg.Verifier == nil {
		c, err := fakeamd.Chain()
		if err != nil {
			return nil, fmt.Errorf("fakemaa: the emulated AMD chain: %w", err)
		}
		cfg.Verifier, err = verify.New(verify.Config{Roots: snp.DefaultRoots().Add(c), TrustEmulatedTDX: true})
		if err != nil {
			return nil, err
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	key, err := signingKey()
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, key: key, kid: maa.EmulatedKid()}, nil
}

// signingKey parses the embedded test key and checks it is the key of
// maa.EmulatedCertificate.
func signingKey() (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("fakemaa: the embedded key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("fakemaa: the embedded key: %w", err)
	}
	key, ok := k.(*rsa.PrivateKey)
	cert, err := x509.ParseCertificate(maa.EmulatedCertificate())
	if !ok || err != nil || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("fakemaa: the embedded key is not the key of maa.EmulatedCertificate")
	}
	return key, nil
}

// Attest checks a request and returns the encrypted token for it. A
// request it does not accept yields a *Rejection.
func (s *Service) Attest(ctx context.Context, a *maa.AttestationInfo) (*maa.EncryptedToken, error) {
	c, err := s.check(ctx, a)
	if err != nil {
		return nil, err
	}
	jwt, err := s.mint(a, c)
	if err != nil {
		return nil, err
	}
	return maa.SealToken(jwt, c.encKey, nil)
}

// mint signs a token for a checked request.
func (s *Service) mint(a *maa.AttestationInfo, c *checked) ([]byte, error) {
	claims, err := s.claims(a, c)
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return nil, err
	}
	header, err := json.Marshal(map[string]string{"alg": maa.AlgRS256, "jku": maa.EmulatedIssuer + "/certs", "kid": s.kid, "typ": "JWT"})
	if err != nil {
		return nil, err
	}
	b64 := base64.RawURLEncoding
	in := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	d := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(nil, s.key, crypto.SHA256, d[:])
	if err != nil {
		return nil, err
	}
	return []byte(in + "." + b64.EncodeToString(sig)), nil
}

// claims fills MAA's AzureGuest claims from what the request proved.
func (s *Service) claims(a *maa.AttestationInfo, c *checked) (*maa.Claims, error) {
	now := s.cfg.Now()
	id := make([]byte, 32) // jti: 64 hex digits, as MAA's
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	f, t, zero := false, true, 0
	windows := string(a.OSType) == "Windows"
	ak, err := x509.ParsePKIXPublicKey(c.ev.AKPublic)
	if err != nil {
		return nil, err
	}
	cl := &maa.Claims{
		Issuer: maa.EmulatedIssuer, IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(Lifetime).Unix(),
		ID: hex.EncodeToString(id), AttestationType: maa.AttestationTypeAzureVM, Ver: "1.0", SecureBoot: &c.secureBoot,
		PolicyHash: PolicyHash(),
		AzureVM: maa.AzureVM{
			BootDebugEnabled: &f, KernelDebugEnabled: &f, HypervisorDebugEnabled: &f, DebuggersDisabled: &t,
			TestSigningEnabled: &f, FlightSigningEnabled: &f, SigningDisabled: &t, IsWindows: &windows,
			// The emulated log has no Windows boot events (no early-launch
			// anti-malware driver, no HVCI policy), and its PK, KEK and db
			// are fake certificates, not Azure's default keys.
			ELAMEnabled: &f, HVCIPolicy: &zero, DefaultKeysValidated: &f,
			VMID: c.ev.VMConfig.VMUniqueID, ProtocolVersion: a.AttestationProtocolVersion,
			OSType: string(a.OSType), OSDistro: string(a.OSDistro), OSBuild: string(a.OSBuild),
			OSVersionMajor: &a.OSVersionMajor, OSVersionMinor: &a.OSVersionMinor, AttestedPCRs: attestedPCRs[:],
		},
		IsolationTEE: &maa.IsolationTEE{
			AttestationType: maa.TEESEVSNP, ComplianceStatus: maa.ComplianceAzureCVM,
			Runtime: &maa.TEERuntime{
				Keys: []maa.JWK{maa.NewJWK("HCLAkPub", []string{"sign"}, ak.(*rsa.PublicKey))},
				// The runtime data's user-data, in its upper-case hex.
				UserData: strings.ToUpper(hex.EncodeToString(c.ev.UserData)),
				VMConfiguration: &maa.VMConfiguration{ConsoleEnabled: &c.ev.VMConfig.ConsoleEnabled,
					SecureBoot: &c.ev.VMConfig.SecureBoot, TPMEnabled: &c.ev.VMConfig.TPMEnabled, VMUniqueID: c.ev.VMConfig.VMUniqueID},
			},
		},
		Runtime: &maa.Runtime{ClientPayload: map[string]jsontext.Value{},
			Keys: []maa.JWK{maa.NewJWK("TpmEphemeralEncryptionKey", []string{"encrypt"}, c.encKey)}},
	}
	if c.ev.Platform == verify.PlatformTDX {
		cl.IsolationTEE.AttestationType, cl.IsolationTEE.TDX = maa.TEETDX, tdxClaims(c.ev)
	} else {
		cl.IsolationTEE.SEVSNP = snpClaims(c.ev, c.reportID)
	}
	for k, v := range a.ClientPayload {
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		cl.Runtime.ClientPayload[k] = raw
	}
	return cl, nil
}

// snpClaims are the x-ms-sevsnpvm-* claims of a verified report whose
// REPORT_ID is reportID.
func snpClaims(ev *verify.Claims, reportID []byte) maa.SEVSNP {
	tcb := ev.ReportedTCB
	debug, migrate := ev.Debug, ev.GuestPolicy&snp.PolicyMigrateMA != 0
	bit := func(mask uint64) *bool {
		v := ev.GuestPolicy&mask != 0
		return &v
	}
	return maa.SEVSNP{
		AuthorKeyDigest: ev.AuthorKeyDigest, FamilyID: ev.FamilyID, ImageID: ev.ImageID, HostData: ev.HostData,
		IDKeyDigest: ev.IDKeyDigest, LaunchMeasurement: ev.Measurement, ReportData: ev.ReportData, ReportID: reportID,
		BootloaderSVN: &tcb.Bootloader, TEESVN: &tcb.TEE, SNPFwSVN: &tcb.SNP, MicrocodeSVN: &tcb.Microcode,
		GuestSVN: &ev.GuestSVN, VMPL: &ev.VMPL, IsDebuggable: &debug, MigrationAllowed: &migrate, SMTAllowed: &ev.SMT,
		SingleSocket: bit(snp.PolicySingle), CXLAllowed: bit(snp.PolicyCXLAllow), MemAES256XTSRequired: bit(snp.PolicyMemAES256XTS),
		RAPLDisabled: bit(snp.PolicyRAPLDis), CiphertextHidingDRAMEnabled: bit(snp.PolicyCiphertextHiding),
		PageSwapDisabled: bit(snp.PolicyPageSwapDisable),
	}
}

// tdxClaims are the tdx_* claims of a verified TD quote, in the shape of
// MAA's TDX EAT profile.
func tdxClaims(ev *verify.Claims) maa.TDX {
	q := ev.TDX
	attr := q.TDAttributes
	bit := func(byteIdx int, mask byte) *bool {
		v := len(attr) == 8 && attr[byteIdx]&mask != 0
		return &v
	}
	dbg := maa.DbgStatDisabled
	if ev.Debug {
		dbg = "enabled"
	}
	debug := ev.Debug
	// TDATTRIBUTES (little-endian): DEBUG bit 0, SEPT_VE_DISABLE bit 28,
	// PKS bit 30, KL bit 31, PERFMON bit 63.
	return maa.TDX{
		AttesterTCBStatus: q.TCBStatus, DbgStat: dbg,
		MRConfigID: q.MRConfigID, MROwner: q.MROwner, MROwnerConfig: q.MROwnerConfig, MRSEAM: q.MRSEAM,
		MRSignerSEAM: q.MRSignerSEAM, MRTD: q.MRTD, ReportData: ev.ReportData,
		RTMR0: q.RTMR[0], RTMR1: q.RTMR[1], RTMR2: q.RTMR[2], RTMR3: q.RTMR[3],
		SEAMAttributes: q.SEAMAttributes, TDAttributes: q.TDAttributes, TDAttributesDebug: &debug,
		TDAttributesSEPTVEDisable: bit(3, 0x10), TDAttributesProtectionKeys: bit(3, 0x40),
		TDAttributesKeyLocker: bit(3, 0x80), TDAttributesPerfmon: bit(7, 0x80),
		TEETCBSVN: q.TEETCBSVN, XFAM: q.XFAM,
	}
}
