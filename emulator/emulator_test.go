//go:build cgo

package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-sev-guest/kds"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

func start(t *testing.T, opts *Options) *CVM {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

func get(t *testing.T, method, url string, header bool) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if header {
		req.Header.Set("Metadata", "true")
	}
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer rsp.Body.Close()
	body, err := io.ReadAll(rsp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rsp.StatusCode, body
}

func TestIMDS(t *testing.T) {
	c := start(t, nil)
	if !strings.HasPrefix(c.IMDSURL(), "http://127.0.0.1:") || !strings.HasSuffix(c.IMDSURL(), THIMPath) {
		t.Fatalf("IMDSURL = %q", c.IMDSURL())
	}
	tests := []struct {
		name   string
		method string
		header bool
		status int
	}{
		{"with header", http.MethodGet, true, http.StatusOK},
		{"without header", http.MethodGet, false, http.StatusBadRequest},
		{"post", http.MethodPost, true, http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := get(t, tc.method, c.IMDSURL(), tc.header)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%s)", status, tc.status, body)
			}
			if status != http.StatusOK {
				if bytes.Contains(body, []byte("CERTIFICATE")) {
					t.Error("error response carries certificates")
				}
				return
			}
			var r thimResponse
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			if r.VcekCert != string(fakeamd.VCEKPEM()) {
				t.Error("vcekCert is not fakeamd's VCEK")
			}
			if r.Tcbm != "DB18000000000004" || r.CacheControl != "86400" {
				t.Errorf("tcbm %q cacheControl %q", r.Tcbm, r.CacheControl)
			}
			if _, _, err := kds.ParseProductCertChain([]byte(r.CertificateChain)); err != nil {
				t.Errorf("certificateChain: %v", err)
			}
		})
	}
	status, _ := get(t, http.MethodGet, strings.TrimSuffix(c.IMDSURL(), THIMPath)+"/metadata/other", true)
	if status != http.StatusNotFound {
		t.Errorf("other path: status %d", status)
	}
}

// TestIMDSTHIMDown: Options.THIMDown makes the THIM endpoint answer 503
// without certificates, still refusing a request without the Metadata
// header as Azure's does.
func TestIMDSTHIMDown(t *testing.T) {
	c := start(t, &Options{THIMDown: true})
	for _, tc := range []struct {
		header bool
		status int
	}{{true, http.StatusServiceUnavailable}, {false, http.StatusBadRequest}} {
		status, body := get(t, http.MethodGet, c.IMDSURL(), tc.header)
		if status != tc.status || bytes.Contains(body, []byte("CERTIFICATE")) {
			t.Fatalf("header %v: status %d (%s), want %d without certificates", tc.header, status, body, tc.status)
		}
	}
}

// TestIMDSRevokedVCEK (emu30b): Options.RevokedVCEK makes the THIM
// endpoint serve the revoked fake VCEK (the serial the fake VCEK CRL
// lists) with the same TCB and chain; by default it serves the fake VCEK.
func TestIMDSRevokedVCEK(t *testing.T) {
	for _, revoked := range []bool{false, true} {
		c := start(t, &Options{RevokedVCEK: revoked})
		status, body := get(t, http.MethodGet, c.IMDSURL(), true)
		var r thimResponse
		if err := json.Unmarshal(body, &r); err != nil || status != http.StatusOK {
			t.Fatalf("status %d: %v", status, err)
		}
		want := fakeamd.VCEKPEM()
		if revoked {
			want = fakeamd.RevokedVCEKPEM()
		}
		if r.VcekCert != string(want) || r.Tcbm != fakeamd.TCBM() || r.CertificateChain != string(fakeamd.ChainPEM()) {
			t.Errorf("RevokedVCEK %v: the THIM answer does not carry the expected VCEK, TCB and chain", revoked)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// identity returns the AK modulus and the report's chip id.
func identity(t *testing.T, c *CVM) ([]byte, []byte) {
	t.Helper()
	ctx := context.Background()
	ak, err := vtpm.AKPublic(ctx, c.TPM())
	if err != nil {
		t.Fatal(err)
	}
	blob, err := vtpm.ReadHCLReport(ctx, c.TPM())
	if err != nil {
		t.Fatal(err)
	}
	r, err := hcl.Parse(blob)
	if err != nil {
		t.Fatal(err)
	}
	return ak.N.Bytes(), bytes.Clone(r.SNPReport[snp.OffsetChipID : snp.OffsetChipID+snp.ChipIDSize])
}

func TestDeterministicIdentityAndSingleton(t *testing.T) {
	var mods, chips [][]byte
	for i := 0; i < 2; i++ {
		c, err := Start(context.Background(), nil)
		if err != nil {
			t.Fatalf("Start #%d: %v", i+1, err)
		}
		if _, err := Start(context.Background(), nil); !errors.Is(err, ErrAlreadyRunning) {
			t.Errorf("second concurrent Start: %v, want ErrAlreadyRunning", err)
		}
		m, chip := identity(t, c)
		mods, chips = append(mods, m), append(chips, chip)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}
	if !bytes.Equal(mods[0], mods[1]) {
		t.Error("AK differs between runs")
	}
	want := fakeamd.ChipID()
	for _, chip := range chips {
		if !bytes.Equal(chip, want[:]) {
			t.Errorf("chip id %x, want %x", chip, want)
		}
	}
	// A different seed gives a different AK.
	c := start(t, &Options{Seed: 42})
	m, _ := identity(t, c)
	if bytes.Equal(m, mods[0]) {
		t.Error("seed 42 gives the default AK")
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name string
		opts *Options
		ok   bool
	}{
		{"nil", nil, true},
		{"custom vm id", &Options{VMUniqueID: "01234567-89AB-CDEF-0123-456789ABCDEF"}, true},
		{"lower-case vm id", &Options{VMUniqueID: "01234567-89ab-cdef-0123-456789abcdef"}, false},
		{"junk vm id", &Options{VMUniqueID: strings.Repeat("A", 900)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Start(context.Background(), tc.opts)
			if (err == nil) != tc.ok {
				t.Fatalf("Start error %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrBadOptions) {
					t.Errorf("error %v does not match ErrBadOptions", err)
				}
				return
			}
			defer c.Close()
			if r := emulatedHCL(t, c); r.RuntimeData.VMConfig.VMUniqueID != c.VMUniqueID() {
				t.Errorf("vmUniqueId %q, want %q", r.RuntimeData.VMConfig.VMUniqueID, c.VMUniqueID())
			}
		})
	}
	// Custom measurement.
	var m [48]byte
	m[47] = 0x42
	c := start(t, &Options{Measurement: m})
	blob, err := vtpm.ReadHCLReport(context.Background(), c.TPM())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(blob[hcl.OffsetHardware+snp.OffsetMeasurement:hcl.OffsetHardware+snp.OffsetHostData], m[:]) {
		t.Error("measurement option not applied")
	}
	// The paravisor's identity is the emulator's fake ID key.
	if id, got := fakeamd.IDKeyDigest(), blob[hcl.HeaderSize+snp.OffsetIDKeyDigest:][:48]; !bytes.Equal(got, id[:]) {
		t.Errorf("ID_KEY_DIGEST %x, want fakeamd.IDKeyDigest %x", got, id)
	}
}

func TestStartCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Start(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Start with a canceled context: %v", err)
	}
	// The simulator was released.
	start(t, nil)
}

func TestRuntimeDataFits(t *testing.T) {
	c := start(t, nil)
	rd, err := buildRuntimeData(c.ak, "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", [64]byte{}, true)
	if err != nil {
		t.Fatalf("runtime data: %v", err)
	}
	if len(rd) > HCLReportSize-hcl.RuntimeDataOffset {
		t.Fatalf("runtime data is %d bytes", len(rd))
	}
	if _, err := buildRuntimeData(c.ak, strings.Repeat("A", 500), [64]byte{}, false); !errors.Is(err, ErrRuntimeDataTooLarge) {
		t.Errorf("oversized runtime data: %v", err)
	}
	parsed, err := hcl.ParseRuntimeData(rd)
	if err != nil {
		t.Fatal(err)
	}
	if ak, err := parsed.AK(); err != nil || !ak.Equal(c.ak) {
		t.Errorf("HCLAkPub does not round-trip: %v", err)
	}
	if !strings.HasPrefix(string(rd), `{"keys":[{"kid":"HCLAkPub","key_ops":["sign"],"kty":"RSA","e":"AQAB","n":"`) {
		t.Errorf("runtime data does not look like Azure's: %s", rd)
	}
}
