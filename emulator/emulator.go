//go:build cgo

package emulator

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// Defaults of the emulated CVM.
const (
	// DefaultSeed seeds the simulator's hierarchies, so the AK and EK are
	// the same in every run and process.
	DefaultSeed int64 = 0x736e702d7674706d // "snp-vtpm"
	// DefaultVMUniqueID is the emulated VM's id (upper case, as Azure
	// writes it into the runtime data).
	DefaultVMUniqueID = "5E3B2A1C-7D4F-4E8A-9B6C-0F1E2D3C4B5A"
	// refreshTimeout bounds the paravisor's regeneration of the report.
	refreshTimeout = 5 * time.Second
)

var (
	// ErrAlreadyRunning means another emulated CVM is running in this
	// process: the TPM simulator is a process-wide singleton.
	ErrAlreadyRunning = errors.New("emulator: an emulated CVM is already running in this process (the TPM simulator is a singleton; Close it first)")
	// ErrClosed means the CVM was closed.
	ErrClosed = errors.New("emulator: CVM is closed")
	// ErrBadOptions means Options holds an invalid value.
	ErrBadOptions = errors.New("emulator: invalid options")
)

// simulatorInUse guards the go-tpm-tools simulator, a process-wide singleton
// whose Get blocks (forever) while another instance is open. This is the one
// piece of package-level mutable state, mirroring the simulator's own.
var simulatorInUse atomic.Bool

var guidPattern = regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$`)

// Options configures Start. The zero value (or nil) gives the default CVM.
type Options struct {
	// Logger receives the paravisor's log; nil discards it.
	Logger *slog.Logger
	// VMUniqueID is the VM's GUID in upper case (default
	// DefaultVMUniqueID). It appears in the runtime data and is measured
	// into PCR 6 like on Azure.
	VMUniqueID string
	// Measurement is the SNP launch measurement (zero: the
	// fakeamd.DefaultMeasurement).
	Measurement [48]byte
	// Seed seeds the TPM hierarchies (0: DefaultSeed). The AK, and so the
	// CVM's identity, depends only on it.
	Seed int64
	// Platform is the emulated hardware: PlatformSNP ("" too) or
	// PlatformTDX (an Azure TDX CVM: the HCL report carries a TDREPORT
	// and the fake IMDS serves TD quotes under package fakeintel's fake
	// Intel chain at TDQuotePath).
	Platform string
	// THIMDown makes the fake IMDS answer its THIM endpoint (THIMPath)
	// with 503 Service Unavailable, as an IMDS that cannot serve the
	// certificates: an attester then gets no VCEK from it (evidence
	// without "vcek", or attester.ErrNoVCEK with RequireVCEK). The TD
	// quote endpoint is not affected.
	THIMDown bool
	// RevokedVCEK makes the fake IMDS serve the revoked fake VCEK
	// (fakeamd.RevokedVCEKDER: the fake VCEK's key under the serial the
	// fake VCEK CRL lists) in place of the fake VCEK: evidence then
	// verifies with --trust-emulated until revocation is checked
	// (--check-revocation: the emulated chain's own CRLs), which rejects
	// it.
	RevokedVCEK bool
}

// Values of Options.Platform.
const (
	PlatformSNP = "snp"
	PlatformTDX = "tdx"
)

// CVM is a running emulated Azure Confidential VM.
type CVM struct {
	log         *slog.Logger
	platform    string
	vmID        string
	measurement [48]byte

	mu     sync.Mutex // serialises TPM commands; guards the fields below
	sim    *simulator.Simulator
	raw    transport.TPM
	ak     *rsa.PublicKey
	closed bool

	thimDown    bool   // Options.THIMDown
	revokedVCEK bool   // Options.RevokedVCEK
	eventLog    []byte // the boot event log (BootLog), written once at Start
	tdReport    []byte // TDX: the TDREPORT of the current HCL report

	imds     *http.Server
	imdsURL  string
	imdsBase string
	served   chan struct{} // closed when the IMDS server goroutine ends
}

// Start starts an emulated Azure CVM: it opens the TPM simulator with a
// fixed seed and provisions it like an Azure vTPM (AK at 0x81000003, EK at
// 0x81010001, PCRs 0-9 measured with the boot event log EventLog returns, HCL report with a signed SNP report at NV
// 0x01400001), and starts the fake IMDS endpoint on loopback. Only one CVM
// can run per process at a time: Start returns an error matching
// ErrAlreadyRunning while another one is open. Close releases it. (Code that
// opens the go-tpm-tools simulator directly, bypassing this package, makes
// Start block until it closes the simulator.)
func Start(ctx context.Context, opts *Options) (*CVM, error) {
	if opts == nil {
		opts = &Options{}
	}
	c := &CVM{log: opts.Logger, platform: opts.Platform, vmID: opts.VMUniqueID, measurement: opts.Measurement, thimDown: opts.THIMDown, revokedVCEK: opts.RevokedVCEK, served: make(chan struct{})}
	switch c.platform {
	case "":
		c.platform = PlatformSNP
	case PlatformSNP, PlatformTDX:
	default:
		return nil, fmt.Errorf("%w: Platform %.20q is neither %q nor %q", ErrBadOptions, c.platform, PlatformSNP, PlatformTDX)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.vmID == "" {
		c.vmID = DefaultVMUniqueID
	}
	if !guidPattern.MatchString(c.vmID) {
		return nil, fmt.Errorf("%w: VMUniqueID %q is not an upper-case GUID", ErrBadOptions, c.vmID)
	}
	if c.measurement == ([48]byte{}) {
		c.measurement = fakeamd.DefaultMeasurement()
	}
	seed := opts.Seed
	if seed == 0 {
		seed = DefaultSeed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !simulatorInUse.CompareAndSwap(false, true) {
		return nil, ErrAlreadyRunning
	}
	sim, err := simulator.GetWithFixedSeedInsecure(seed)
	if err != nil {
		simulatorInUse.Store(false)
		return nil, fmt.Errorf("emulator: starting the TPM simulator: %w", err)
	}
	c.sim = sim
	c.raw = transport.FromReadWriter(sim)
	if err := c.provision(ctx); err != nil {
		c.shutdownSimulator()
		return nil, err
	}
	if err := c.startIMDS(); err != nil {
		c.shutdownSimulator()
		return nil, err
	}
	c.log.Info("emulated Azure CVM started", "vmUniqueId", c.vmID, "imds", c.imdsURL)
	return c, nil
}

// startIMDS serves the fake THIM endpoint on a loopback port.
func (c *CVM) startIMDS() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("emulator: fake IMDS: %w", err)
	}
	c.imds = &http.Server{Handler: c.imdsHandler(), ReadHeaderTimeout: 10 * time.Second}
	c.imdsBase = "http://" + l.Addr().String()
	c.imdsURL = c.imdsBase + THIMPath
	go func() {
		defer close(c.served)
		if err := c.imds.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("fake IMDS stopped", "err", err)
		}
	}()
	return nil
}

// shutdownSimulator closes the simulator and releases the singleton.
func (c *CVM) shutdownSimulator() error {
	err := c.sim.Close()
	simulatorInUse.Store(false)
	if err != nil {
		return fmt.Errorf("emulator: closing the TPM simulator: %w", err)
	}
	return nil
}

// TPM returns the guest's view of the vTPM. It is safe for concurrent use:
// commands are serialised. A successful TPM2_NV_Write to NV index
// 0x01400002 makes the paravisor regenerate the HCL report at 0x01400001
// with "user-data" = the index's content zero-padded to 64 bytes, before the
// write's response is returned.
func (c *CVM) TPM() transport.TPM { return guestTPM{c} }

// IMDSURL returns the full URL of the fake Azure IMDS THIM endpoint
// (http://127.0.0.1:port/metadata/THIM/amd/certification). It answers GET
// requests carrying the header "Metadata: true" with the fake VCEK, its TCB
// and the fake ASK+ARK chain, and other requests with HTTP 400 (or 405).
func (c *CVM) IMDSURL() string { return c.imdsURL }

// TDQuoteURL returns the URL of the fake Azure IMDS TD quote endpoint
// (http://127.0.0.1:port/acc/tdquote). For a TDX CVM it answers a POST of
// {"report": base64url(TDREPORT)} with {"quote": unpadded base64url} when
// the TDREPORT is the one in the CVM's current HCL report (the only ones
// its "CPU" made); an SNP CVM answers 404.
func (c *CVM) TDQuoteURL() string { return c.imdsBase + TDQuotePath }

// Platform returns the emulated hardware (PlatformSNP or PlatformTDX).
func (c *CVM) Platform() string { return c.platform }

// EventLog returns (a copy of) the emulated firmware's TCG boot event log,
// which replays to the vTPM's PCRs 0-9 as Start left them: what a guest
// reads from /sys/kernel/security/tpm0/binary_bios_measurements.
func (c *CVM) EventLog() []byte { return bytes.Clone(c.eventLog) }

// VMUniqueID returns the emulated VM's id.
func (c *CVM) VMUniqueID() string { return c.vmID }

// Close stops the IMDS endpoint and the TPM simulator, after which Start may
// be called again. Calling Close more than once is harmless.
func (c *CVM) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	if c.imds != nil {
		if err := c.imds.Close(); err != nil {
			errs = append(errs, fmt.Errorf("emulator: closing the fake IMDS: %w", err))
		}
		<-c.served
	}
	if err := c.shutdownSimulator(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// guestTPM is the guest's transport: it serialises commands and plays the
// paravisor.
type guestTPM struct{ c *CVM }

// Send implements transport.TPM.
func (g guestTPM) Send(cmd []byte) ([]byte, error) { return g.c.send(cmd) }

func (c *CVM) send(cmd []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	rsp, err := c.raw.Send(cmd)
	if err != nil {
		return nil, err
	}
	if idx, ok := nvWriteIndex(cmd); ok && idx == vtpm.NVIndexUserData && responseSucceeded(rsp) {
		ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
		defer cancel()
		if err := c.refreshLocked(ctx); err != nil {
			// Like the real paravisor, a failed refresh leaves the old
			// report in place; the guest's poll times out.
			c.log.Error("paravisor: regenerating the HCL report failed", "err", err)
		} else {
			c.log.Info("paravisor: HCL report regenerated with new user data")
		}
	}
	return rsp, nil
}
