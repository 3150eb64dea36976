package kds_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/snp-vtpm/snp-vtpm/imds"
	"github.com/snp-vtpm/snp-vtpm/kds"
)

// A verifier fetches the VCEK for a report's chip id and reported TCB, checking it
// against its own pinned chain before the client caches it, then checks revocation.
func ExampleClient_GetVCEK() {
	dir, err := kds.DefaultCacheDir()
	if err != nil {
		fmt.Println(err)
		return
	}
	client := &kds.Client{
		CacheDir: dir,
		IMDS:     &imds.Client{}, // only inside an Azure CVM
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var chipID [64]byte                       // report.ChipID
	reportedTCB := uint64(0x7308000000000003) // report.ReportedTCB
	der, err := client.GetVCEK(ctx, kds.VCEKRequest{
		Product:     kds.ProductMilan,
		ChipID:      chipID[:],
		ReportedTCB: reportedTCB,
		Validate: func(der []byte) error {
			// e.g. verify the signature chain to the pinned AMD ARK here.
			return nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	vcek, err := x509.ParseCertificate(der)
	if err != nil {
		fmt.Println(err)
		return
	}
	chain, err := client.CertChain(ctx, kds.ProductMilan)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := client.CheckRevoked(ctx, kds.ProductMilan, chain.ASK, vcek); err != nil {
		fmt.Println(err)
	}
}
