package verify

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// DerivePolicy returns the policy that accepts exactly the configuration
// of the CVM whose verified claims c are (what "snp-vtpm policy derive"
// prints), requiring also the values of the PCRs at pcrs. On SEV-SNP it
// lists c's launch measurement, paravisor ID key digest and product line
// and takes c's reported TCB as the minimum (and its launch TCB as the
// minimum launch TCB, from version 2 reports, which carry one), so that
// evidence of another image, paravisor or product line, or of a guest
// launched under older firmware, fails it while a host TCB update
// passes; on TDX it lists the paravisor's MRTD (Intel's TCB status is
// judged by DefaultTDXTCBStatuses). Either way it names its Platforms.
// The emulated CVM's paravisor identity is left out: it is trusted with
// the emulated chain only. The policy is a starting point to review, not
// to use blindly.
//
// The guest's own settings are carried over, so that the policy accepts
// the evidence it came from whatever policy that was verified with, and
// no more: AllowDebug when the guest is debuggable (an SNP guest policy's
// DEBUG, a TD's TDATTRIBUTES 7:0), AllowMigrationAgent when its guest
// policy allows a migration agent, AllowUncommittedTCB when its report
// needs it, DenySMT when its guest policy forbids SMT, InitDataDigest
// when its PCR 8 was bound to init-data, and, for a TD whose evaluated
// TCB status is not a default one, TDXTCBStatuses: the defaults and that
// status.
//
// Errors: c is nil, pcrs names a PCR that c has no value for (the quote
// did not select it, or the evidence carried no PCR values), or the
// derived policy is one New refuses (for example a zero ID key digest,
// seen only with Policy.AllowAnyParavisor).
func DerivePolicy(c *Claims, pcrs []int) (*Policy, error) {
	if c == nil {
		return nil, errors.New("verify: DerivePolicy: no claims")
	}
	var p *Policy
	if c.Platform == PlatformTDX {
		if c.TDX == nil || len(c.TDX.MRTD) == 0 {
			return nil, errors.New("verify: DerivePolicy: the TDX claims carry no MRTD")
		}
		p = deriveTDX(c)
	} else {
		p = deriveSNP(c)
	}
	if c.Paravisor == ParavisorEmulated {
		// The emulated paravisor is trusted with the emulated chain only;
		// a policy may not list it.
		p.IDKeyDigests, p.TDXMRTDs = nil, nil
	}
	if d := c.InitData; d != nil && d.Bound {
		p.InitDataDigest = slices.Clone(d.Digest)
	}
	var err error
	if p.PCRs, err = derivePCRs(c, pcrs); err != nil {
		return nil, err
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("verify: DerivePolicy: %w", err)
	}
	return p, nil
}

// deriveSNP returns the policy of SEV-SNP claims c (see DerivePolicy).
func deriveSNP(c *Claims) *Policy {
	tcb := c.ReportedTCB
	layout, _ := snp.ReportVersionLayout(c.ReportVersion)
	p := &Policy{
		Platforms:           []string{PlatformSNP},
		MinTCB:              &tcb,
		Measurements:        []HexBytes{slices.Clone(c.Measurement)},
		IDKeyDigests:        []HexBytes{slices.Clone(c.IDKeyDigest)},
		Products:            []string{c.Product},
		AllowDebug:          c.GuestPolicy&snp.PolicyDebug != 0,
		AllowMigrationAgent: c.GuestPolicy&snp.PolicyMigrateMA != 0,
		AllowUncommittedTCB: !layout.TCBs || c.ReportedTCB != c.CommittedTCB,
		DenySMT:             c.GuestPolicy&snp.PolicySMT == 0,
	}
	if layout.TCBs {
		// A version 1 report carries no launch TCB to pin.
		launch := c.LaunchTCB
		p.MinLaunchTCB = &launch
	}
	return p
}

// deriveTDX returns the policy of TDX claims c (see DerivePolicy).
func deriveTDX(c *Claims) *Policy {
	p := &Policy{Platforms: []string{PlatformTDX}, TDXMRTDs: []HexBytes{slices.Clone(c.TDX.MRTD)}}
	if a := c.TDX.TDAttributes; len(a) == 8 {
		p.AllowDebug = binary.LittleEndian.Uint64(a)&tdx.TDAttributesTUD != 0
	}
	if s := c.TDX.TCBStatus; s != TCBNotEvaluated && s != "" && !slices.Contains(DefaultTDXTCBStatuses(), s) {
		p.TDXTCBStatuses = append(DefaultTDXTCBStatuses(), s)
	}
	return p
}

// derivePCRs returns the values of the PCRs at indexes, nil for none.
func derivePCRs(c *Claims, indexes []int) (map[int]HexBytes, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	if c.PCRValues == PCRValuesAbsent {
		return nil, errors.New("verify: DerivePolicy: the evidence carries no PCR values (only their quoted digest), so no PCR policy can be derived from it")
	}
	out := map[int]HexBytes{}
	for _, i := range indexes {
		v, ok := c.PCRs[i]
		if !ok {
			return nil, fmt.Errorf("verify: DerivePolicy: the evidence has no value for PCR %d", i)
		}
		out[i] = slices.Clone(v)
	}
	return out, nil
}
