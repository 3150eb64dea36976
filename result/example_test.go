package result_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/snp-vtpm/snp-vtpm/result"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// A verifier signs an attestation result for evidence it verified (as
// snp-vtpm serve --signing-key does) and publishes its JWKS; a relying
// party that never saw the evidence checks the token with that JWKS, the
// verifier's issuer URL and the nonce of the exchange, and reads the
// verified claims. Every rejection is a *result.Error naming its check.
func ExampleVerify() {
	ctx := context.Background()
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	nonce := []byte("challenge")

	// The verifier's side.
	data, err := os.ReadFile("../testdata/trustee-az-vtpm/az-snp-vtpm/evidence-v1.json")
	if err != nil {
		log.Fatal(err)
	}
	policy := verify.Policy{Products: []string{"Milan"}}
	claims, err := verify.Evidence(ctx, data, nonce, verify.Config{Now: at, Policy: policy})
	if err != nil {
		log.Fatal(err)
	}
	key, _, err := result.GenerateSigningKey() // serve: result.LoadSigningKey of --signing-key
	if err != nil {
		log.Fatal(err)
	}
	signer, err := result.NewSigner(key, "https://verifier.example")
	if err != nil {
		log.Fatal(err)
	}
	signer.Now = func() time.Time { return at }
	token, _, err := signer.Issue(result.Appraised{Claims: claims, Nonce: nonce, PolicyID: result.PolicyID(&policy)})
	if err != nil {
		log.Fatal(err)
	}
	jwks, err := result.MarshalJWKS(signer.Public()) // served at /.well-known/jwks.json
	if err != nil {
		log.Fatal(err)
	}

	// The relying party's side. Online, the keys come from the verifier:
	// keys, err := result.FetchJWKS(ctx, nil, "https://verifier.example/.well-known/jwks.json")
	keys, err := result.ParseJWKS(jwks)
	if err != nil {
		log.Fatal(err) // not a verdict on the token: no usable keys
	}
	cfg := result.Config{Keys: keys, Issuer: "https://verifier.example", Nonce: nonce, Time: at.Add(time.Minute)}
	rc, err := result.Verify(ctx, []byte(token), cfg)
	if err != nil {
		log.Fatal(err)
	}
	cvm := rc.Appraisal().CVM
	fmt.Println(rc.Appraisal().Status, cvm.Platform, cvm.Product, cvm.Paravisor, cvm.ReportedTCB)

	// Rejections: another exchange's nonce, too late, another verifier.
	for _, change := range []func(*result.Config){
		func(c *result.Config) { c.Nonce = []byte("another nonce") },
		func(c *result.Config) { c.Time = at.Add(time.Hour) },
		func(c *result.Config) { c.Issuer = "https://impostor.example" },
	} {
		c := cfg
		change(&c)
		_, err := result.Verify(ctx, []byte(token), c)
		var rerr *result.Error
		if errors.As(err, &rerr) && errors.Is(err, result.ErrRejected) {
			fmt.Println("rejected by", rerr.Check)
		}
	}
	// Output:
	// affirming sev-snp Milan azure-hcl bl=4 tee=0 snp=24 ucode=219 fmc=0
	// rejected by result-nonce
	// rejected by result-expired
	// rejected by result-issuer
}
