package pcs

import (
	"fmt"
	"slices"
	"time"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// Intel's TCB statuses of a TCB level.
const (
	UpToDate                          = "UpToDate"
	SWHardeningNeeded                 = "SWHardeningNeeded"
	ConfigurationNeeded               = "ConfigurationNeeded"
	ConfigurationAndSWHardeningNeeded = "ConfigurationAndSWHardeningNeeded"
	OutOfDate                         = "OutOfDate"
	OutOfDateConfigurationNeeded      = "OutOfDateConfigurationNeeded"
	Revoked                           = "Revoked"
)

// Statuses lists every TCB status, best first.
func Statuses() []string {
	return []string{UpToDate, SWHardeningNeeded, ConfigurationNeeded, ConfigurationAndSWHardeningNeeded,
		OutOfDate, OutOfDateConfigurationNeeded, Revoked}
}

// Component is one SVN of a TCB level (SGX or TDX component).
type Component struct {
	SVN      *uint8 `json:"svn"`
	Category string `json:"category,omitempty"`
	Type     string `json:"type,omitempty"`
}

// PlatformTCB is the TCB of a platform TCB level.
type PlatformTCB struct {
	SGXComponents []Component `json:"sgxtcbcomponents"`
	PCESVN        *uint16     `json:"pcesvn"`
	TDXComponents []Component `json:"tdxtcbcomponents"`
}

// LevelInfo is what every TCB level says besides its TCB.
type LevelInfo struct {
	TCBDate     time.Time `json:"tcbDate"`
	TCBStatus   string    `json:"tcbStatus"`
	AdvisoryIDs []string  `json:"advisoryIDs,omitempty"`
}

// PlatformLevel is one platform TCB level of a TCB info.
type PlatformLevel struct {
	TCB       PlatformTCB `json:"tcb"`
	LevelInfo `json:",inline"`
}

// ISVTCB is the TCB of a TDX module or QE TCB level.
type ISVTCB struct {
	ISVSVN *uint16 `json:"isvsvn"`
}

// ISVLevel is one TCB level of a TDX module identity or QE identity.
type ISVLevel struct {
	TCB       ISVTCB `json:"tcb"`
	LevelInfo `json:",inline"`
}

// TDXModule is the TDX module's signer and attributes.
type TDXModule struct {
	MRSigner       string `json:"mrsigner"`
	Attributes     string `json:"attributes"`
	AttributesMask string `json:"attributesMask"`
}

// ModuleIdentity is a TDX module identity ("TDX_01", ...) with its levels.
type ModuleIdentity struct {
	ID        string `json:"id"`
	TDXModule `json:",inline"`
	TCBLevels []ISVLevel `json:"tcbLevels"`
}

// Header holds the members that TCB info and QE identity share.
type Header struct {
	// Signed is the document's signed inner object and signature.
	Signed                  Signed    `json:"-"`
	ID                      string    `json:"id"`
	Version                 int       `json:"version"`
	IssueDate               time.Time `json:"issueDate"`
	NextUpdate              time.Time `json:"nextUpdate"`
	TCBEvaluationDataNumber int       `json:"tcbEvaluationDataNumber"`
}

// TCBInfo is Intel's TCB info for one TDX platform (FMSPC), version 3.
type TCBInfo struct {
	Header           `json:",inline"`
	FMSPCHex         string           `json:"fmspc"`
	PCEIDHex         string           `json:"pceId"`
	TCBType          *int             `json:"tcbType"`
	TDXModule        *TDXModule       `json:"tdxModule"`
	ModuleIdentities []ModuleIdentity `json:"tdxModuleIdentities"`
	TCBLevels        []PlatformLevel  `json:"tcbLevels"`

	// FMSPC and PCEID are FMSPCHex and PCEIDHex decoded.
	FMSPC [6]byte `json:"-"`
	PCEID [2]byte `json:"-"`
}

// Bounds on the lists of a document.
const (
	maxLevels     = 256
	maxIdentities = 64
	maxAdvisories = 512
)

// ParseTCBInfo reads the PCS body of a TDX TCB info,
// {"tcbInfo":{...},"signature":"<hex>"}, strictly: unknown or missing
// members, another id than "TDX" or version than 3, component lists not of
// 16 entries, unknown statuses. The signature is not checked here.
func ParseTCBInfo(b []byte) (*TCBInfo, error) {
	t := &TCBInfo{}
	if err := parseSigned(b, "tcbInfo", "tcb_info", &t.Header, t); err != nil {
		return nil, err
	}
	if err := t.validate(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *TCBInfo) validate() error {
	switch {
	case t.ID != "TDX":
		return fieldErrf("tcb_info.id", format.ErrUnexpectedValue, "%.20q, want \"TDX\"", t.ID)
	case t.Version != 3:
		return fieldErrf("tcb_info.version", format.ErrUnsupportedVersion, "%d, want 3", t.Version)
	case t.IssueDate.IsZero() || t.NextUpdate.IsZero():
		return fieldErrf("tcb_info.issueDate", format.ErrMissingField, "issueDate and nextUpdate are required")
	case t.TCBType == nil || *t.TCBType != 0:
		return fieldErrf("tcb_info.tcbType", format.ErrUnexpectedValue, "want 0")
	case t.TDXModule == nil:
		return fieldErr("tcb_info.tdxModule", format.ErrMissingField)
	case len(t.TCBLevels) == 0 || len(t.TCBLevels) > maxLevels:
		return fieldErrf("tcb_info.tcbLevels", format.ErrBadLength, "%d levels, want 1..%d", len(t.TCBLevels), maxLevels)
	case len(t.ModuleIdentities) > maxIdentities:
		return fieldErrf("tcb_info.tdxModuleIdentities", format.ErrBadLength, "%d, want at most %d", len(t.ModuleIdentities), maxIdentities)
	}
	if err := decodeHex(t.FMSPCHex, t.FMSPC[:], "tcb_info.fmspc"); err != nil {
		return err
	}
	if err := decodeHex(t.PCEIDHex, t.PCEID[:], "tcb_info.pceId"); err != nil {
		return err
	}
	if err := t.TDXModule.validate("tcb_info.tdxModule"); err != nil {
		return err
	}
	for i := range t.ModuleIdentities {
		m := &t.ModuleIdentities[i]
		f := fmt.Sprintf("tcb_info.tdxModuleIdentities[%d]", i)
		if err := m.TDXModule.validate(f); err != nil {
			return err
		}
		if err := validateISVLevels(m.TCBLevels, f); err != nil {
			return err
		}
	}
	for i := range t.TCBLevels {
		if err := t.TCBLevels[i].validate(fmt.Sprintf("tcb_info.tcbLevels[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

func (m *TDXModule) validate(f string) error {
	var signer [48]byte
	var a, mask [8]byte
	if err := decodeHex(m.MRSigner, signer[:], f+".mrsigner"); err != nil {
		return err
	}
	if err := decodeHex(m.Attributes, a[:], f+".attributes"); err != nil {
		return err
	}
	return decodeHex(m.AttributesMask, mask[:], f+".attributesMask")
}

func (l *PlatformLevel) validate(f string) error {
	if len(l.TCB.SGXComponents) != 16 || len(l.TCB.TDXComponents) != 16 {
		return fieldErrf(f+".tcb", format.ErrBadLength, "%d SGX and %d TDX components, want 16 each", len(l.TCB.SGXComponents), len(l.TCB.TDXComponents))
	}
	for i := range 16 {
		if l.TCB.SGXComponents[i].SVN == nil || l.TCB.TDXComponents[i].SVN == nil {
			return fieldErrf(f+".tcb", format.ErrMissingField, "component %d has no svn", i)
		}
	}
	if l.TCB.PCESVN == nil {
		return fieldErr(f+".tcb.pcesvn", format.ErrMissingField)
	}
	return validateLevelCommon(l.TCBDate, l.TCBStatus, l.AdvisoryIDs, f, true)
}

// validateISVLevels checks the levels of a module or QE identity: at least
// one, each with an isvsvn, a date and a status of the ISV set.
func validateISVLevels(ls []ISVLevel, f string) error {
	if len(ls) == 0 || len(ls) > maxLevels {
		return fieldErrf(f+".tcbLevels", format.ErrBadLength, "%d levels, want 1..%d", len(ls), maxLevels)
	}
	for i := range ls {
		g := fmt.Sprintf("%s.tcbLevels[%d]", f, i)
		if ls[i].TCB.ISVSVN == nil {
			return fieldErr(g+".tcb.isvsvn", format.ErrMissingField)
		}
		if err := validateLevelCommon(ls[i].TCBDate, ls[i].TCBStatus, ls[i].AdvisoryIDs, g, false); err != nil {
			return err
		}
	}
	return nil
}

func validateLevelCommon(date time.Time, status string, adv []string, f string, platform bool) error {
	if date.IsZero() {
		return fieldErr(f+".tcbDate", format.ErrMissingField)
	}
	ok := slices.Contains(Statuses(), status)
	if !platform {
		ok = status == UpToDate || status == OutOfDate || status == Revoked
	}
	if !ok {
		return fieldErrf(f+".tcbStatus", format.ErrUnexpectedValue, "%.40q is not a known status", status)
	}
	if len(adv) > maxAdvisories {
		return fieldErrf(f+".advisoryIDs", format.ErrBadLength, "%d, want at most %d", len(adv), maxAdvisories)
	}
	return nil
}
