package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/result"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

func TestValidResourceName(t *testing.T) {
	for name, ok := range map[string]bool{
		"db": true, "db/password": true, "a.b_c-d/E9": true, "x..y": true,
		"": false, "..": false, "../x": false, "a/../b": false, "a/./b": false, ".": false,
		"/etc/passwd": false, "a//b": false, "a/": false, `a\b`: false, "a b": false,
		"..data": false, "..2026_12_06_22_00_00.1/db": false, "a/..b": false, ".a": true,
		"db.policy.json": false, "é": false, strings.Repeat("a", MaxResourceName+1): false, "a\x00": false,
	} {
		if got := ValidResourceName(name); got != ok {
			t.Errorf("ValidResourceName(%q) = %v, want %v", name, got, ok)
		}
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadSecretsDir(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"db/password":             "pw",
		"db/password.policy.json": `{"products":["Milan"]}`,
		"tls/key":                 "k",
	})
	// A symbolic link inside the directory is followed.
	if err := os.Symlink("key", filepath.Join(dir, "tls", "alias")); err != nil {
		t.Fatal(err)
	}
	rs, err := LoadSecretsDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 || string(rs["db/password"].Secret) != "pw" || rs["db/password"].Policy == nil ||
		rs["tls/key"].Policy != nil || string(rs["tls/alias"].Secret) != "k" {
		t.Fatalf("resources = %+v", rs)
	}

	outside := filepath.Join(t.TempDir(), "outside")
	writeFiles(t, filepath.Dir(outside), map[string]string{"outside": "not yours"})
	bad := []struct {
		name  string
		files map[string]string
		link  [2]string // symlink target, name
	}{
		{"symlink escape (absolute)", map[string]string{"a": "x"}, [2]string{outside, "escape"}},
		{"symlink escape (relative)", map[string]string{"a": "x"}, [2]string{"../../../../../../../../etc/hostname", "escape"}},
		{"policy without resource", map[string]string{"a": "x", "b.policy.json": "{}"}, [2]string{}},
		{"bad policy", map[string]string{"a": "x", "a.policy.json": `{"nope":1}`}, [2]string{}},
		{"duplicate policy member", map[string]string{"a": "x", "a.policy.json": `{"products":[],"products":[]}`}, [2]string{}},
		// As verify --policy and serve --policy read them: members that
		// would read as less than written are refused.
		{"policy with an empty allow-list", map[string]string{"a": "x", "a.policy.json": `{"measurements":[]}`}, [2]string{}},
		{"policy with a null member", map[string]string{"a": "x", "a.policy.json": `{"min_tcb":null}`}, [2]string{}},
		{"policy member of an unlisted platform", map[string]string{"a": "x", "a.policy.json": `{"platforms":["tdx"],"products":["Milan"]}`}, [2]string{}},
		{"empty secret", map[string]string{"a": ""}, [2]string{}},
		{"unsafe name", map[string]string{"a b": "x"}, [2]string{}},
		{"no resources", map[string]string{}, [2]string{}},
	}
	for _, tc := range bad {
		d := t.TempDir()
		writeFiles(t, d, tc.files)
		if tc.link[1] != "" {
			if err := os.Symlink(tc.link[0], filepath.Join(d, tc.link[1])); err != nil {
				t.Fatal(err)
			}
		}
		rs, err := LoadSecretsDir(d)
		if err == nil {
			t.Errorf("%s: loaded %d resources", tc.name, len(rs))
		} else if strings.Contains(err.Error(), "not yours") {
			t.Errorf("%s: the error shows a secret: %v", tc.name, err)
		}
	}
	// A policy's name that is not a regular file must not leave its
	// resource without the policy (a bind mount of a missing policy file
	// creates an empty directory in its place).
	for _, tc := range []struct {
		name  string
		files map[string]string
		dirs  []string
		link  [2]string
	}{
		{"policy is an empty directory", map[string]string{"a": "x"}, []string{"a.policy.json"}, [2]string{}},
		{"policy is a directory of files", map[string]string{"a": "x", "a.policy.json/p": "{}"}, nil, [2]string{}},
		{"policy links to a directory", map[string]string{"a": "x", "d/f": "y"}, nil, [2]string{"d", "a.policy.json"}},
	} {
		d := t.TempDir()
		writeFiles(t, d, tc.files)
		for _, sub := range tc.dirs {
			if err := os.Mkdir(filepath.Join(d, sub), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		if tc.link[1] != "" {
			if err := os.Symlink(tc.link[0], filepath.Join(d, tc.link[1])); err != nil {
				t.Fatal(err)
			}
		}
		if rs, err := LoadSecretsDir(d); err == nil {
			t.Errorf("%s: loaded %d resources (a without its policy: %v)", tc.name, len(rs), rs["a"].Policy == nil)
		}
	}
	if _, err := LoadSecretsDir(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing directory loaded")
	}
}

// resourceServer is a server with resources, a signer and a JSON log.
func resourceServer(t *testing.T, withSecret bool) (*Server, string, *testutil.LogBuffer) {
	t.Helper()
	other := bytes.Repeat([]byte{0xee}, 48)
	cfg := testConfig()
	if !withSecret {
		cfg.Secret = nil
	}
	cfg.Resources = map[string]Resource{
		"db/password": {Secret: []byte("pw-db")},
		"milan-only":  {Secret: []byte("pw-milan"), Policy: &verify.Policy{Products: []string{"Milan"}}},
		"strict":      {Secret: []byte("pw-strict"), Policy: &verify.Policy{Measurements: []verify.HexBytes{other}}},
	}
	key, _, err := result.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	var logBuf testutil.LogBuffer
	cfg.Logger = slog.New(slog.NewJSONHandler(&logBuf, nil))
	cfg.Signer, err = result.NewSigner(key, "https://verifier.test")
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, cfg)
	return s, startHTTP(t, s).URL, &logBuf
}

func TestAttestResources(t *testing.T) {
	_, url, logBuf := resourceServer(t, false)
	ctx := context.Background()
	attest := func(resource string) (*Result, error) {
		return (&Client{URL: url, Resource: resource}).Attest(ctx, synthetic(t))
	}
	// A resource, with a token that verifies with the published JWKS.
	res, err := attest("db/password")
	if err != nil || string(res.Secret) != "pw-db" {
		t.Fatalf("db/password: %v", err)
	}
	jwks := httpGet(t, url+PathJWKS)
	ks, err := result.ParseJWKS(jwks)
	if err != nil {
		t.Fatal(err)
	}
	var oc OpenIDConfig
	if err := strictjson.Unmarshal(httpGet(t, url+PathOpenIDConfig), &oc, strictjson.Options{RejectUnknown: true}); err != nil ||
		oc.Issuer != "https://verifier.test" || oc.JWKSURI != "https://verifier.test"+PathJWKS {
		t.Fatalf("openid-configuration: %+v %v", oc, err)
	}
	c, err := result.Verify(ctx, []byte(res.Token), result.Config{Keys: ks, Issuer: oc.Issuer})
	if err != nil {
		t.Fatal(err)
	}
	chip := testev.DefaultChipID(snp.Milan)
	cvm := c.Appraisal().CVM
	if cvm.Resource != "db/password" || !bytes.Equal(cvm.ChipID, chip[:]) || cvm.VMUniqueID != testev.DefaultVMConfig().VMUniqueID || cvm.Product != "Milan" {
		t.Fatalf("token claims = %+v", cvm)
	}
	// Extra policy met, and not met.
	if res, err := attest("milan-only"); err != nil || string(res.Secret) != "pw-milan" {
		t.Fatalf("milan-only: %v", err)
	}
	_, err = attest("strict")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden || apiErr.Check != string(verify.CheckMeasurement) || !errors.Is(err, ErrRejected) {
		t.Fatalf("strict: %v", err)
	}
	// Unknown and unsafe names: one answer that names nothing else.
	for _, name := range []string{"nope", "../db/password", "/db/password", "db/./password", "db", "db/password.policy.json"} {
		_, err := attest(name)
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Check != CheckResource || apiErr.Message != unknownResource {
			t.Errorf("%q: %v", name, err)
		}
	}
	// No resource, and no single secret: 400.
	if _, err := attest(""); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest {
		t.Errorf("no resource: %v", err)
	}
	// The audit log: which VM got which resource, never a secret.
	logs := logBuf.Bytes()
	for _, secret := range []string{"pw-db", "pw-milan", "pw-strict"} {
		if bytes.Contains(logs, []byte(secret)) {
			t.Errorf("the log contains %s", secret)
		}
	}
	var released int
	for l := range bytes.SplitSeq(bytes.TrimSpace(logs), []byte("\n")) {
		if bytes.Contains(l, []byte(`"msg":"secret released"`)) {
			released++
			if !bytes.Contains(l, []byte(hex.EncodeToString(chip[:]))) || !bytes.Contains(l, []byte(testev.DefaultVMConfig().VMUniqueID)) {
				t.Errorf("audit line %s", l)
			}
		}
	}
	if released != 2 || !bytes.Contains(logs, []byte(`"resource":"db/password"`)) {
		t.Errorf("%d audit lines", released)
	}
}

// TestResourcePoliciesShareCaches: a resource's own policy verifies with
// the server's caches (Verifier.WithPolicy), so the server holds one
// bounded set of caches whatever the number of resources.
func TestResourcePoliciesShareCaches(t *testing.T) {
	s, url, _ := resourceServer(t, false)
	ctx := context.Background()
	for _, resource := range []string{"db/password", "milan-only", "milan-only", "strict"} {
		_, _ = (&Client{URL: url, Resource: resource}).Attest(ctx, synthetic(t))
	}
	base := s.verifier.Stats()
	for name, r := range s.resources {
		if r.verifier != nil && r.verifier.Stats() != base {
			t.Errorf("resource %s has caches of its own: %+v, the server's %+v", name, r.verifier.Stats(), base)
		}
	}
	// Four attestations looked their VCEK up in the one cache (with caches
	// per resource, the server's saw only db/password's).
	if n := base.VCEKs.Hits + base.VCEKs.Misses; n < 4 {
		t.Errorf("the server's VCEK cache saw %d lookups for four attestations: %+v", n, base.VCEKs)
	}
}

func TestSingleSecretWithResourcesAndToken(t *testing.T) {
	_, url, _ := resourceServer(t, true)
	res, err := (&Client{URL: url}).Attest(context.Background(), synthetic(t))
	if err != nil || !bytes.Equal(res.Secret, testSecret) || res.Token == "" {
		t.Fatalf("single secret: %v", err)
	}
}

func TestNoSignerNoWellKnown(t *testing.T) {
	ts := startHTTP(t, newServer(t, testConfig()))
	res, err := (&Client{URL: ts.URL}).Attest(context.Background(), synthetic(t))
	if err != nil || res.Token != "" {
		t.Fatalf("attest: %v, token %q", err, res.Token)
	}
	resp, err := http.Get(ts.URL + PathJWKS)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("JWKS without a signer: %d", resp.StatusCode)
	}
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	code, b := testutil.Get(t, url)
	if code != 200 {
		t.Fatalf("GET %s: %d", url, code)
	}
	return b
}

// FuzzValidResourceName: an accepted name is a clean relative path inside
// any directory (filepath.IsLocal, no "." or ".." segment, no policy name).
func FuzzValidResourceName(f *testing.F) {
	for _, s := range []string{"db/password", "../x", "/etc/passwd", "a//b", "x.policy.json", "a/./b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !ValidResourceName(name) {
			return
		}
		if !filepath.IsLocal(name) || path.Clean(name) != name || strings.HasSuffix(name, PolicySuffix) || strings.ContainsAny(name, "\\\x00 ") {
			t.Fatalf("accepted %q", name)
		}
	})
}

// TestChallengeSpendRules: a verdict spends the challenge, so one challenge
// never tries a second piece of evidence (a 403 of the server's policy or
// of a resource's extra policy, then the right evidence: 401) nor releases
// twice (a release, then the same request for any resource or the single
// secret: 401); so does an unknown resource (404), which is answered only
// after the evidence verified, as documented.
func TestChallengeSpendRules(t *testing.T) {
	s, url, _ := resourceServer(t, true)
	post := func(ch, pub, ev []byte, resource string) (int, ErrorResponse) {
		st, er, _ := postRaw(t, url+PathAttest, mustJSON(t, AttestRequest{Challenge: ch, PublicKey: pub, Evidence: ev, Resource: resource}))
		return st, er
	}
	_, otherPub, _ := GenerateKey()
	cases := []struct {
		name, resource string
		first          func(ch, pub, ev []byte) (int, ErrorResponse)
		wantFirst      int
		wantRetry      int
	}{
		{"server policy 403", "", func(ch, _, ev []byte) (int, ErrorResponse) { return post(ch, otherPub, ev, "") }, http.StatusForbidden, http.StatusUnauthorized},
		{"resource policy 403", "db/password", func(ch, pub, ev []byte) (int, ErrorResponse) { return post(ch, pub, ev, "strict") }, http.StatusForbidden, http.StatusUnauthorized},
		{"unknown resource 404", "db/password", func(ch, pub, ev []byte) (int, ErrorResponse) { return post(ch, pub, ev, "nope") }, http.StatusNotFound, http.StatusUnauthorized},
		// A release spends the challenge too: the same request replayed,
		// for the same resource, another one or the single secret, is 401.
		{"released, replayed", "db/password", func(ch, pub, ev []byte) (int, ErrorResponse) { return post(ch, pub, ev, "db/password") }, http.StatusOK, http.StatusUnauthorized},
		{"released, replayed for another resource", "milan-only", func(ch, pub, ev []byte) (int, ErrorResponse) { return post(ch, pub, ev, "db/password") }, http.StatusOK, http.StatusUnauthorized},
		{"released, replayed for the single secret", "", func(ch, pub, ev []byte) (int, ErrorResponse) { return post(ch, pub, ev, "db/password") }, http.StatusOK, http.StatusUnauthorized},
		{"single secret released, replayed for a resource", "db/password", func(ch, pub, ev []byte) (int, ErrorResponse) { return post(ch, pub, ev, "") }, http.StatusOK, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch, pub, ev := challenged(t, url, synthetic(t))
			if st, er := tc.first(ch, pub, ev); st != tc.wantFirst {
				t.Fatalf("first: %d %+v, want %d", st, er, tc.wantFirst)
			}
			st, er := post(ch, pub, ev, tc.resource)
			if st != tc.wantRetry || (st == http.StatusUnauthorized && er.Check != CheckChallenge) {
				t.Fatalf("retry with the right evidence: %d %+v, want %d", st, er, tc.wantRetry)
			}
		})
	}
	if n := s.challenges.len(); n != 0 {
		t.Errorf("%d challenges outstanding, want 0", n)
	}
}

// TestResourceNamesNotProbed: a client whose evidence did not pass the
// server's policy gets the same answer (status, check, message) for a
// resource that exists and one that does not, so it cannot enumerate the
// names; before, the unknown name was a 404 before the challenge and the
// evidence were looked at. An attested client asking for a missing
// resource gets the 404, and the log says which VM asked for which name.
func TestResourceNamesNotProbed(t *testing.T) {
	_, url, logBuf := resourceServer(t, false)
	_, otherPub, _ := GenerateKey()
	post := func(ch, pub, ev []byte, resource string) (int, []byte) {
		st, _, body := postRaw(t, url+PathAttest, mustJSON(t, AttestRequest{Challenge: ch, PublicKey: pub, Evidence: ev, Resource: resource}))
		return st, body
	}
	cases := []struct {
		name string
		send func(resource string) (int, []byte)
		want int
	}{
		{"unknown challenge", func(res string) (int, []byte) {
			_, pub, ev := challenged(t, url, synthetic(t))
			return post(bytes.Repeat([]byte{7}, ChallengeSize), pub, ev, res)
		}, http.StatusUnauthorized},
		{"evidence for another key", func(res string) (int, []byte) {
			ch, _, ev := challenged(t, url, synthetic(t))
			return post(ch, otherPub, ev, res)
		}, http.StatusForbidden},
		{"evidence that does not parse", func(res string) (int, []byte) {
			ch, pub, _ := challenged(t, url, synthetic(t))
			return post(ch, pub, []byte(`{"version": 1}`), res)
		}, http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stKnown, known := tc.send("db/password")
			stUnknown, unknown := tc.send("no/such-secret")
			if stKnown != tc.want || stUnknown != stKnown || !bytes.Equal(known, unknown) {
				t.Errorf("known name: %d %s\nunknown name: %d %s\nwant both %d, the same", stKnown, known, stUnknown, unknown, tc.want)
			}
		})
	}
	if bytes.Contains(logBuf.Bytes(), []byte("no/such-secret")) {
		t.Errorf("an unattested client's name was logged:\n%s", logBuf.Bytes())
	}
	// Attested: the 404, and a log line naming the VM and the name.
	ch, pub, ev := challenged(t, url, synthetic(t))
	st, er, _ := postRaw(t, url+PathAttest, mustJSON(t, AttestRequest{Challenge: ch, PublicKey: pub, Evidence: ev, Resource: "no/such-secret"}))
	if st != http.StatusNotFound || er.Check != CheckResource || er.Error != unknownResource {
		t.Fatalf("attested, unknown name: %d %+v", st, er)
	}
	chip := testev.DefaultChipID(snp.Milan)
	var line []byte
	for l := range bytes.SplitSeq(logBuf.Bytes(), []byte("\n")) {
		if bytes.Contains(l, []byte(`"msg":"unknown resource requested"`)) {
			line = l
		}
	}
	for _, want := range []string{`"resource":"no/such-secret"`, `"chip_id":"` + hex.EncodeToString(chip[:]) + `"`, `"vm_unique_id":"` + testev.DefaultVMConfig().VMUniqueID + `"`, `"level":"WARN"`} {
		if !bytes.Contains(line, []byte(want)) {
			t.Errorf("log line %q lacks %s", line, want)
		}
	}
}

// TestNewRefusesInvalidResourceNames (mutation29b): resources given in
// Config (not through LoadSecretsDir) are held to ValidResourceName too, and
// an empty secret is refused.
func TestNewRefusesInvalidResourceNames(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret []byte
	}{
		{"", []byte("s")}, {"../etc/passwd", []byte("s")}, {"/abs", []byte("s")}, {"a//b", []byte("s")},
		{"x" + PolicySuffix, []byte("s")}, {`a\b`, []byte("s")}, {"ok-name", nil},
	} {
		cfg := testConfig()
		cfg.Resources = map[string]Resource{tc.name: {Secret: tc.secret}}
		if s, err := New(cfg); err == nil {
			_ = s.Close()
			t.Errorf("resource %q (secret %d bytes) accepted", tc.name, len(tc.secret))
		}
	}
}

// TestForge30ResourcePolicyNeverWidens: a resource's extra policy adds to
// the server's; one that loosens what the server's policy holds (any
// paravisor, debug, an uncommitted TCB) releases nothing the server's
// policy refuses, and emulated evidence gets nothing from a server that
// does not trust the emulated chain, whatever the resource.
func TestForge30ResourcePolicyNeverWidens(t *testing.T) {
	cfg := testConfig()
	cfg.Secret = nil
	loose := &verify.Policy{AllowAnyParavisor: true, AllowDebug: true, AllowUncommittedTCB: true, AllowMigrationAgent: true}
	cfg.Resources = map[string]Resource{"loose": {Secret: []byte("pw-loose"), Policy: loose}}
	ts := startHTTP(t, newServer(t, cfg))
	zero := [48]byte{}
	for _, tc := range []struct {
		name  string
		build func(nonce []byte) *testev.Builder
		want  verify.Check
	}{
		{"zero ID key digest", func(n []byte) *testev.Builder { return &testev.Builder{Nonce: n, IDKeyDigest: &zero} }, verify.CheckParavisorIdentity},
		{"debug guest", func(n []byte) *testev.Builder { return &testev.Builder{Nonce: n, Policy: testev.DebugPolicy} }, verify.CheckDebug},
		{"emulated CVM", func(n []byte) *testev.Builder { return testev.Emulated(testev.Builder{Nonce: n}) }, verify.CheckVCEKChain},
	} {
		build := tc.build
		t.Run(tc.name, func(t *testing.T) {
			gather := func(_ context.Context, nonce []byte) ([]byte, error) {
				ev, err := build(nonce).Build()
				if err != nil {
					return nil, err
				}
				return ev.JSON, nil
			}
			res, err := (&Client{URL: ts.URL, Resource: "loose"}).Attest(context.Background(), gather)
			if res != nil {
				t.Fatalf("secret released: %q", res.Secret)
			}
			apiErr, ok := errors.AsType[*APIError](err)
			if !ok || apiErr.StatusCode != 403 || !errors.Is(err, ErrRejected) || apiErr.Check != string(tc.want) {
				t.Fatalf("err = %v, want a 403 naming %s", err, tc.want)
			}
		})
	}
	res, err := (&Client{URL: ts.URL, Resource: "loose"}).Attest(context.Background(), synthetic(t))
	if err != nil || string(res.Secret) != "pw-loose" {
		t.Fatalf("genuine evidence: %v", err)
	}
}

// TestLoadSecretsDirBoundsFiles: the walk stops at 2*MaxResources files
// (a secret and its policy each): one file more is refused, not skipped.
// Skipping it would drop a secret, or a resource's policy when the file
// left out is its .policy.json.
func TestLoadSecretsDirBoundsFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for i := range MaxResources {
		name := fmt.Sprintf("r%04d", i)
		files[name] = "s"
		files[name+PolicySuffix] = "{}"
	}
	writeFiles(t, dir, files)
	if rs, err := LoadSecretsDir(dir); err != nil || len(rs) != MaxResources {
		t.Fatalf("%d resources with their policies: %d loaded, %v", MaxResources, len(rs), err)
	}
	writeFiles(t, dir, map[string]string{"zz": "one file too many"})
	rs, err := LoadSecretsDir(dir)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than %d resources", MaxResources)) {
		t.Fatalf("%d files: %d resources loaded, err %v", 2*MaxResources+1, len(rs), err)
	}
}
