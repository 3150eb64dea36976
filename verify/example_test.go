package verify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Verify real v1 evidence from an Azure Milan CVM, made for the nonce
// "challenge", with a long-lived Verifier (as a server does: its caches make
// a VM that attests again cheap to verify). The evidence carries its VCEK,
// so no network is needed. The verification time is pinned inside the
// VCEK's validity so the example does not depend on today's date.
func ExampleNew() {
	data, err := os.ReadFile("../testdata/trustee-az-vtpm/az-snp-vtpm/evidence-v1.json")
	if err != nil {
		log.Fatal(err)
	}
	v, err := verify.New(verify.Config{Now: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		log.Fatal(err) // a policy that contradicts itself, a negative cache bound
	}
	claims, err := v.Evidence(context.Background(), data, []byte("challenge"))
	if err != nil {
		var verr *verify.Error
		if errors.As(err, &verr) {
			log.Fatalf("rejected by the %s check: %v", verr.Check, verr.Err)
		}
		log.Fatal(err)
	}
	fmt.Println("product:", claims.Product)
	fmt.Println("chip id:", claims.ChipID.String()[:8])
	fmt.Println("reported TCB:", claims.ReportedTCB.Bootloader, claims.ReportedTCB.TEE, claims.ReportedTCB.SNP, claims.ReportedTCB.Microcode)
	fmt.Printf("nonce: %q (checked: %v)\n", string(claims.Nonce), claims.NonceChecked)

	// The same evidence with another nonce is a replay: rejected, although
	// its report and VCEK are in the cache now.
	_, err = v.Evidence(context.Background(), data, []byte("another nonce"))
	var verr *verify.Error
	if errors.As(err, &verr) {
		fmt.Println("replay rejected by:", verr.Check)
	}
	s := v.Stats()
	fmt.Println("report signatures cached:", s.Reports.Entries, "hits:", s.Reports.Hits)
	// Output:
	// product: Milan
	// chip id: 66a5a7b4
	// reported TCB: 4 0 24 219
	// nonce: "challenge" (checked: true)
	// replay rejected by: quote-nonce
	// report signatures cached: 1 hits: 1
}

// Verify one document in one call, without a cache.
func ExampleEvidence() {
	data, err := os.ReadFile("../testdata/trustee-az-vtpm/az-snp-vtpm/evidence-v1.json")
	if err != nil {
		log.Fatal(err)
	}
	cfg := verify.Config{Now: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}
	claims, err := verify.Evidence(context.Background(), data, []byte("challenge"), cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("verified:", claims.Product, claims.EvidenceVersion)
	// Output:
	// verified: Milan 1
}

// Verify a bare SNP report requested at VMPL 2 by a guest without a
// paravisor: the policy's vmpl accepts it (evidence and HCL reports always
// need VMPL 0).
func ExampleVerifier_Report() {
	ev := (&testev.Builder{VMPL: 2}).MustBuild() // a test chip's report
	for _, vmpl := range []int{0, 2} {
		v, err := verify.New(verify.Config{Roots: testev.Roots(), Policy: verify.Policy{VMPL: vmpl}})
		if err != nil {
			log.Fatal(err)
		}
		_, err = v.Report(context.Background(), ev.Report, ev.VCEKDER)
		var verr *verify.Error
		if errors.As(err, &verr) {
			fmt.Printf("policy vmpl %d: rejected by %s\n", vmpl, verr.Check)
		} else {
			fmt.Printf("policy vmpl %d: valid (err %v)\n", vmpl, err)
		}
	}
	// Output:
	// policy vmpl 0: rejected by vmpl
	// policy vmpl 2: valid (err <nil>)
}

// Read a policy that requires a minimum TCB, allows one launch measurement
// and requires a PCR value. Unknown fields are rejected.
func ExampleParsePolicy() {
	p, err := verify.ParsePolicy([]byte(`{
		"min_tcb": {"bootloader": 3, "tee": 0, "snp": 8, "microcode": 115},
		"measurements": ["` + fmt.Sprintf("%096x", 1) + `"],
		"pcrs": {"7": "` + fmt.Sprintf("%064x", 7) + `"},
		"products": ["Milan", "Genoa"]
	}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("min TCB:", p.MinTCB)
	fmt.Println("measurements:", len(p.Measurements))
	fmt.Println("PCR 7:", p.PCRs[7].String()[56:])
	fmt.Println("products:", p.Products)

	_, err = verify.ParsePolicy([]byte(`{"min_tbc": {"snp": 8}}`))
	fmt.Println("misspelt field rejected:", err != nil)
	// Output:
	// min TCB: bl=3 tee=0 snp=8 ucode=115 fmc=0
	// measurements: 1
	// PCR 7: 00000007
	// products: [Milan Genoa]
	// misspelt field rejected: true
}

// Derive the policy that accepts exactly the VM of a known-good piece of
// evidence (its image, paravisor, product line, at least its TCB, and the
// PCR 7 it booted with), save it as JSON for review, and hold other
// evidence to it: here the real Genoa VM's, another product line.
func ExampleDerivePolicy() {
	ctx := context.Background()
	cfg := verify.Config{Now: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}
	golden, err := os.ReadFile("../testdata/trustee-az-vtpm/az-snp-vtpm/evidence-v1.json")
	if err != nil {
		log.Fatal(err)
	}
	claims, err := verify.Evidence(ctx, golden, []byte("challenge"), cfg)
	if err != nil {
		log.Fatal(err)
	}
	p, err := verify.DerivePolicy(claims, []int{7})
	if err != nil {
		log.Fatal(err)
	}
	doc, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(doc))

	// What ParsePolicy reads back is the same policy.
	if _, err := verify.ParsePolicy(doc); err != nil {
		log.Fatal(err)
	}
	other, err := os.ReadFile("../testdata/trustee-az-vtpm/az-snp-vtpm/evidence-genoa.json")
	if err != nil {
		log.Fatal(err)
	}
	_, err = verify.Evidence(ctx, other, nil, verify.Config{Now: cfg.Now, Policy: *p, AllowNoNonce: true})
	var verr *verify.Error
	if errors.As(err, &verr) {
		fmt.Println("the Genoa VM is rejected by:", verr.Check)
	}
	// Output:
	// {
	//   "platforms": [
	//     "sev-snp"
	//   ],
	//   "min_tcb": {
	//     "bootloader": 4,
	//     "tee": 0,
	//     "snp": 24,
	//     "microcode": 219
	//   },
	//   "min_launch_tcb": {
	//     "bootloader": 4,
	//     "tee": 0,
	//     "snp": 24,
	//     "microcode": 219
	//   },
	//   "measurements": [
	//     "6a063be9dd79f6371c842e480f8dc3b5c725961344e57130e88c5adf49e8f7f6c79b75a5eb77fc769959f4aeb2f9401e"
	//   ],
	//   "pcrs": {
	//     "7": "3b20e022416fdf61d72e4da32b4354781be3de0608116976d28ffdad8c341d2a"
	//   },
	//   "products": [
	//     "Milan"
	//   ],
	//   "id_key_digests": [
	//     "942fd93ebde6ea7a96efadeafc60f1c6b3d10e703b1dafd7555b92f7f3d32d0e006767648cba5b102af3d65756af4177"
	//   ]
	// }
	// the Genoa VM is rejected by: product-line
}
