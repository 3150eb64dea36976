package testev

import (
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// DefaultNonce is the nonce of a Builder whose Nonce is nil.
var DefaultNonce = []byte("testev nonce: 0123456789abcdef")

// DefaultHCLSize is the size of the HCL report NV index on modern hosts.
const DefaultHCLSize = 2600

// DefaultPolicy is the guest policy of Azure CVMs (SMT allowed, debug off).
const DefaultPolicy = 0x3001F

// DefaultTCB returns the default REPORTED_TCB of product p (and the VCEK's
// TCB): values of real chips.
func DefaultTCB(p snp.Product) snp.TCBParts {
	switch p {
	case snp.Genoa:
		return snp.TCBParts{Bootloader: 10, TEE: 0, SNP: 23, Microcode: 84}
	case snp.Turin:
		return snp.TCBParts{FMC: 1, Bootloader: 1, TEE: 1, SNP: 4, Microcode: 76}
	}
	return snp.TCBParts{Bootloader: 4, TEE: 0, SNP: 24, Microcode: 219}
}

// DefaultChipID returns the CHIP_ID of the private chip of product p. On
// Turin only the first 8 bytes are set (the rest is zero), as on real chips.
func DefaultChipID(p snp.Product) [64]byte {
	id := [64]byte{}
	sum := sha256.Sum256([]byte("testev chip " + string(p)))
	copy(id[:32], sum[:])
	sum = sha256.Sum256(sum[:])
	copy(id[32:], sum[:])
	if p == snp.Turin {
		clear(id[8:])
	}
	return id
}

// AzureIDKeyDigest returns the ID_KEY_DIGEST of Azure's paravisor on every
// real report v3 (SPEC.md §11; verify.DefaultParavisors lists it first):
// the default of synthetic evidence.
func AzureIDKeyDigest() [48]byte {
	var d [48]byte
	_, _ = hex.Decode(d[:], []byte("942fd93ebde6ea7a96efadeafc60f1c6b3d10e703b1dafd7555b92f7f3d32d0e006767648cba5b102af3d65756af4177"))
	return d
}

// ACIIDKeyDigest returns the ID_KEY_DIGEST of Azure Container Instances'
// utility VM (no paravisor, no HCL: testdata/azure-thim/snp_report.bin at
// snp.OffsetIDKeyDigest), which must not be trusted as Azure's paravisor.
func ACIIDKeyDigest() [48]byte {
	var d [48]byte
	_, _ = hex.Decode(d[:], []byte("d3ed82823f890b10087105c472e2957541ede92fda7bbb6bbf8660c411c78fec8128955bc6e0efbb24c0c4a781bfee59"))
	return d
}

// DefaultPCRs returns 24 distinct, deterministic PCR values; PCR 6 is
// Azure's firmware measurement of DefaultVMConfig's vmUniqueId (see
// hcl.PCR6), so that default evidence is bound to its VM.
func DefaultPCRs() [][]byte {
	pcrs := make([][]byte, 24)
	for i := range pcrs {
		s := sha256.Sum256([]byte{byte(i), 't', 'e', 's', 't', 'e', 'v'})
		pcrs[i] = s[:]
	}
	pcr6 := hcl.PCR6(DefaultVMConfig().VMUniqueID, "")
	pcrs[6] = pcr6[:]
	for i := 17; i <= 22; i++ { // as on Azure
		for j := range pcrs[i] {
			pcrs[i][j] = 0xFF
		}
	}
	return pcrs
}

// DefaultVMConfig returns the vm-configuration of a modern Azure host.
func DefaultVMConfig() *hcl.VMConfiguration {
	return &hcl.VMConfiguration{
		ConsoleEnabled:     true,
		RootCertThumbprint: "testev-root-cert-thumbprint",
		SecureBoot:         true,
		TPMEnabled:         true,
		TPMPersisted:       new(true),
		VMUniqueID:         "7E57E7E5-0000-4000-8000-000000000001",
	}
}

// Builder describes synthetic evidence. The zero value builds v2 Milan
// evidence that verifies under Roots(): VMPL 0, policy 0x3001f, reported ==
// committed == launch TCB == the VCEK's TCB, a higher current TCB, a VCEK
// valid now, ID_KEY_DIGEST of Azure's paravisor, runtime data with HCLAkPub then HCLEkPub, user-data = the
// nonce, a quote over all 24 SHA-256 PCRs signed by the AK. Each field
// changes one knob; nil/zero means the default.
type Builder struct {
	// Product is the product line of the chip (report CPUID, TCB layout,
	// chain); default Milan.
	Product snp.Product
	// Version is the evidence format version written: 1 or 2 (default 2).
	Version int
	// Nonce is the verifier's nonce quoted as extraData (and, for v2, the
	// start of user-data); default DefaultNonce.
	Nonce []byte

	// Chain signs the VCEK; default PrivateChain of the VCEK's product line.
	Chain *Chain
	// OmitVCEK leaves the VCEK out of the evidence.
	OmitVCEK bool
	// VCEKDER, when set, is put into the evidence instead of an issued VCEK
	// (the report is still signed by VCEKKey / ReportKey).
	VCEKDER []byte
	// VCEK adjusts the issued VCEK. Its zero fields default to: product name
	// of Product, hwID = the chip id (first 8 bytes on Turin), TCB =
	// ReportedTCB, the shared key of Product.
	VCEK VCEKTemplate

	// ReportVersion is the SNP report version (default 3). The report is
	// built with that version's layout (snp.ReportVersionLayout): 1 has no
	// committed/launch TCB, 1 and 2 no CPUID, 5 the mitigation vectors.
	ReportVersion uint32
	// SignerInfo is SIGNER_INFO (default 0: signed by the VCEK; with
	// VCEK.VLEK set, SIGNING_KEY = VLEK).
	SignerInfo uint32
	// MitVectors are LAUNCH_MIT_VECTOR and CURRENT_MIT_VECTOR (version 5).
	MitVectors [2]uint64
	// CPUID overrides family, model and stepping (default from Product:
	// 19/01/01 Milan, 19/11/01 Genoa, 1A/02/01 Turin).
	CPUID *[3]byte
	// VMPL is the VMPL the report was requested at (default 0).
	VMPL uint32
	// Policy is the guest policy (default DefaultPolicy); DebugPolicy adds
	// the debug bit.
	Policy uint64
	// ChipID is the report's CHIP_ID (default DefaultChipID(Product)).
	ChipID *[64]byte
	// ReportedTCB is REPORTED_TCB (default DefaultTCB(Product)).
	ReportedTCB *snp.TCBParts
	// CommittedTCB and LaunchTCB default to ReportedTCB.
	CommittedTCB, LaunchTCB *snp.TCBParts
	// CurrentTCB defaults to ReportedTCB with microcode + 1 (provisional
	// firmware, as on real hosts).
	CurrentTCB *snp.TCBParts
	// Measurement is the launch measurement (default fakeamd's).
	Measurement *[48]byte
	// IDKeyDigest is ID_KEY_DIGEST, the paravisor's ID key (default
	// AzureIDKeyDigest, so that the evidence passes the paravisor-identity
	// check like a real Azure CVM's).
	IDKeyDigest *[48]byte
	// AuthorKeyDigest is AUTHOR_KEY_DIGEST (default zero, as on Azure). A
	// non-zero digest also sets SIGNER_INFO's AUTHOR_KEY_EN, as AMD's
	// firmware does (a forgery without it takes MutateReport).
	AuthorKeyDigest *[48]byte
	// FamilyID and ImageID are FAMILY_ID and IMAGE_ID (default fakeamd's).
	FamilyID, ImageID *[16]byte
	// GuestSVN is GUEST_SVN (default fakeamd's, 1).
	GuestSVN *uint32
	// ReportDataTail is REPORT_DATA[32:64] (zero on real reports).
	ReportDataTail [32]byte
	// MutateReport changes the report bytes before they are signed.
	MutateReport func(report []byte)
	// ReportKey signs the report instead of the VCEK's key.
	ReportKey *ecdsa.PrivateKey

	// AK is the attestation key (HCLAkPub); default AKKey().
	AK *rsa.PrivateKey
	// EK is the endorsement key (HCLEkPub); default EKKey().
	EK *rsa.PrivateKey
	// OmitAK and OmitEK leave a key out of the runtime data.
	OmitAK, OmitEK bool
	// EKFirst lists HCLEkPub before HCLAkPub.
	EKFirst bool
	// VMConfig is the vm-configuration (default DefaultVMConfig()).
	VMConfig *hcl.VMConfiguration
	// UserData is user-data (64 bytes); default for v2 the quoted nonce
	// (quote.ExpectedExtraData) zero-padded, for v1 64 zero bytes.
	UserData []byte
	// OmitUserData leaves user-data out of the runtime data.
	OmitUserData bool
	// RuntimeData, when set, is the runtime-data JSON verbatim (it is still
	// hashed into REPORT_DATA).
	RuntimeData []byte
	// HCLSize is the HCL blob size with padding (default DefaultHCLSize).
	HCLSize int
	// MutateHCL changes the HCL blob after the report is signed.
	MutateHCL func(blob []byte) []byte

	// PCRs are the 24 SHA-256 PCR values supplied (default DefaultPCRs(),
	// with PCR 6 measuring VMConfig's vmUniqueId when VMConfig is set).
	PCRs [][]byte
	// PCRSelect lists the selected PCR indices (default 0..23).
	PCRSelect []int
	// PCRBank is the hash of the selection (default quote.AlgSHA256).
	PCRBank uint16
	// ExtraSelections are further TPMS_PCR_SELECTIONs signed after the
	// first one (their PCRs are not hashed into pcrDigest).
	ExtraSelections []quote.PCRSelection
	// OmitPCRValues leaves the PCR values out of the evidence (older
	// attesters: message and signature only); the quote still signs the
	// selection and digest of PCRs.
	OmitPCRValues bool
	// DigestPCRs lists the PCR indices hashed into pcrDigest, in order
	// (default PCRSelect): a selection that lies.
	DigestPCRs []int
	// ExtraData is the quote's extraData (default quote.ExpectedExtraData(Nonce)).
	ExtraData []byte
	// MutateQuote changes the TPMS_ATTEST before it is signed.
	MutateQuote func(msg []byte) []byte
	// QuoteKey signs the quote instead of the AK.
	QuoteKey *rsa.PrivateKey
}

// DebugPolicy is DefaultPolicy with the debug bit set.
const DebugPolicy = DefaultPolicy | snp.PolicyDebug

// Evidence is built synthetic evidence and its parts.
type Evidence struct {
	// Evidence is the evidence; change it and call Encode for variants.
	Evidence *evidence.Evidence
	// JSON is Evidence encoded (v1/v2 format).
	JSON []byte
	// Nonce is the nonce to verify with.
	Nonce []byte
	// Product is the chip's product line.
	Product snp.Product
	// Report is the signed 1184-byte SNP report.
	Report []byte
	// RuntimeData is the runtime-data JSON hashed into REPORT_DATA.
	RuntimeData []byte
	// VCEKDER is the issued VCEK (even if OmitVCEK kept it out of the evidence).
	VCEKDER []byte
	// Chain is the chain that issued the VCEK.
	Chain *Chain
	// ChipID is the report's CHIP_ID.
	ChipID [64]byte
	// ReportedTCB is the report's REPORTED_TCB.
	ReportedTCB snp.TCBParts
}

// Encode encodes e.Evidence (after changes) in the v1/v2 JSON format.
func (e *Evidence) Encode() ([]byte, error) { return e.Evidence.Encode() }

// Roots returns roots trusting only the chain that issued e's VCEK.
func (e *Evidence) Roots() *snp.Roots { return e.Chain.Roots() }

func cpuidOf(p snp.Product) [3]byte {
	switch p {
	case snp.Genoa:
		return [3]byte{0x19, 0x11, 0x01}
	case snp.Turin:
		return [3]byte{0x1A, 0x02, 0x01}
	}
	return [3]byte{0x19, 0x01, 0x01}
}

// settings are the Builder's fields with the defaults filled in.
type settings struct {
	product snp.Product
	version int
	nonce   []byte
	tcbs    [4]snp.TCBParts // reported, committed, launch, current
	chip    [64]byte
}

// settings fills in the defaults of the Builder's zero fields.
func (b *Builder) settings() (settings, error) {
	st := settings{product: b.Product, version: b.Version, nonce: b.Nonce}
	if st.product == "" {
		st.product = snp.Milan
	}
	if st.version == 0 {
		st.version = 2
	}
	if st.version != 1 && st.version != 2 {
		return st, fmt.Errorf("testev: evidence version %d, want 1 or 2", st.version)
	}
	if st.nonce == nil {
		st.nonce = DefaultNonce
	}
	reported := DefaultTCB(st.product)
	if b.ReportedTCB != nil {
		reported = *b.ReportedTCB
	}
	current := reported
	current.Microcode++
	st.tcbs = [4]snp.TCBParts{reported, orTCB(b.CommittedTCB, reported), orTCB(b.LaunchTCB, reported), orTCB(b.CurrentTCB, current)}
	st.chip = DefaultChipID(st.product)
	if b.ChipID != nil {
		st.chip = *b.ChipID
	}
	return st, nil
}

// orTCB returns *t, or def when t is nil.
func orTCB(t *snp.TCBParts, def snp.TCBParts) snp.TCBParts {
	if t != nil {
		return *t
	}
	return def
}

// Build builds the evidence.
func (b *Builder) Build() (*Evidence, error) {
	st, err := b.settings()
	if err != nil {
		return nil, err
	}
	p, reported := st.product, st.tcbs[0]

	// VCEK (or VLEK).
	chain, vt, vcekDER, err := b.issueVCEK(p, st.chip, reported)
	if err != nil {
		return nil, err
	}

	// Runtime data.
	rd := b.RuntimeData
	if rd == nil {
		if rd, err = b.runtimeData(st.version, st.nonce); err != nil {
			return nil, err
		}
	}

	// SNP report.
	report, err := b.snpReport(p, rd, st.chip, st.tcbs, vt.Key)
	if err != nil {
		return nil, err
	}

	// HCL report.
	blob, err := b.hclReport(report, rd)
	if err != nil {
		return nil, err
	}

	// Quote.
	q, err := b.quote(st.nonce)
	if err != nil {
		return nil, err
	}

	ev := &evidence.Evidence{Version: st.version, Quote: *q, HCLReport: blob}
	if b.VCEKDER != nil {
		ev.VCEK = b.VCEKDER
	} else if !b.OmitVCEK {
		ev.VCEK = vcekDER
	}
	js, err := ev.Encode()
	if err != nil {
		return nil, err
	}
	return &Evidence{
		Evidence:    ev,
		JSON:        js,
		Nonce:       st.nonce,
		Product:     p,
		Report:      report,
		RuntimeData: rd,
		VCEKDER:     vcekDER,
		Chain:       chain,
		ChipID:      st.chip,
		ReportedTCB: reported,
	}, nil
}

// hclReport builds the HCL report around report and rd, HCLSize bytes
// (DefaultHCLSize when zero; never less than the report needs), and
// applies MutateHCL.
func (b *Builder) hclReport(report, rd []byte) ([]byte, error) {
	size := b.HCLSize
	if size == 0 {
		size = DefaultHCLSize
	}
	if min := hcl.RuntimeDataOffset + len(rd); size < min {
		size = min
	}
	blob, err := hcl.Build(hcl.ReportTypeSNP, report, rd, size)
	if err != nil {
		return nil, err
	}
	if b.MutateHCL != nil {
		blob = b.MutateHCL(blob)
	}
	return blob, nil
}

// issueVCEK issues the Builder's VCEK (or VLEK) for a chip of product p
// with chip id chip and TCB reported; it returns the issuing chain, the
// completed template and the DER.
func (b *Builder) issueVCEK(p snp.Product, chip [64]byte, reported snp.TCBParts) (*Chain, VCEKTemplate, []byte, error) {
	vt := b.VCEK
	vcekProduct := p
	if vt.ProductName != "" {
		// A forged name that names no product line is issued under the
		// chain of Product.
		if vp, err := snp.ParseProduct(vt.ProductName); err == nil {
			vcekProduct = vp
		}
	}
	chain := b.Chain
	if chain == nil {
		chain = PrivateChain(vcekProduct)
	}
	if vt.HWID == nil && !vt.VLEK {
		vt.HWID = chip[:]
		if vcekProduct == snp.Turin {
			vt.HWID = chip[:8]
		}
	}
	if vt.TCB == (snp.TCBParts{}) {
		vt.TCB = reported
	}
	if vt.Key == nil {
		vt.Key = VCEKKey(p)
	}
	der, err := chain.IssueVCEK(vt)
	return chain, vt, der, err
}

// snpReport builds the signed SNP report through snp.Report: fakeamd's
// emulated report with the Builder's knobs. tcbs are the reported,
// committed, launch and current TCB; vcekKey signs unless ReportKey is set.
func (b *Builder) snpReport(p snp.Product, rd []byte, chip [64]byte, tcbs [4]snp.TCBParts, vcekKey *ecdsa.PrivateKey) ([]byte, error) {
	var reportData [64]byte
	digest := sha256.Sum256(rd)
	copy(reportData[:32], digest[:])
	copy(reportData[32:], b.ReportDataTail[:])
	r := fakeamd.DefaultReport(reportData)
	r.VMPL, r.ChipID, r.IDKeyDigest = b.VMPL, chip, AzureIDKeyDigest()
	r.Policy = cmp.Or(b.Policy, DefaultPolicy)
	r.Version = cmp.Or(b.ReportVersion, 3)
	r.SignerInfo = b.SignerInfo
	if b.VCEK.VLEK && b.SignerInfo == 0 {
		r.SignerInfo = snp.SigningKeyVLEK << 2
	}
	r.ReportedTCB, r.CommittedTCB = snp.ComposeTCB(p, tcbs[0]), snp.ComposeTCB(p, tcbs[1])
	r.LaunchTCB, r.CurrentTCB = snp.ComposeTCB(p, tcbs[2]), snp.ComposeTCB(p, tcbs[3])
	cpuid := cpuidOf(p)
	if b.CPUID != nil {
		cpuid = *b.CPUID
	}
	r.CPUIDFamily, r.CPUIDModel, r.CPUIDStepping = cpuid[0], cpuid[1], cpuid[2]
	setIf(&r.Measurement, b.Measurement)
	setIf(&r.IDKeyDigest, b.IDKeyDigest)
	setIf(&r.AuthorKeyDigest, b.AuthorKeyDigest)
	if r.AuthorKeyDigest != ([48]byte{}) {
		r.SignerInfo |= snp.SignerInfoAuthorKeyEn
	}
	setIf(&r.FamilyID, b.FamilyID)
	setIf(&r.ImageID, b.ImageID)
	setIf(&r.GuestSVN, b.GuestSVN)
	if l, _ := snp.ReportVersionLayout(r.Version); l.MitVectors {
		r.LaunchMitVector, r.CurrentMitVector = b.MitVectors[0], b.MitVectors[1]
	}
	report := r.Marshal()
	if b.MutateReport != nil {
		b.MutateReport(report)
	}
	if err := snp.SignReport(report, cmp.Or(b.ReportKey, vcekKey)); err != nil {
		return nil, err
	}
	return report, nil
}

// setIf sets *dst to *v when v is not nil.
func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// MustBuild is Build that panics on error.
func (b *Builder) MustBuild() *Evidence {
	e, err := b.Build()
	if err != nil {
		panic(err)
	}
	return e
}

func (b *Builder) runtimeData(version int, nonce []byte) ([]byte, error) {
	ak, ek := b.AK, b.EK
	if ak == nil {
		ak = AKKey()
	}
	if ek == nil {
		ek = EKKey()
	}
	var keys []hcl.JWK
	akJWK := hcl.NewRSAJWK(hcl.KidAK, []string{"sign"}, &ak.PublicKey)
	ekJWK := hcl.NewRSAJWK(hcl.KidEK, []string{"encrypt"}, &ek.PublicKey)
	if !b.OmitAK {
		keys = append(keys, akJWK)
	}
	if !b.OmitEK {
		if b.EKFirst {
			keys = append([]hcl.JWK{ekJWK}, keys...)
		} else {
			keys = append(keys, ekJWK)
		}
	}
	rd := hcl.RuntimeData{Keys: keys, VMConfig: b.VMConfig}
	if rd.VMConfig == nil {
		rd.VMConfig = DefaultVMConfig()
	}
	if !b.OmitUserData {
		ud := b.UserData
		if ud == nil {
			ud = make([]byte, hcl.UserDataSize)
			if version == 2 {
				copy(ud, quote.ExpectedExtraData(nonce))
			}
		}
		rd.UserData = ud
	}
	return json.Marshal(rd)
}

// quote builds and signs the TPMS_ATTEST (through quote.Attest).
func (b *Builder) quote(nonce []byte) (*quote.Quote, error) {
	ak := b.AK
	if ak == nil {
		ak = AKKey()
	}
	pcrs := b.PCRs
	if pcrs == nil {
		pcrs = DefaultPCRs()
		if b.VMConfig != nil {
			// PCR 6 names the VM of the runtime data, as on Azure.
			pcr6 := hcl.PCR6(b.VMConfig.VMUniqueID, "")
			pcrs[6] = pcr6[:]
		}
	}
	sel := b.PCRSelect
	if sel == nil {
		sel = make([]int, 24)
		for i := range sel {
			sel[i] = i
		}
	}
	digestOver := b.DigestPCRs
	if digestOver == nil {
		digestOver = sel
	}
	bank := b.PCRBank
	if bank == 0 {
		bank = quote.AlgSHA256
	}
	extra := b.ExtraData
	if extra == nil {
		extra = quote.ExpectedExtraData(nonce)
	}
	h := sha256.New()
	for _, i := range digestOver {
		if i < 0 || i >= len(pcrs) {
			return nil, fmt.Errorf("testev: PCR %d hashed but not supplied", i)
		}
		h.Write(pcrs[i])
	}
	akDER, err := x509.MarshalPKIXPublicKey(&ak.PublicKey)
	if err != nil {
		return nil, err
	}
	name := sha256.Sum256(akDER)
	a := quote.Attest{
		QualifiedSigner: append([]byte{0x00, 0x0B}, name[:]...),
		ExtraData:       extra,
		Clock:           quote.ClockInfo{Clock: 0x359bae, ResetCount: 2},
		FirmwareVersion: 0x2020031200120003,
		Selection:       append([]quote.PCRSelection{{Hash: bank, PCRs: sel}}, b.ExtraSelections...),
		PCRDigest:       h.Sum(nil),
	}
	msg, err := a.Marshal()
	if err != nil {
		return nil, err
	}
	if b.MutateQuote != nil {
		msg = b.MutateQuote(msg)
	}
	key := b.QuoteKey
	if key == nil {
		key = ak
	}
	sig, err := SignQuote(key, msg)
	if err != nil {
		return nil, err
	}
	if b.OmitPCRValues {
		pcrs = nil
	}
	return &quote.Quote{Message: msg, Signature: sig, PCRs: pcrs}, nil
}

// Requote returns q with the extraData of its TPMS_ATTEST replaced by extra
// and signed again by key, as a VM does when it attests again for a new
// nonce without refreshing its HCL report. The PCR values are q's.
func Requote(q quote.Quote, key *rsa.PrivateKey, extra []byte) (quote.Quote, error) {
	a, err := quote.Parse(q.Message)
	if err != nil {
		return quote.Quote{}, err
	}
	a.ExtraData = extra
	if q.Message, err = a.Marshal(); err != nil {
		return quote.Quote{}, err
	}
	q.Signature, err = SignQuote(key, q.Message)
	return q, err
}

// Reattest returns ev, encoded, with its quote requoted for nonce and
// signed by key (Requote): the same HCL report and VCEK, as a VM attests
// again without refreshing its report.
func Reattest(ev *evidence.Evidence, key *rsa.PrivateKey, nonce []byte) ([]byte, error) {
	q, err := Requote(ev.Quote, key, nonce)
	if err != nil {
		return nil, err
	}
	e := *ev
	e.Quote = q
	return e.Encode()
}

// SignQuote signs msg with key as the vTPM's AK does: RSASSA-PKCS1-v1_5
// over SHA-256.
func SignQuote(key *rsa.PrivateKey, msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	return rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
}
