package fastverify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// wycheproofFile is the part of a Wycheproof vector file these tests read.
type wycheproofFile struct {
	Algorithm     string `json:"algorithm"`
	NumberOfTests int    `json:"numberOfTests"`
	TestGroups    []struct {
		PublicKey struct {
			Curve    string `json:"curve"`
			WX       string `json:"wx"`
			WY       string `json:"wy"`
			Modulus  string `json:"modulus"`
			Exponent string `json:"publicExponent"`
		} `json:"publicKey"`
		SHA   string `json:"sha"`
		SLen  int    `json:"sLen"`
		Tests []struct {
			TcID    int      `json:"tcId"`
			Comment string   `json:"comment"`
			Flags   []string `json:"flags"`
			Msg     string   `json:"msg"`
			Sig     string   `json:"sig"`
			Result  string   `json:"result"`
		} `json:"tests"`
	} `json:"testGroups"`
}

// wycheproofVector is one test: its group's key, message, signature and
// expected result.
type wycheproofVector struct {
	id         int
	comment    string
	msg, sig   []byte
	result     string // valid, invalid or acceptable
	x, y, n, e *big.Int
	sha        string
	saltLength int
}

func readWycheproof(t *testing.T, name string) []wycheproofVector {
	t.Helper()
	data, err := os.ReadFile("testdata/wycheproof/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var f wycheproofFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	hexInt := func(s string) *big.Int {
		if s == "" {
			return nil
		}
		v, ok := new(big.Int).SetString(s, 16)
		if !ok {
			t.Fatalf("%s: bad hex integer %q", name, s)
		}
		return v
	}
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return b
	}
	var out []wycheproofVector
	for _, g := range f.TestGroups {
		for _, tc := range g.Tests {
			out = append(out, wycheproofVector{
				id: tc.TcID, comment: tc.Comment, msg: unhex(tc.Msg), sig: unhex(tc.Sig), result: tc.Result,
				x: hexInt(g.PublicKey.WX), y: hexInt(g.PublicKey.WY), n: hexInt(g.PublicKey.Modulus), e: hexInt(g.PublicKey.Exponent),
				sha: g.SHA, saltLength: g.SLen,
			})
		}
	}
	if len(out) != f.NumberOfTests || len(out) == 0 {
		t.Fatalf("%s: %d tests, header says %d", name, len(out), f.NumberOfTests)
	}
	return out
}

// checkWycheproof fails t when stdlib (the standard library's verdict)
// contradicts a vector's valid or invalid result; acceptable vectors may
// go either way (counted in acceptable: vectors, accepted).
func checkWycheproof(t *testing.T, v wycheproofVector, stdlib bool, acceptable *[2]int) {
	t.Helper()
	switch v.result {
	case "valid", "invalid":
		if stdlib != (v.result == "valid") {
			t.Errorf("tcId %d (%s): standard library says %v, vector says %s", v.id, v.comment, stdlib, v.result)
		}
	case "acceptable":
		acceptable[0]++
		if stdlib {
			acceptable[1]++
		}
	default:
		t.Fatalf("tcId %d: result %q", v.id, v.result)
	}
}

// parseECDSASignature reads a DER ECDSA-Sig-Value as crypto/ecdsa does:
// one SEQUENCE of two non-negative minimal INTEGERs, nothing after it.
func parseECDSASignature(sig []byte) (r, s *big.Int, ok bool) {
	var inner cryptobyte.String
	var rb, sb []byte
	in := cryptobyte.String(sig)
	if !in.ReadASN1(&inner, asn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1Integer(&rb) || !inner.ReadASN1Integer(&sb) || !inner.Empty() {
		return nil, nil, false
	}
	return new(big.Int).SetBytes(rb), new(big.Int).SetBytes(sb), true
}

func TestWycheproofECDSAP384SHA384(t *testing.T) {
	var acceptable [2]int
	vectors := readWycheproof(t, "ecdsa_secp384r1_sha384_test.json")
	for _, v := range vectors {
		pub := &ecdsa.PublicKey{Curve: elliptic.P384(), X: v.x, Y: v.y}
		h := digestOf(crypto.SHA384, v.msg)
		want := ecdsa.VerifyASN1(pub, h, v.sig)
		r, s, ok := parseECDSASignature(v.sig)
		got := ok && VerifyECDSAP384(pub, h, r, s)
		if got != want {
			t.Errorf("tcId %d (%s): VerifyECDSAP384 %v, ecdsa.VerifyASN1 %v", v.id, v.comment, got, want)
		}
		if ok {
			sameECDSA(t, pub, h, r, s)
		}
		checkWycheproof(t, v, want, &acceptable)
	}
	t.Logf("%d vectors; %d 'acceptable', of which the standard library (and this package) accept %d", len(vectors), acceptable[0], acceptable[1])
}

func TestWycheproofRSAPKCS1v15SHA256(t *testing.T) {
	var acceptable [2]int
	vectors := readWycheproof(t, "rsa_signature_2048_sha256_test.json")
	for _, v := range vectors {
		if v.sha != "SHA-256" {
			t.Fatalf("tcId %d: %s", v.id, v.sha)
		}
		pub := &rsa.PublicKey{N: v.n, E: int(v.e.Int64())}
		err := samePKCS1(t, pub, crypto.SHA256, digestOf(crypto.SHA256, v.msg), v.sig)
		checkWycheproof(t, v, err == nil, &acceptable)
	}
	t.Logf("%d vectors; %d 'acceptable', of which the standard library (and this package) accept %d", len(vectors), acceptable[0], acceptable[1])
}

func TestWycheproofRSAPSS4096SHA384(t *testing.T) {
	var acceptable [2]int
	vectors := readWycheproof(t, "rsa_pss_4096_sha384_mgf1_48_test.json")
	for _, v := range vectors {
		if v.sha != "SHA-384" || v.saltLength != 48 {
			t.Fatalf("tcId %d: %s, salt %d", v.id, v.sha, v.saltLength)
		}
		pub := &rsa.PublicKey{N: v.n, E: int(v.e.Int64())}
		d := digestOf(crypto.SHA384, v.msg)
		err := samePSS(t, pub, crypto.SHA384, d, v.sig, &rsa.PSSOptions{SaltLength: 48})
		samePSS(t, pub, crypto.SHA384, d, v.sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		checkWycheproof(t, v, err == nil, &acceptable)
	}
	t.Logf("%d vectors; %d 'acceptable', of which the standard library (and this package) accept %d", len(vectors), acceptable[0], acceptable[1])
}
