package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"unicode"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// FuzzClientKey: the X-Forwarded-For reader never panics; with the header
// trusted, a client's key is an IPv4 address or an IPv6 /64 prefix (a
// bounded string, whatever the header says), or the connection's address
// when the last entry is no address; an address written back by its
// builders (netip's String, with or without a port) is read back as the
// same address.
func FuzzClientKey(f *testing.F) {
	for _, s := range []string{"203.0.113.7", "10.0.0.1, 203.0.113.7", "203.0.113.7:443", "[2001:db8::1]:8443",
		"2001:db8::1", "::ffff:203.0.113.7", "fe80::1%eth0", "unknown", "", ",", "1.2.3.4:99999"} {
		f.Add(s, []byte{203, 0, 113, 7}, uint16(443))
	}
	f.Add("x", []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint16(0))
	s := &Server{}
	s.cfg.TrustForwardedFor = true
	f.Fuzz(func(t *testing.T, xff string, ip []byte, port uint16) {
		r := &http.Request{Header: http.Header{"X-Forwarded-For": {xff}}, RemoteAddr: "192.0.2.1:1234"}
		key := s.clientKey(r)
		if len(key) > len("ffff:ffff:ffff:ffff::/64") {
			t.Fatalf("key %q from %q", key, xff)
		}
		last := xff
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = last[i+1:]
		}
		if a, ok := forwardedAddr(strings.TrimSpace(last)); !ok && key != "192.0.2.1" || ok && key != addrKey(a) {
			t.Fatalf("key %q for %q", key, xff)
		}
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			return
		}
		for _, text := range []string{a.String(), netip.AddrPortFrom(a, port).String()} {
			if got, ok := forwardedAddr(text); !ok || got != a {
				t.Fatalf("forwardedAddr(%q) = %v, %v; want %v", text, got, ok, a)
			}
		}
	})
}

// FuzzResourcesOf: pairing the files of a secrets directory never panics;
// a resource is accepted only under a valid name with its secret as read
// and its policy exactly when verify.ParsePolicy accepts the policy file;
// and no error quotes the secret (checkSecretNotQuoted).
func FuzzResourcesOf(f *testing.F) {
	f.Add("db-password", []byte(`{"debug_allowed":false}`), []byte("s3cr3t-value-1234"), false)
	f.Add("team/key", []byte(`{"min_tcb":{"bootloader":3}}`), []byte("another secret value"), true)
	f.Add("../up", []byte(`{}`), []byte("secret outside the dir"), false)
	f.Add("x.policy.json", []byte(`{`), []byte("the secret of a policy"), true)
	f.Fuzz(func(t *testing.T, name string, policy, secret []byte, withPolicy bool) {
		files := map[string][]byte{name: secret}
		if withPolicy {
			files[name+PolicySuffix] = policy
		}
		rs, err := resourcesOf(files)
		if err != nil {
			if rs != nil {
				t.Fatal("resources with an error")
			}
			if !strings.HasSuffix(name, PolicySuffix) {
				checkSecretNotQuoted(t, files, name, secret, err)
			}
			return
		}
		r, ok := rs[name]
		if len(rs) != 1 || !ok || !ValidResourceName(name) || string(r.Secret) != string(secret) {
			t.Fatalf("accepted %d resources for %q", len(rs), name)
		}
		if withPolicy {
			if _, perr := verify.ParsePolicy(policy); perr != nil || r.Policy == nil {
				t.Fatalf("policy %v accepted as %v", perr, r.Policy)
			}
		} else if r.Policy != nil {
			t.Fatal("a policy without a policy file")
		}
	})
}

// checkSecretNotQuoted fails if resourcesOf's error err depends on the
// secret, which it would if it quoted it: with the secret replaced by
// another of its length (each byte inverted) the error must be the same.
// The secret's text alone in err proves nothing: the file names err gives
// can hold it (the policy file's is the resource's name with PolicySuffix:
// the first fuzz failure was secret ".js.pon." of resource
// "x.policy.js.pon"), and so can the policy it quotes or its own words.
// The caller skips names ending in PolicySuffix: such a file is a policy,
// not a secret, and which of the two files the error names first follows
// map order.
func checkSecretNotQuoted(t *testing.T, files map[string][]byte, name string, secret []byte, err error) {
	t.Helper()
	other := make([]byte, len(secret))
	for i, b := range secret {
		other[i] = ^b
	}
	files[name] = other
	if _, err2 := resourcesOf(files); err2 == nil || err2.Error() != err.Error() {
		t.Fatalf("the error depends on the secret: %v; with another secret: %v", err, err2)
	}
}

// FuzzAPIError: reading a verifier's error answer never panics, yields an
// Error() that is bounded and holds no control or format character of the
// server's choosing, and reads back the check and message of an
// ErrorResponse as the server encodes it (when they are printable and
// short).
func FuzzAPIError(f *testing.F) {
	f.Add(uint16(403), "", []byte(`{"error":"snp-measurement check failed: mismatch","check":"snp-measurement"}`), "", "")
	f.Add(uint16(302), "https://evil.example/\x1b[2J", []byte(nil), "", "")
	f.Add(uint16(400), "", []byte(`{"error":"\u202e\n","check":"x","extra":1}`), "request", "bad \x00 request")
	f.Add(uint16(500), "", []byte(strings.Repeat("x", 5000)), "check", strings.Repeat("m", 3000))
	f.Fuzz(func(t *testing.T, status uint16, location string, body []byte, check, msg string) {
		resp := &http.Response{StatusCode: int(status), Header: http.Header{"Location": {location}}}
		e := apiError(resp, body)
		text := e.Error()
		if len(text) > 3*(maxServerCheck+maxServerMessage) || strings.ContainsFunc(text, func(r rune) bool {
			return r == '\n' || r == '\r' || r == 0x1b || unicode.Is(unicode.Cf, r) || unicode.IsControl(r)
		}) {
			t.Fatalf("error of %d bytes: %q", len(text), text)
		}
		if status >= 300 && status < 400 {
			return
		}
		doc, err := json.Marshal(ErrorResponse{Error: msg, Check: check})
		if err != nil {
			return
		}
		e = apiError(resp, doc)
		if format.Printable(check, maxServerCheck) == check && format.Printable(msg, maxServerMessage) == msg &&
			(e.Check != check || e.Message != msg) {
			t.Fatalf("read %q, %q from %s", e.Check, e.Message, doc)
		}
	})
}

// FuzzOpenSecret: opening a sealed secret never panics; a ciphertext that
// is not the sealer's fails, and the sealer's opens to the secret (for
// the exchange's nonce only).
func FuzzOpenSecret(f *testing.F) {
	priv, pub, err := GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("nonce"), []byte("secret"), []byte{})
	f.Add([]byte{}, []byte{}, make([]byte, 32+16))
	f.Fuzz(func(t *testing.T, nonce, secret, junk []byte) {
		if pt, err := OpenSecret(priv, nonce, junk); err == nil {
			t.Fatalf("junk opened to %d bytes", len(pt))
		}
		sl, err := newSealer(pub, nonce)
		if err != nil {
			t.Fatal(err)
		}
		ct, err := sl.seal(secret)
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := OpenSecret(priv, nonce, ct); err != nil || string(pt) != string(secret) {
			t.Fatalf("sealed secret: %v", err)
		}
		if _, err := OpenSecret(priv, append(bytes.Clone(nonce), 0), ct); err == nil {
			t.Fatal("opened under another nonce")
		}
	})
}

// FuzzRedactRedisURL: redacting --redis for the logs never panics and
// never repeats the URL's password: the redacted URL is the same with
// another password. (The password's text alone proves nothing: url.Parse
// lowercases the scheme, so "ABCD://:abcd@h" is "abcd://:xxxxx@h".)
func FuzzRedactRedisURL(f *testing.F) {
	for _, s := range []string{"redis://u:hunter2@h:1/0", "rediss://:hunter2@h", "unix://:hunter2@/s?db=1", "redis://u:a@b@h", "::",
		"ABCD://:abcd@h", "//:hunter2@h", "redis://u:p%41ss@h#x@y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out := RedactRedisURL(raw)
		u, err := url.Parse(raw)
		if err != nil || u.User == nil {
			return
		}
		p, ok := u.User.Password()
		if !ok {
			return
		}
		other := "hunter2"
		if p == other {
			other = "hunter3"
		}
		raw2, ok := withPassword(raw, other)
		if !ok {
			t.Fatalf("password %q of %q not found", p, raw)
		}
		if out2 := RedactRedisURL(raw2); out2 != out {
			t.Fatalf("RedactRedisURL(%q) = %q, but with password %q: %q", raw, out, other, out2)
		}
	})
}
