package verify

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
)

// EventLogClaims is the replay of the evidence's TCG boot event log against
// the quoted SHA-256 PCRs (package eventlog). Nothing signs the log: the
// state comes only from the events of PCRs that replayed.
type EventLogClaims struct {
	// PCRs is the replay verdict of every PCR the log extends or the quote
	// selects: "replayed", "not-covered" or "mismatch"; "unchecked" for a
	// PCR the log extends but the quote does not select (it is never
	// trusted, and the policy cannot name it).
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
	return p.SecureBoot || p.KernelCmdline != "" || len(p.EventLogPCRs) > 0 || len(p.SecureBootDBCerts) > 0
}

// validateEventLog checks the event-log members of a policy.
func (p *Policy) validateEventLog() error {
	for i, idx := range p.EventLogPCRs {
		ptr := fmt.Sprintf("/event_log_pcrs/%d", i)
		if idx < 0 || idx > 23 {
			return policyErr(ptr, "%d, want a PCR index in 0..23", idx)
		}
		if j := slices.Index(p.EventLogPCRs[:i], idx); j >= 0 {
			return policyErr(ptr, "PCR %d repeats event_log_pcrs[%d]", idx, j)
		}
	}
	if _, err := cmdlineMatcher(p.KernelCmdline); err != nil {
		return &PolicyError{Pointer: "/kernel_cmdline", Err: err}
	}
	return checkDigests("secure_boot_db_certs", p.SecureBootDBCerts, 32, "SHA-256")
}

// maxCmdlineInsts bounds the compiled size of a kernel_cmdline regular
// expression. Go's matching takes time proportional to the size times
// the length of the line, and counted repetitions multiply the size: a
// few KiB of "\pL{1000}" compile to hundreds of thousands of
// instructions, taking a second to compile and more to match, on every
// verification. A real command line's expression needs a few hundred.
const maxCmdlineInsts = 2000

// cmdlineMatcher returns the matcher of a kernel_cmdline policy: the exact
// string, or, written "/RE/", a regular expression that must match the
// whole command line. RE is parsed on its own before it is anchored, so
// that it cannot close the anchoring group itself: "/a)|(.*/" would
// otherwise compile to ^(?:a)|(.*)$, which matches any line.
func cmdlineMatcher(want string) (func(string) bool, error) {
	if len(want) >= 2 && strings.HasPrefix(want, "/") && strings.HasSuffix(want, "/") {
		expr := want[1 : len(want)-1]
		parsed, err := syntax.Parse(expr, syntax.Perl)
		if err != nil {
			return nil, fmt.Errorf("/RE/: %w", err)
		}
		prog, err := syntax.Compile(parsed.Simplify())
		if err != nil {
			return nil, fmt.Errorf("/RE/: %w", err)
		}
		if len(prog.Inst) > maxCmdlineInsts {
			return nil, fmt.Errorf("/RE/ compiles to %d instructions, more than %d: write it without large counted repetitions such as {1000}", len(prog.Inst), maxCmdlineInsts)
		}
		re, err := regexp.Compile(`^(?:` + expr + `)$`)
		if err != nil {
			// An RE that parses alone but not inside the group (\Q
			// quoting to its end) is not one expression.
			return nil, fmt.Errorf("/RE/ is not one regular expression once anchored: %w", err)
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

// check applies event_log_pcrs, secure_boot, secure_boot_db_certs and
// kernel_cmdline.
func (el *EventLogClaims) check(pol *Policy) error {
	if !pol.requiresEventLog() {
		return nil
	}
	if el.Error != "" {
		return failf(CheckEventLog, "the policy requires a replayed boot event log: %s", el.Error)
	}
	for _, idx := range slices.Sorted(slices.Values(pol.EventLogPCRs)) {
		if s := el.status(idx); s != eventlog.Replayed {
			return failf(CheckEventLog, "PCR %d is required to replay but is %s", idx, s)
		}
	}
	if err := el.checkSecureBoot(pol); err != nil {
		return err
	}
	if pol.KernelCmdline != "" {
		match, err := cmdlineMatcher(pol.KernelCmdline)
		if err != nil {
			return failf(CheckEventLog, "kernel_cmdline: %v", err)
		}
		switch cl := el.State.KernelCmdline; {
		case cl == nil:
			return failf(CheckEventLog, "the policy requires a kernel command line, but PCR 8 is %s and carries none that verified", el.status(8))
		case !match(*cl):
			return failf(CheckEventLog, "kernel command line %q does not match the policy's %q", *cl, pol.KernelCmdline)
		}
	}
	return nil
}

// status is PCR idx's verdict (not-covered when the claims lack it).
func (el *EventLogClaims) status(idx int) eventlog.Status {
	if s, ok := el.PCRs[idx]; ok {
		return s
	}
	return eventlog.NotCovered
}

// checkSecureBoot applies secure_boot and secure_boot_db_certs.
func (el *EventLogClaims) checkSecureBoot(pol *Policy) error {
	sb := el.State.SecureBoot
	if (pol.SecureBoot || len(pol.SecureBootDBCerts) > 0) && sb == nil {
		return failf(CheckEventLog, "the policy requires Secure Boot state, but PCR 7 is %s and says nothing that verified", el.status(7))
	}
	if pol.SecureBoot && !*sb {
		return failf(CheckEventLog, "the policy requires Secure Boot; the replayed log says it is off")
	}
	for i, d := range pol.SecureBootDBCerts {
		if !el.State.DB.HasCert(hex.EncodeToString(d)) {
			return failf(CheckEventLog, "secure_boot_db_certs[%d]: the replayed Secure Boot db holds no certificate with SHA-256 %x", i, []byte(d))
		}
	}
	return nil
}
