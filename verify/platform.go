package verify

import (
	"fmt"
	"slices"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// checkPlatforms validates the policy's platforms member: known names,
// each at most once.
func checkPlatforms(l []string) error {
	for i, name := range l {
		ptr := fmt.Sprintf("/platforms/%d", i)
		if name != PlatformSNP && name != PlatformTDX {
			return policyErr(ptr, "%q is not a platform, want %q or %q", format.Truncate(name, 32), PlatformSNP, PlatformTDX)
		}
		if slices.Index(l, name) != i {
			return policyErr(ptr, "%q listed twice", name)
		}
	}
	return nil
}

// acceptedPlatforms returns the platforms p accepts (Policy.Platforms);
// nil means any.
func (p *Policy) acceptedPlatforms() []string {
	if len(p.Platforms) > 0 {
		return p.Platforms
	}
	var out []string
	snpOnly, tdxOnly := p.platformMembers()
	if len(snpOnly) > 0 {
		out = append(out, PlatformSNP)
	}
	if len(tdxOnly) > 0 {
		out = append(out, PlatformTDX)
	}
	return out
}

// checkPlatform fails, with check platform, when the policy is not for
// platform (the kind of CVM whose hardware report verified).
func (p *Policy) checkPlatform(platform string) error {
	accepted := p.acceptedPlatforms()
	if accepted == nil || slices.Contains(accepted, platform) {
		return nil
	}
	how := "its members are for " + strings.Join(accepted, " and ")
	if len(p.Platforms) > 0 {
		how = "its platforms member lists " + strings.Join(accepted, " and ")
	}
	return failf(CheckPlatform, "the evidence is from a %s CVM, and the policy is not for %s (%s); add %q to the policy's platforms and the members that constrain it", platform, platform, how, platform)
}

// passPlatform passes on a verified report's claims when p is for their
// platform (check platform), and any error as it is.
func (p *Policy) passPlatform(c *Claims, err error) (*Claims, error) {
	if err != nil {
		return nil, err
	}
	if err := p.checkPlatform(c.Platform); err != nil {
		return nil, err
	}
	return c, nil
}
