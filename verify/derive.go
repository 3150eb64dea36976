package verify

import (
	"errors"
	"fmt"
	"slices"
)

// DerivePolicy returns the policy that accepts exactly the configuration
// of the CVM whose verified claims c are (what "snp-vtpm policy derive"
// prints), requiring also the values of the PCRs at pcrs. On SEV-SNP it
// lists c's launch measurement, paravisor ID key digest and product line
// and takes c's reported TCB as the minimum, so that evidence of another
// image, paravisor or product line fails it while a host TCB update
// passes; on TDX it lists the paravisor's MRTD (Intel's TCB status is
// judged by DefaultTDXTCBStatuses). Either way it names its Platforms.
// The emulated CVM's paravisor identity is left out: it is trusted with
// the emulated chain only. The policy is a starting point to review, not
// to use blindly.
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
		p = &Policy{Platforms: []string{PlatformTDX}, TDXMRTDs: []HexBytes{slices.Clone(c.TDX.MRTD)}}
	} else {
		tcb := c.ReportedTCB
		p = &Policy{
			Platforms:    []string{PlatformSNP},
			MinTCB:       &tcb,
			Measurements: []HexBytes{slices.Clone(c.Measurement)},
			IDKeyDigests: []HexBytes{slices.Clone(c.IDKeyDigest)},
			Products:     []string{c.Product},
		}
	}
	if c.Paravisor == ParavisorEmulated {
		// The emulated paravisor is trusted with the emulated chain only;
		// a policy may not list it.
		p.IDKeyDigests, p.TDXMRTDs = nil, nil
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
