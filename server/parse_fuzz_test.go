package server

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

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
// and no error quotes the secret.
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
			if len(secret) >= 8 && !strings.Contains(name+string(policy), string(secret)) &&
				strings.Contains(err.Error(), string(secret)) {
				t.Fatalf("error quotes the secret: %v", err)
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
