package collateral

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestChainOrder: each hop, in order (given, memory, disk, IMDS, KDS), is
// asked only when the ones before it have nothing that validates; what a
// hop offers is validated the same way whichever hop it is (a VCEK of
// another chip, of another TCB or from an untrusted hierarchy is passed
// over), and only what validated reaches memory and disk.
func TestChainOrder(t *testing.T) {
	pki := newTestPKI(t, "Milan")
	rogue := newForeignPKI(t, "Milan")
	chip := chipID(1)
	good := pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{serial: 1})
	otherChip := pki.vcek(t, ProductMilan, chipID(2), milanTCB(), vcekOpts{})
	otherTCB := pki.vcek(t, ProductMilan, chip, TCB{Bootloader: 9, Microcode: 1}, vcekOpts{})
	untrusted := rogue.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{})
	tests := []struct {
		name        string
		given, disk []byte // nil: none
		imds        []byte // nil: IMDS answers 404
		wantKDS     int64
		wantIMDS    int64 // requests
		wantFrom    string
		offline     bool
		wantOffline bool
	}{
		{name: "given", given: good, wantFrom: "given"},
		{name: "disk", disk: good, wantFrom: "disk"},
		{name: "IMDS", imds: good, wantIMDS: 1, wantFrom: "IMDS"},
		{name: "KDS", wantIMDS: 1, wantKDS: 1, wantFrom: "KDS"},
		{name: "given for another chip, disk", given: otherChip, disk: good, wantFrom: "disk"},
		{name: "disk of another TCB, IMDS", disk: otherTCB, imds: good, wantIMDS: 1, wantFrom: "IMDS"},
		{name: "untrusted on disk and IMDS, KDS", disk: untrusted, imds: untrusted, wantIMDS: 1, wantKDS: 1, wantFrom: "KDS"},
		{name: "IMDS of another chip, KDS", imds: otherChip, wantIMDS: 1, wantKDS: 1, wantFrom: "KDS"},
		{name: "offline, disk", disk: good, offline: true, wantFrom: "disk"},
		{name: "offline, untrusted on disk", disk: untrusted, offline: true, wantOffline: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kds := newFakeKDS(t, pki)
			c, imdsReqs := kds.newClientIMDS(func(w http.ResponseWriter, r *http.Request) {
				if tc.imds == nil {
					http.NotFound(w, r)
					return
				}
				fmt.Fprintf(w, `{"vcekCert":%q}`, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tc.imds}))
			})
			c.Offline = tc.offline
			c.build()
			if tc.given != nil {
				c.Sources = append([]Source{&Static{Certs: [][]byte{tc.given}}}, c.Sources...)
			}
			path := c.vcekPath(t, ProductMilan, chip, composeTCB(ProductMilan, milanTCB()))
			if tc.disk != nil {
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, tc.disk, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			der, err := c.GetVCEK(ctxTimeout(t, 5*time.Second), milanReq(chip, pki.validator()))
			if tc.wantOffline {
				if !errorsIs(err, ErrOffline) || kds.requests.Load()+imdsReqs.Load() != 0 || c.Mem.Len() != 0 {
					t.Fatalf("err = %v, %d requests, memory %d; want ErrOffline, none, empty", err, kds.requests.Load()+imdsReqs.Load(), c.Mem.Len())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := MatchVCEK(der, ProductMilan, chip, composeTCB(ProductMilan, milanTCB())); err != nil || pki.validator()(der) != nil {
				t.Fatalf("returned a VCEK that does not validate: %v", err)
			}
			if kds.requests.Load() != tc.wantKDS || imdsReqs.Load() != tc.wantIMDS {
				t.Errorf("KDS %d (want %d), IMDS %d (want %d) requests", kds.requests.Load(), tc.wantKDS, imdsReqs.Load(), tc.wantIMDS)
			}
			st := c.Stats()
			from := map[string]bool{"disk": st.DiskHits == 1, "IMDS": st.IMDSHits == 1, "KDS": tc.wantKDS == 1, "given": tc.given != nil && st.DiskHits == 0}
			if !from[tc.wantFrom] {
				t.Errorf("stats %+v, want the VCEK from %s", st, tc.wantFrom)
			}
			if tc.wantFrom == "given" {
				// What the caller holds is not cached: stores come after it.
				if c.Mem.Len() != 0 {
					t.Errorf("memory holds %d VCEKs, want 0", c.Mem.Len())
				}
				return
			}
			// Memory and disk now hold the validated VCEK and nothing else.
			if c.Mem.Len() != 1 {
				t.Errorf("memory holds %d VCEKs, want 1", c.Mem.Len())
			}
			if onDisk, err := os.ReadFile(path); err != nil || !bytes.Equal(onDisk, der) {
				t.Errorf("disk cache does not hold the validated VCEK: %v", err)
			}
			again, err := c.GetVCEK(context.Background(), milanReq(chip, pki.validator()))
			if err != nil || !bytes.Equal(again, der) || c.Stats().CacheHits != st.CacheHits+1 {
				t.Errorf("second call not from memory: %v, %+v", err, c.Stats())
			}
		})
	}
}
