package main

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/rrproxy"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/server"
)

// Three "serve --redis" replicas behind a round-robin proxy, each with its
// own disk cache, attested concurrently by VMs of one chip that no replica
// has seen, whose evidence carries no VCEK: between them they ask KDS once,
// and the metrics say where the others got it.
func TestServeFleetOneKDSRequest(t *testing.T) {
	r := testutil.StartRedis(t)
	var chip [64]byte
	copy(chip[:], "fleet test chip: unseen by every replica")
	vcek := (&testev.Builder{ChipID: &chip}).MustBuild().VCEKDER
	var kdsRequests atomic.Int64
	kds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		kdsRequests.Add(1)
		time.Sleep(50 * time.Millisecond) // the replicas' misses overlap
		if req.URL.Path != "/vcek/v1/Milan/"+hex.EncodeToString(chip[:]) {
			http.NotFound(w, req)
			return
		}
		w.Write(vcek)
	}))
	defer kds.Close()

	secretFile := writeTemp(t, "secret", []byte(cliSecret))
	roots := writeTemp(t, "roots.pem", testev.ChainPEM())
	var replicas []*serving
	var urls []string
	for range 3 {
		s := startServe(t, "--secret-file", secretFile, "--roots", roots, "--kds-url", kds.URL,
			"--cache-dir", filepath.Join(t.TempDir(), "cache"), "--redis", r.URL, "--redis-prefix", "fleet-test:",
			"--trust-forwarded-for", "--upstream-retries", "0")
		replicas = append(replicas, s)
		urls = append(urls, s.url)
	}
	p, err := rrproxy.New(urls)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	defer front.Close()

	gather := func(_ context.Context, nonce []byte) ([]byte, error) {
		ev, err := (&testev.Builder{Nonce: nonce, ChipID: &chip, OmitVCEK: true}).Build()
		if err != nil {
			return nil, err
		}
		return ev.JSON, nil
	}
	const attesters = 9
	var wg sync.WaitGroup
	errs := make(chan error, attesters)
	for range attesters {
		wg.Go(func() {
			res, err := (&server.Client{URL: front.URL}).Attest(context.Background(), gather)
			if err == nil && string(res.Secret) != cliSecret {
				err = context.Canceled
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("attestation through the proxy: %v", err)
		}
	}
	if n := kdsRequests.Load(); n != 1 {
		t.Errorf("%d KDS requests from the fleet, want 1", n)
	}
	var hits float64
	for _, s := range replicas {
		hits += metric(t, s.url, "snp_vtpm_kds_fleet_hits_total")
	}
	if hits < 2 {
		t.Errorf("%v certificates from the fleet cache, want at least 2 (the replicas that did not fetch)", hits)
	}
	if served := p.Served(); served[0] == 0 || served[1] == 0 || served[2] == 0 {
		t.Errorf("proxy spread %v", served)
	}
}

// metric returns the value of an unlabelled metric of serve's /metrics.
func metric(t *testing.T, url, name string) float64 {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var sb strings.Builder
	if _, err := io.Copy(&sb, res.Body); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(sb.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}
