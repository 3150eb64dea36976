package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/result"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestIssuedTokens holds what a server issues to what this exchange
// verified, for the single secret and for resources with and without an
// extra policy, on the synthetic chain and on the emulated CVM's: the
// token verifies bound to the exchange's nonce; ear.status is warning
// (trust vector 32) for emulated evidence in every path and affirming
// otherwise; the resource it names is the one released (the request's
// name, after the server found it) and whose secret the answer seals to
// the exchange's key and nonce; the chip, VM id and PCRs are the
// evidence's; the pinned PCRs and the policy id cover the server's policy
// and the resource's; iat is the server's clock, nbf = iat, exp = iat +
// 300 s; jti is 128 bits, never repeated; and the audit line names the
// same resource and jti.
func TestIssuedTokens(t *testing.T) {
	fake, err := fakeamd.Chain()
	if err != nil {
		t.Fatal(err)
	}
	pcrs := testev.DefaultPCRs()
	base := verify.Policy{PCRs: map[int]verify.HexBytes{4: pcrs[4]}}
	extra := &verify.Policy{Products: []string{"Milan"}, PCRs: map[int]verify.HexBytes{7: pcrs[7], 4: pcrs[4]}}
	key, _, err := result.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	var logBuf testutil.LogBuffer
	cfg := testConfig()
	cfg.Verifier = testVerifier(verify.Config{Roots: testev.Roots().Add(fake), Policy: base})
	cfg.Resources = map[string]Resource{"plain": {Secret: []byte("pw-plain")}, "pinned": {Secret: []byte("pw-pinned"), Policy: extra}}
	cfg.Logger = slog.New(slog.NewJSONHandler(&logBuf, nil))
	if cfg.Signer, err = result.NewSigner(key, "https://verifier.test"); err != nil {
		t.Fatal(err)
	}
	url := startHTTP(t, newServer(t, cfg)).URL
	ks := testutil.Must(result.ParseJWKS(httpGet(t, url+PathJWKS)))(t)
	seen := map[string]bool{}
	for _, resource := range []string{"", "plain", "pinned"} {
		for _, emulated := range []bool{false, true} {
			gather := func(_ context.Context, nonce []byte) ([]byte, error) {
				b := &testev.Builder{Nonce: nonce}
				if emulated {
					b = testev.Emulated(*b)
				}
				ev, err := b.Build()
				if err != nil {
					return nil, err
				}
				return ev.JSON, nil
			}
			c := &Client{URL: url, Resource: resource}
			req, priv, err := c.Request(context.Background(), gather)
			if err != nil {
				t.Fatal(err)
			}
			before := time.Now().Unix()
			var resp AttestResponse
			if err := c.Post(context.Background(), PathAttest, mustJSON(t, req), &resp); err != nil {
				t.Fatalf("%q emulated %v: %v", resource, emulated, err)
			}
			after := time.Now().Unix()
			nonce := Nonce(req.Challenge, req.PublicKey)
			claims, err := result.Verify(context.Background(), []byte(resp.Token), result.Config{Keys: ks, Issuer: "https://verifier.test", Nonce: nonce, AllowEmulated: true})
			if err != nil {
				t.Fatalf("%q emulated %v: %v", resource, emulated, err)
			}
			checkIssued(t, claims, resource, emulated, before, after)
			// The secret sealed in this answer is the named resource's.
			want := map[string]string{"": string(testSecret), "plain": "pw-plain", "pinned": "pw-pinned"}[resource]
			if got, err := OpenSecret(priv, nonce, resp.Ciphertext); err != nil || string(got) != want {
				t.Errorf("%q: opened %q, %v; want %q", resource, got, err, want)
			}
			pols := []*verify.Policy{&base}
			wantPinned := []int{4}
			if resource == "pinned" {
				pols, wantPinned = append(pols, extra), []int{4, 7}
			}
			a := claims.Appraisal()
			if a.PolicyID != result.PolicyID(pols...) || !slices.Equal(a.CVM.PCRsPinned, wantPinned) {
				t.Errorf("%q: policy id %s, pinned %v, want %s, %v", resource, a.PolicyID, a.CVM.PCRsPinned, result.PolicyID(pols...), wantPinned)
			}
			if seen[claims.ID] {
				t.Errorf("jti %s issued twice", claims.ID)
			}
			seen[claims.ID] = true
			if !auditNames(t, logBuf.Bytes(), resource, claims.ID, emulated) {
				t.Errorf("no audit line names resource %q, jti %s, emulated %v", resource, claims.ID, emulated)
			}
		}
	}
}

// checkIssued checks the claims of one issued token (TestIssuedTokens).
func checkIssued(t *testing.T, c *result.Claims, resource string, emulated bool, before, after int64) {
	t.Helper()
	a := c.Appraisal()
	status, trust, chip := result.StatusAffirming, result.TrustVector{InstanceIdentity: 2, Configuration: 2, Executables: 2, Hardware: 2}, testev.DefaultChipID(snp.Milan)
	if emulated {
		// AR4SI: an untrustworthy instance on contraindicated (emulated)
		// hardware, never a warning-tier 32 ("genuine hardware").
		status, trust, chip = result.StatusContraindicated, result.TrustVector{InstanceIdentity: 96, Configuration: 2, Executables: 2, Hardware: 96}, fakeamd.ChipID()
	}
	if a.Status != status || a.Trust != trust || a.CVM.Emulated != emulated {
		t.Errorf("%q emulated %v: ear.status %s, vector %+v, emulated %v", resource, emulated, a.Status, a.Trust, a.CVM.Emulated)
	}
	if a.CVM.Resource != resource || !bytes.Equal(a.CVM.ChipID, chip[:]) || a.CVM.VMUniqueID != testev.DefaultVMConfig().VMUniqueID ||
		!bytes.Equal(a.CVM.PCRs["7"], testev.DefaultPCRs()[7]) || len(a.CVM.PCRs) != 24 {
		t.Errorf("%q emulated %v: claims %+v", resource, emulated, a.CVM)
	}
	if c.IssuedAt < before || c.IssuedAt > after || c.NotBefore != c.IssuedAt || c.Expiry != c.IssuedAt+300 {
		t.Errorf("iat %d (exchange %d..%d), nbf %d, exp %d", c.IssuedAt, before, after, c.NotBefore, c.Expiry)
	}
	if id, err := base64.RawURLEncoding.Strict().DecodeString(c.ID); err != nil || len(id) != 16 {
		t.Errorf("jti %q: %d bytes, %v", c.ID, len(id), err)
	}
}

// auditNames reports whether a JSON log has the audit line of a release
// of resource with token jti.
func auditNames(t *testing.T, logs []byte, resource, jti string, emulated bool) bool {
	t.Helper()
	for _, l := range logLines(t, logs, "secret released") {
		if l["resource"] == resource && l["jti"] == jti && l["emulated"] == emulated {
			return true
		}
	}
	return false
}
