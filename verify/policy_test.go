package verify_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

func TestParsePolicy(t *testing.T) {
	m48 := strings.Repeat("ab", 48)
	p32 := strings.Repeat("cd", 32)
	good := []struct {
		name, json string
		check      func(t *testing.T, p *verify.Policy)
	}{
		{"empty", `{}`, func(t *testing.T, p *verify.Policy) {
			if p.MinTCB != nil || p.Measurements != nil || p.PCRs != nil || p.AllowDebug {
				t.Errorf("%+v", p)
			}
		}},
		{"everything", `{"min_tcb":{"bootloader":3,"tee":0,"snp":8,"microcode":115,"fmc":1},"measurements":["` + m48 + `"],
			"pcrs":{"0":"` + p32 + `","23":"` + p32 + `"},"products":["Milan","Turin"],"allow_debug":true,
			"allow_uncommitted_tcb":true,"require_fresh_report":true}`, func(t *testing.T, p *verify.Policy) {
			if *p.MinTCB != (snp.TCBParts{FMC: 1, Bootloader: 3, SNP: 8, Microcode: 115}) || len(p.Measurements) != 1 ||
				len(p.PCRs) != 2 || len(p.PCRs[23]) != 32 || len(p.Products) != 2 || !p.AllowDebug || !p.AllowUncommittedTCB || !p.RequireFreshReport {
				t.Errorf("%+v", p)
			}
		}},
		{"product name with stepping", `{"products":["Milan-B0"]}`, func(t *testing.T, p *verify.Policy) {
			// Accepted, so it must match Milan evidence (see TestPolicyProductName).
			if len(p.Products) != 1 {
				t.Errorf("%+v", p)
			}
		}},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			p, err := verify.ParsePolicy([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, p)
		})
	}
	bad := []struct{ name, json string }{
		{"not JSON", `min_tcb: 3`},
		{"misspelt field", `{"min_tbc":{}}`},
		{"misspelt TCB field", `{"min_tcb":{"ucode":1}}`},
		{"TCB component over 255", `{"min_tcb":{"snp":256}}`},
		{"short measurement", `{"measurements":["abcd"]}`},
		{"measurement not hex", `{"measurements":["` + strings.Repeat("zz", 48) + `"]}`},
		{"null measurement", `{"measurements":[null]}`},
		{"PCR 24", `{"pcrs":{"24":"` + p32 + `"}}`},
		{"PCR -1", `{"pcrs":{"-1":"` + p32 + `"}}`},
		{"PCR value of 31 bytes", `{"pcrs":{"7":"` + p32[2:] + `"}}`},
		{"PCR index not a number", `{"pcrs":{"seven":"` + p32 + `"}}`},
		{"unknown product", `{"products":["Rome"]}`},
		{"lower-case product", `{"products":["milan"]}`},
		{"a second document after the policy", `{"allow_debug":false} {"measurements":["` + m48 + `"]}`},
		{"garbage after the policy", `{"allow_debug":false} trailing`},
		// null decodes to the zero Policy: a generated policy file that
		// serialised nothing must not become "no requirements".
		{"null", `null`},
		{"null with white space", " \n null\n"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if p, err := verify.ParsePolicy([]byte(tc.json)); err == nil {
				t.Fatalf("accepted: %+v", p)
			}
		})
	}
}

// TestPolicyProductName checks that a product given as a VCEK productName
// ("Milan-B0"), which ParsePolicy accepts, allows that product line.
func TestPolicyProductName(t *testing.T) {
	p, err := verify.ParsePolicy([]byte(`{"products":["Milan-B0"]}`))
	if err != nil {
		t.Fatal(err)
	}
	opts := fixedOpts()
	opts.Policy = *p
	if _, err := verify.Evidence(context.Background(), v1Data(t), []byte("challenge"), opts); err != nil {
		t.Fatalf("Milan evidence rejected by policy products [Milan-B0]: %v", err)
	}
	p, err = verify.ParsePolicy([]byte(`{"products":["Genoa-B1"]}`))
	if err != nil {
		t.Fatal(err)
	}
	opts = fixedOpts()
	opts.Policy = *p
	_, err = verify.Evidence(context.Background(), v1Data(t), []byte("challenge"), opts)
	wantCheck(t, err, verify.CheckProduct)
}

// TestParsePolicyFieldErrors checks that every invalid policy value is an
// error that names its field (and the index or key).
func TestParsePolicyFieldErrors(t *testing.T) {
	d48 := strings.Repeat("ab", 48)
	d48b := strings.Repeat("cd", 48)
	p32 := strings.Repeat("cd", 32)
	zero := strings.Repeat("00", 48)
	fake := fakeamd.IDKeyDigest()
	fakeHex := hex.EncodeToString(fake[:])
	tests := []struct{ name, json, want string }{
		{"PCR 24", `{"pcrs":{"24":"` + p32 + `"}}`, `policy: pcrs["24"]`},
		{"PCR 1000", `{"pcrs":{"0":"` + p32 + `","1000":"` + p32 + `"}}`, `policy: pcrs["1000"]`},
		{"PCR -1", `{"pcrs":{"-1":"` + p32 + `"}}`, `policy: pcrs["-1"]`},
		// The decoder reads "-0" as PCR 0; alone it is not a duplicate.
		{"PCR 0 written -0", `{"pcrs":{"-0":"` + p32 + `"}}`, `policy: pcrs["-0"]: "-0" is not a PCR index written as a decimal number`},
		// Likewise an integer member: -0 is not a second spelling of 0.
		{"vmpl written -0", `{"vmpl":-0}`, `policy: json: invalid value at "/vmpl" (byte 8): JSON number for Go int: -0 is not how an integer is written`},
		{"PCR value of 31 bytes", `{"pcrs":{"7":"` + p32[2:] + `"}}`, `policy: pcrs["7"]: 31 bytes, want 32`},
		{"PCR value of 48 bytes", `{"pcrs":{"7":"` + d48 + `"}}`, `policy: pcrs["7"]: 48 bytes`},
		{"empty PCR value", `{"pcrs":{"7":""}}`, `policy: pcrs["7"]: 0 bytes`},
		{"short measurement", `{"measurements":["` + d48 + `","abcd"]}`, "policy: measurements[1]: 2 bytes, want 48"},
		{"measurement of 32 bytes", `{"measurements":["` + p32 + `"]}`, "policy: measurements[0]: 32 bytes"},
		{"unknown product", `{"products":["Milan","Rome"]}`, "policy: products[1]"},
		{"lower-case product", `{"products":["milan"]}`, "policy: products[0]"},
		{"id key digest short", `{"id_key_digests":["` + d48 + `","abcd"]}`, "policy: id_key_digests[1]: 2 bytes, want 48"},
		{"id key digest long", `{"id_key_digests":["` + d48 + `00"]}`, "policy: id_key_digests[0]: 49 bytes"},
		{"id key digest zero", `{"id_key_digests":["` + d48 + `","` + zero + `"]}`, "policy: id_key_digests[1]: the zero digest"},
		{"id key digest emulated", `{"id_key_digests":["` + fakeHex + `"]}`, "policy: id_key_digests[0]: the emulated CVM's"},
		{"id key digest repeated", `{"id_key_digests":["` + d48 + `","` + d48b + `","` + d48 + `"]}`, "policy: id_key_digests[2]: repeats id_key_digests[0]"},
		{"id key digest not hex", `{"id_key_digests":["` + strings.Repeat("zz", 48) + `"]}`, "id_key_digests"},
		{"author key digest short", `{"author_key_digests":["ab"]}`, "policy: author_key_digests[0]: 1 bytes, want 48"},
		{"author key digest zero", `{"author_key_digests":["` + zero + `"]}`, "policy: author_key_digests[0]: the zero digest"},
		{"author key digest not hex", `{"author_key_digests":["x"]}`, "author_key_digests"},
		{"allow any with a list", `{"allow_any_paravisor":true,"id_key_digests":["` + d48 + `"]}`, "policy: allow_any_paravisor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := verify.ParsePolicy([]byte(tc.json))
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %q", err, tc.want)
			}
		})
	}
}

// TestParsePolicyParavisor checks the paravisor fields that parse.
func TestParsePolicyParavisor(t *testing.T) {
	az := verify.DefaultParavisors()[0].Digest
	other := strings.Repeat("ab", 48)
	p, err := verify.ParsePolicy([]byte(`{"id_key_digests":["` + hex.EncodeToString(az[:]) + `","` + strings.ToUpper(other) + `"],
		"author_key_digests":["` + other + `"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.IDKeyDigests) != 2 || !bytes.Equal(p.IDKeyDigests[0], az[:]) || hex.EncodeToString(p.IDKeyDigests[1]) != other ||
		len(p.AuthorKeyDigests) != 1 || p.AllowAnyParavisor {
		t.Errorf("%+v", p)
	}
	p, err = verify.ParsePolicy([]byte(`{"allow_any_paravisor":true}`))
	if err != nil || !p.AllowAnyParavisor {
		t.Fatalf("%v %+v", err, p)
	}
}

// FuzzPolicyFields checks that a policy ParsePolicy accepts has only valid
// values in every field, and that it round-trips through JSON.
func FuzzPolicyFields(f *testing.F) {
	d := strings.Repeat("ab", 48)
	f.Add(`{}`)
	f.Add(`{"pcrs":{"23":"` + strings.Repeat("cd", 32) + `"},"measurements":["` + d + `"],"products":["Genoa-B1"]}`)
	f.Add(`{"id_key_digests":["` + d + `"],"author_key_digests":["` + strings.Repeat("01", 48) + `"]}`)
	f.Add(`{"allow_any_paravisor":true,"min_tcb":{"snp":8}}`)
	f.Add(`{"pcrs":{"24":""},"id_key_digests":["00"]}`)
	f.Add(`{"min_tcb":{"snp":null},"measurements":[],"platforms":["tdx"],"kernel_cmdline":"/a)|(b/"}`)
	f.Fuzz(func(t *testing.T, js string) {
		p, err := verify.ParsePolicy([]byte(js))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "policy: ") {
				t.Fatalf("error %q does not say it is about the policy", err)
			}
			_, typed := errors.AsType[*verify.PolicyError](err)
			_, decoding := errors.AsType[*strictjson.Error](err)
			if !typed && !decoding {
				t.Fatalf("error %q (%T) names no member: neither a *PolicyError nor a *strictjson.Error", err, err)
			}
			return
		}
		for _, empty := range []bool{p.Platforms != nil && len(p.Platforms) == 0, p.Measurements != nil && len(p.Measurements) == 0,
			p.Products != nil && len(p.Products) == 0, p.IDKeyDigests != nil && len(p.IDKeyDigests) == 0} {
			if empty {
				t.Fatalf("accepted an empty allow-list: %+v", p)
			}
		}
		for i, v := range p.PCRs {
			if i < 0 || i > 23 || len(v) != 32 {
				t.Fatalf("accepted pcrs[%d] = %x", i, []byte(v))
			}
		}
		for _, m := range p.Measurements {
			if len(m) != 48 {
				t.Fatalf("accepted measurement %x", []byte(m))
			}
		}
		for _, ds := range [][]verify.HexBytes{p.IDKeyDigests, p.AuthorKeyDigests} {
			for _, d := range ds {
				if len(d) != 48 || bytes.Equal(d, make([]byte, 48)) {
					t.Fatalf("accepted digest %x", []byte(d))
				}
			}
		}
		if fake := fakeamd.IDKeyDigest(); slicesContainsHex(p.IDKeyDigests, fake[:]) {
			t.Fatal("accepted the emulator's ID key digest")
		}
		if p.AllowAnyParavisor && len(p.IDKeyDigests) > 0 {
			t.Fatal("accepted allow_any_paravisor with id_key_digests")
		}
		for _, prod := range p.Products {
			if _, err := snp.ParseProduct(prod); err != nil {
				t.Fatalf("accepted product %q", prod)
			}
		}
		again, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := verify.ParsePolicy(again)
		if err != nil {
			t.Fatalf("re-encoded policy %s rejected: %v", again, err)
		}
		if again2, _ := json.Marshal(p2); !bytes.Equal(again, again2) {
			t.Fatalf("policy does not round-trip:\n%s\n%s", again, again2)
		}
	})
}

func slicesContainsHex(ds []verify.HexBytes, d []byte) bool {
	for _, x := range ds {
		if bytes.Equal(x, d) {
			return true
		}
	}
	return false
}

// TestParsePolicyStrictJSON: a policy file is ours, so its JSON is read with
// every leniency off; each class of ambiguity is an error of its kind that
// names the member.
func TestParsePolicyStrictJSON(t *testing.T) {
	p32 := strings.Repeat("07", 32)
	m48 := strings.Repeat("ab", 48)
	tests := []struct {
		name string
		json string
		kind error
		ptr  string
	}{
		{"duplicate top level", `{"allow_debug":false,"allow_debug":true}`, strictjson.ErrDuplicateKey, "/allow_debug"},
		{"duplicate measurements drops a requirement", `{"measurements":["` + m48 + `"],"measurements":[]}`, strictjson.ErrDuplicateKey, "/measurements"},
		{"duplicate PCR", `{"pcrs":{"7":"` + p32 + `","7":"` + p32 + `"}}`, strictjson.ErrDuplicateKey, "/pcrs/7"},
		{"PCR index written twice differently", `{"pcrs":{"7":"` + p32 + `","07":"` + p32 + `"}}`, strictjson.ErrInvalidValue, "/pcrs/07"},
		// "-0" reads as PCR 0; written next to "0" it is the same member.
		{"PCR 0 written as 0 and -0", `{"pcrs":{"0":"` + p32 + `","-0":"` + p32 + `"}}`, strictjson.ErrDuplicateKey, "/pcrs/-0"},
		{"PCR 7 written as 7 and escaped", `{"pcrs":{"7":"` + p32 + `","\u0037":"` + p32 + `"}}`, strictjson.ErrDuplicateKey, "/pcrs/7"},
		{"PCR index with a plus sign", `{"pcrs":{"+7":"` + p32 + `"}}`, strictjson.ErrInvalidValue, "/pcrs/+7"},
		{"PCR index with a space", `{"pcrs":{" 7":"` + p32 + `"}}`, strictjson.ErrInvalidValue, "/pcrs/ 7"},
		{"PCR index in hex", `{"pcrs":{"0x7":"` + p32 + `"}}`, strictjson.ErrInvalidValue, "/pcrs/0x7"},
		{"PCR value of odd length", `{"pcrs":{"7":"` + p32[1:] + `"}}`, strictjson.ErrInvalidValue, "/pcrs/7"},
		{"PCR value with a 0x prefix", `{"pcrs":{"7":"0x` + p32[2:] + `"}}`, strictjson.ErrInvalidValue, "/pcrs/7"},
		{"duplicate nested", `{"min_tcb":{"snp":8,"snp":0}}`, strictjson.ErrDuplicateKey, "/min_tcb/snp"},
		{"unknown member", `{"allow_debug":false,"require_everything":true}`, strictjson.ErrUnknownMember, "/require_everything"},
		{"unknown nested", `{"min_tcb":{"snp":8,"sev":1}}`, strictjson.ErrUnknownMember, "/min_tcb/sev"},
		{"unknown nested in min_launch_tcb", `{"min_launch_tcb":{"snp":8,"sev":1}}`, strictjson.ErrUnknownMember, "/min_launch_tcb/sev"},
		{"launch TCB over 255", `{"min_launch_tcb":{"microcode":256}}`, strictjson.ErrInvalidValue, "/min_launch_tcb/microcode"},
		{"case variant", `{"Allow_Debug":true}`, strictjson.ErrUnknownMember, "/Allow_Debug"},
		{"case variant nested", `{"min_tcb":{"SNP":8}}`, strictjson.ErrUnknownMember, "/min_tcb/SNP"},
		{"invalid UTF-8", "{\"products\":[\"Milan\xff\"]}", strictjson.ErrInvalidUTF8, "/products/0"},
		{"invalid UTF-8 in key", "{\"pr\xffoducts\":[]}", strictjson.ErrInvalidUTF8, ""},
		{"trailing data", `{"allow_debug":false} {"allow_debug":true}`, strictjson.ErrTrailingData, ""},
		{"too deep", `{"products":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, strictjson.ErrTooDeep, ""},
		{"too large", `{"products":["` + strings.Repeat("x", strictjson.DefaultMaxBytes) + `"]}`, strictjson.ErrTooLarge, ""},
		{"measurement not hex", `{"measurements":["zz"]}`, strictjson.ErrInvalidValue, "/measurements/0"},
		{"TCB over 255", `{"min_tcb":{"snp":256}}`, strictjson.ErrInvalidValue, "/min_tcb/snp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := verify.ParsePolicy([]byte(tc.json))
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			se, ok := errors.AsType[*strictjson.Error](err)
			if !ok || !errors.Is(err, tc.kind) || se.Pointer != tc.ptr {
				t.Fatalf("err = %v, want %v at %q", err, tc.kind, tc.ptr)
			}
			if !strings.HasPrefix(err.Error(), "policy: ") || len(err.Error()) > 400 {
				t.Errorf("message %.200q", err)
			}
		})
	}
}

// TestHexBytesUnmarshalJSON: HexBytes reads its string with the strict decoder.
func TestHexBytesUnmarshalJSON(t *testing.T) {
	var h verify.HexBytes
	if err := h.UnmarshalJSON([]byte(`"0aFF"`)); err != nil || h.String() != "0aff" {
		t.Fatalf("%v %s", err, h)
	}
	for _, in := range []string{`"0a" x`, "\"0a\xff\"", `5`, `"0g"`, `"abc"`} {
		if err := h.UnmarshalJSON([]byte(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// TestParsePolicyReadsAsWritten: a policy member that would be read as
// less than its writer meant is refused, with a *verify.PolicyError naming
// its JSON pointer and, where one applies, the reason's sentinel: a null
// (which reads as the member left out), an empty allow-list (which allows
// anything, not nothing), a member of a platform that platforms does not
// list (which would judge nothing while the other platform's evidence
// passes), an unanchorable or oversized kernel_cmdline expression, an
// MAA instance its tokens never name, a minimum FMC no allowed product
// has, and repeats.
func TestParsePolicyReadsAsWritten(t *testing.T) {
	m48, m48b := strings.Repeat("ab", 48), strings.Repeat("cd", 48)
	p32 := strings.Repeat("07", 32)
	tests := []struct {
		name, json, ptr string
		kind            error // nil: only the pointer is checked
	}{
		{"null member", `{"min_tcb":null}`, "/min_tcb", verify.ErrPolicyNull},
		{"null TCB part", `{"min_tcb":{"bootloader":3,"snp":null}}`, "/min_tcb/snp", verify.ErrPolicyNull},
		{"null list", `{"measurements":null}`, "/measurements", verify.ErrPolicyNull},
		{"null element", `{"measurements":["` + m48 + `",null]}`, "/measurements/1", verify.ErrPolicyNull},
		{"null PCR value", `{"pcrs":{"7":null}}`, "/pcrs/7", verify.ErrPolicyNull},
		{"null bool", `{"allow_debug":null}`, "/allow_debug", verify.ErrPolicyNull},
		{"null string", `{"kernel_cmdline":null}`, "/kernel_cmdline", verify.ErrPolicyNull},
		{"null digest", `{"init_data_digest":null}`, "/init_data_digest", verify.ErrPolicyNull},
		{"null PCR index", `{"event_log_pcrs":[7,null]}`, "/event_log_pcrs/1", verify.ErrPolicyNull},
		{"empty platforms", `{"platforms":[]}`, "/platforms", verify.ErrPolicyEmptyList},
		{"empty measurements", `{"measurements":[]}`, "/measurements", verify.ErrPolicyEmptyList},
		{"empty products", `{"products":[]}`, "/products", verify.ErrPolicyEmptyList},
		{"empty id_key_digests", `{"id_key_digests":[]}`, "/id_key_digests", verify.ErrPolicyEmptyList},
		{"empty author_key_digests", `{"author_key_digests":[]}`, "/author_key_digests", verify.ErrPolicyEmptyList},
		{"empty tdx_mr_tds", `{"tdx_mr_tds":[]}`, "/tdx_mr_tds", verify.ErrPolicyEmptyList},
		{"empty tdx_tcb_statuses", `{"tdx_tcb_statuses":[]}`, "/tdx_tcb_statuses", verify.ErrPolicyEmptyList},
		{"measurements, tdx only", `{"platforms":["tdx"],"measurements":["` + m48 + `"]}`, "/measurements", verify.ErrPolicyPlatformMember},
		{"min_tcb, tdx only", `{"platforms":["tdx"],"min_tcb":{"snp":8}}`, "/min_tcb", verify.ErrPolicyPlatformMember},
		{"min_launch_tcb, tdx only", `{"platforms":["tdx"],"min_launch_tcb":{"snp":8}}`, "/min_launch_tcb", verify.ErrPolicyPlatformMember},
		{"null min_launch_tcb", `{"min_launch_tcb":null}`, "/min_launch_tcb", verify.ErrPolicyNull},
		{"null launch TCB part", `{"min_launch_tcb":{"snp":null}}`, "/min_launch_tcb/snp", verify.ErrPolicyNull},
		{"id key, tdx only", `{"platforms":["tdx"],"id_key_digests":["` + m48 + `"]}`, "/id_key_digests", verify.ErrPolicyPlatformMember},
		{"deny_smt, tdx only", `{"platforms":["tdx"],"tdx_mr_tds":["` + m48 + `"],"deny_smt":true}`, "/deny_smt", verify.ErrPolicyPlatformMember},
		{"MRTD, sev-snp only", `{"platforms":["sev-snp"],"tdx_mr_tds":["` + m48 + `"]}`, "/tdx_mr_tds", verify.ErrPolicyPlatformMember},
		{"TCB statuses, sev-snp only", `{"platforms":["sev-snp"],"tdx_tcb_statuses":["UpToDate"]}`, "/tdx_tcb_statuses", verify.ErrPolicyPlatformMember},
		{"regexp closes the anchoring group", `{"kernel_cmdline":"/console=ttyS0)|(.*/"}`, "/kernel_cmdline", nil},
		{"regexp quotes the anchors", `{"kernel_cmdline":"/\\Qconsole/"}`, "/kernel_cmdline", nil},
		{"regexp too large", `{"kernel_cmdline":"/` + strings.Repeat(`\\pL{1000}`, 3) + `/"}`, "/kernel_cmdline", nil},
		{"MAA host in capitals", `{"maa_paravisor_instance":"https://SharedEUS2.eus2.attest.azure.net"}`, "/maa_paravisor_instance", nil},
		{"MAA scheme in capitals", `{"maa_paravisor_instance":"HTTPS://sharedeus2.eus2.attest.azure.net"}`, "/maa_paravisor_instance", nil},
		{"MAA port", `{"maa_paravisor_instance":"https://sharedeus2.eus2.attest.azure.net:443"}`, "/maa_paravisor_instance", nil},
		{"MAA trailing dot", `{"maa_paravisor_instance":"https://sharedeus2.eus2.attest.azure.net./"}`, "/maa_paravisor_instance", nil},
		{"MAA audience without instance", `{"maa_paravisor_audience":"https://rp.example"}`, "/maa_paravisor_audience", nil},
		{"MAA audience with a line break", `{"maa_paravisor_instance":"https://sharedeus2.eus2.attest.azure.net","maa_paravisor_audience":"https://rp.example\n"}`, "/maa_paravisor_audience", nil},
		{"MAA audience too long", `{"maa_paravisor_instance":"https://sharedeus2.eus2.attest.azure.net","maa_paravisor_audience":"` + strings.Repeat("a", 1025) + `"}`, "/maa_paravisor_audience", nil},
		{"FMC without Turin", `{"products":["Milan","Genoa"],"min_tcb":{"snp":8,"fmc":1}}`, "/min_tcb/fmc", nil},
		{"launch FMC without Turin", `{"products":["Genoa"],"min_launch_tcb":{"snp":8,"fmc":1}}`, "/min_launch_tcb/fmc", nil},
		{"measurement repeated", `{"measurements":["` + m48 + `","` + m48b + `","` + strings.ToUpper(m48) + `"]}`, "/measurements/2", nil},
		{"product line repeated", `{"products":["Milan","Milan-B0"]}`, "/products/1", nil},
		{"event-log PCR repeated", `{"event_log_pcrs":[4,7,4]}`, "/event_log_pcrs/2", nil},
		{"PCR out of range", `{"pcrs":{"24":"` + p32 + `"}}`, "/pcrs/24", nil},
		{"vmpl out of range", `{"vmpl":4}`, "/vmpl", nil},
		{"platform unknown", `{"platforms":["SEV-SNP"]}`, "/platforms/0", nil},
		{"not an object", ` null `, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := verify.ParsePolicy([]byte(tc.json))
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			pe, ok := errors.AsType[*verify.PolicyError](err)
			if !ok || pe.Pointer != tc.ptr || (tc.kind != nil && !errors.Is(err, tc.kind)) {
				t.Fatalf("err = %v (%T), want a *PolicyError at %q matching %v", err, err, tc.ptr, tc.kind)
			}
			if !strings.HasPrefix(err.Error(), "policy: ") || len(err.Error()) > 400 {
				t.Errorf("message %.200q", err)
			}
		})
	}
	for _, ok := range []string{
		`{"platforms":["sev-snp","tdx"],"measurements":["` + m48 + `"],"tdx_mr_tds":["` + m48b + `"]}`,
		`{"platforms":["tdx"],"tdx_mr_tds":["` + m48 + `"],"allow_debug":true}`,
		`{"products":["Milan","Turin"],"min_tcb":{"fmc":1}}`,
		`{"min_tcb":{"fmc":1}}`,
		`{"products":["Turin"],"min_launch_tcb":{"fmc":1}}`,
		`{"min_tcb":{"snp":8},"min_launch_tcb":{"snp":8}}`,
		`{"min_tcb":{}}`,
		`{"pcrs":{}}`,
		`{"event_log_pcrs":[],"secure_boot_db_certs":[]}`,
		`{"kernel_cmdline":"/console=ttyS0( quiet)?/"}`,
		`{"kernel_cmdline":"/` + `[0-9a-f-]{36}` + `/"}`,
		`{"maa_paravisor_instance":"https://sharedeus2.eus2.attest.azure.net/"}`,
		`{"maa_paravisor_instance":"https://sharedeus2.eus2.attest.azure.net","maa_paravisor_audience":"https://rp.example"}`,
	} {
		if _, err := verify.ParsePolicy([]byte(ok)); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
}

// TestNewPolicyReadsAsWritten: New refuses the same policies built in Go
// as ParsePolicy refuses in JSON, so that a policy means one thing however
// it reached the verifier.
func TestNewPolicyReadsAsWritten(t *testing.T) {
	m := verify.HexBytes(bytes.Repeat([]byte{0xab}, 48))
	for _, tc := range []struct {
		name string
		p    verify.Policy
		ptr  string
		kind error
	}{
		{"empty measurements", verify.Policy{Measurements: []verify.HexBytes{}}, "/measurements", verify.ErrPolicyEmptyList},
		{"empty products", verify.Policy{Products: []string{}}, "/products", verify.ErrPolicyEmptyList},
		{"measurements, tdx only", verify.Policy{Platforms: []string{verify.PlatformTDX}, Measurements: []verify.HexBytes{m}}, "/measurements", verify.ErrPolicyPlatformMember},
		{"kernel_cmdline escapes its anchors", verify.Policy{KernelCmdline: "/x)|(.*/"}, "/kernel_cmdline", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verify.New(verify.Config{Policy: tc.p})
			pe, ok := errors.AsType[*verify.PolicyError](err)
			if !ok || pe.Pointer != tc.ptr || (tc.kind != nil && !errors.Is(err, tc.kind)) {
				t.Fatalf("New: %v, want a *PolicyError at %q matching %v", err, tc.ptr, tc.kind)
			}
		})
	}
}

// TestPlatformInferredFromMembers: a policy that names no platforms is for
// the platforms its members judge: one with SEV-SNP members only (each of
// min_tcb, min_launch_tcb, measurements, products, deny_smt) rejects TDX
// evidence (with a TDX member too, TDX evidence is judged by that), one
// with TDX members only (tdx_mr_tds) rejects SEV-SNP evidence, each with
// check platform; with both kinds of member, or none, both are accepted.
// A platform listed twice is refused.
func TestPlatformInferredFromMembers(t *testing.T) {
	ctx := context.Background()
	cfg := fixedOpts()
	milan := testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json")
	tdxEv := testutil.ReadFile(t, testutil.TDXDir+"evidence-v1.json")
	nonce := []byte("challenge")
	claimsOf := func(data []byte) *verify.Claims {
		c, err := verify.Evidence(ctx, data, nonce, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	mc, tc := claimsOf(milan), claimsOf(tdxEv)
	tcb, launch := mc.ReportedTCB, mc.LaunchTCB
	mrtds := []verify.HexBytes{tc.TDX.MRTD}
	for _, c := range []struct {
		name      string
		policy    verify.Policy
		snp, tdxs verify.Check // "" accepted
	}{
		{"none", verify.Policy{}, "", ""},
		{"min_tcb", verify.Policy{MinTCB: &tcb}, "", verify.CheckPlatform},
		{"min_launch_tcb", verify.Policy{MinLaunchTCB: &launch}, "", verify.CheckPlatform},
		{"min_tcb and tdx_mr_tds", verify.Policy{MinTCB: &tcb, TDXMRTDs: mrtds}, "", ""},
		{"min_launch_tcb and tdx_mr_tds", verify.Policy{MinLaunchTCB: &launch, TDXMRTDs: mrtds}, "", ""},
		{"measurements", verify.Policy{Measurements: []verify.HexBytes{mc.Measurement}}, "", verify.CheckPlatform},
		{"products", verify.Policy{Products: []string{"Milan"}}, "", verify.CheckPlatform},
		{"deny_smt", verify.Policy{DenySMT: true, AllowUncommittedTCB: true}, verify.CheckGuestPolicy, verify.CheckPlatform},
		{"tdx_mr_tds", verify.Policy{TDXMRTDs: mrtds}, verify.CheckPlatform, ""},
		{"both", verify.Policy{Products: []string{"Milan"}, TDXMRTDs: mrtds}, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := cfg
			o.Policy = c.policy
			claims, err := verify.Evidence(ctx, milan, nonce, o)
			wantOutcome(t, claims, err, c.snp)
			claims, err = verify.Evidence(ctx, tdxEv, nonce, o)
			wantOutcome(t, claims, err, c.tdxs)
		})
	}
	// The rejection says where the platforms come from.
	for _, c := range []struct {
		policy verify.Policy
		why    string
	}{
		{verify.Policy{Products: []string{"Milan"}}, "its members are for sev-snp"},
		{verify.Policy{Platforms: []string{verify.PlatformSNP}}, "its platforms member lists sev-snp"},
	} {
		o := cfg
		o.Policy = c.policy
		_, err := verify.Evidence(ctx, tdxEv, nonce, o)
		if wantCheck(t, err, verify.CheckPlatform); !strings.Contains(err.Error(), c.why) {
			t.Errorf("err = %v, want it to say %q", err, c.why)
		}
	}
	_, err := verify.ParsePolicy([]byte(`{"platforms":["tdx","sev-snp","tdx"]}`))
	if pe, ok := errors.AsType[*verify.PolicyError](err); !ok || pe.Pointer != "/platforms/2" {
		t.Errorf("a platform listed twice: %v, want a *PolicyError at /platforms/2", err)
	}
}
