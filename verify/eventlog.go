package verify

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
)

// EventLogClaims is the replay of the evidence's TCG boot event log against
// the quoted SHA-256 PCRs (package eventlog). Nothing signs the log: the
// state comes only from the events of PCRs that replayed.
type EventLogClaims struct {
	// PCRs is the replay verdict of every PCR the log extends or the quote
	// selects: "replayed", "not-covered" or "mismatch".
	PCRs map[int]eventlog.Status `json:"pcrs,omitempty"`
	// State is what the replayed PCRs' events say (Secure Boot, EFI
	// applications, kernel command line).
	State eventlog.State `json:"state"`
	// Error says why the log could not be replayed (it does not parse, or
	// the evidence carries no PCR values); PCRs and State are then empty.
	Error string `json:"error,omitempty"`
}

// requiresEventLog reports whether the policy asks anything of the log.
func (p *Policy) requiresEventLog() bool {
	return p.SecureBoot || p.KernelCmdline != "" || len(p.EventLogPCRs) > 0
}

// validateEventLog checks the event-log members of a policy.
func (p *Policy) validateEventLog() error {
	for i, idx := range p.EventLogPCRs {
		if idx < 0 || idx > 23 {
			return fmt.Errorf("policy: event_log_pcrs[%d]: %d, want a PCR index in 0..23", i, idx)
		}
	}
	if _, err := cmdlineMatcher(p.KernelCmdline); err != nil {
		return fmt.Errorf("policy: kernel_cmdline: %w", err)
	}
	return nil
}

// cmdlineMatcher returns the matcher of a kernel_cmdline policy: the exact
// string, or, written "/RE/", a regular expression that must match the
// whole command line.
func cmdlineMatcher(want string) (func(string) bool, error) {
	if len(want) >= 2 && strings.HasPrefix(want, "/") && strings.HasSuffix(want, "/") {
		re, err := regexp.Compile(`^(?:` + want[1:len(want)-1] + `)$`)
		if err != nil {
			return nil, err
		}
		return re.MatchString, nil
	}
	return func(s string) bool { return s == want }, nil
}

// fillEventLog replays log (nil: the evidence carries none) against the
// quoted PCRs and applies the policy's event-log requirements. A PCR that
// does not replay is an error only when the policy names it.
func (c *Claims) fillEventLog(log []byte, pol *Policy) error {
	if log == nil {
		if pol.requiresEventLog() {
			return failf(CheckEventLog, "the policy requires a boot event log, which the evidence does not carry")
		}
		return nil
	}
	el := &EventLogClaims{}
	c.EventLog = el
	if c.PCRs == nil {
		el.Error = "the evidence carries no PCR values to replay the log against"
	} else {
		quoted := make(map[int][]byte, len(c.PCRs))
		for i, v := range c.PCRs {
			quoted[i] = v
		}
		res, err := eventlog.Replay(log, quoted)
		if err != nil {
			el.Error = err.Error()
		} else {
			el.PCRs = make(map[int]eventlog.Status, len(res.PCRs))
			for _, p := range res.PCRs {
				el.PCRs[p.Index] = p.Status
			}
			el.State = res.State
		}
	}
	return el.check(pol)
}

// check applies secure_boot, kernel_cmdline and event_log_pcrs.
func (el *EventLogClaims) check(pol *Policy) error {
	if !pol.requiresEventLog() {
		return nil
	}
	if el.Error != "" {
		return failf(CheckEventLog, "the policy requires a replayed boot event log: %s", el.Error)
	}
	for _, idx := range slices.Sorted(slices.Values(pol.EventLogPCRs)) {
		if s := el.PCRs[idx]; s != eventlog.Replayed {
			if s == "" {
				s = eventlog.NotCovered
			}
			return failf(CheckEventLog, "PCR %d is required to replay but is %s", idx, s)
		}
	}
	if pol.SecureBoot {
		switch sb := el.State.SecureBoot; {
		case sb == nil:
			return failf(CheckEventLog, "the policy requires Secure Boot, but no replayed PCR 7 says it is on")
		case !*sb:
			return failf(CheckEventLog, "the policy requires Secure Boot; the replayed log says it is off")
		}
	}
	if pol.KernelCmdline != "" {
		match, err := cmdlineMatcher(pol.KernelCmdline)
		if err != nil {
			return failf(CheckEventLog, "kernel_cmdline: %v", err)
		}
		switch cl := el.State.KernelCmdline; {
		case cl == nil:
			return failf(CheckEventLog, "the policy requires a kernel command line, but no replayed PCR 8 carries one")
		case !match(*cl):
			return failf(CheckEventLog, "kernel command line %q does not match the policy's %q", *cl, pol.KernelCmdline)
		}
	}
	return nil
}
