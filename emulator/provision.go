//go:build cgo

package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"

	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// akTemplate is the AK's template: an RSA-2048 restricted signing key with
// scheme RSASSA-SHA256, like the Azure vTPM's AK. Created as a primary key
// from a fixed seed, it is the same in every run.
func akTemplate() tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgRSA,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM:            true,
			FixedParent:         true,
			SensitiveDataOrigin: true,
			UserWithAuth:        true,
			NoDA:                true,
			Restricted:          true,
			SignEncrypt:         true,
		},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme: tpm2.TPMTRSAScheme{
				Scheme:  tpm2.TPMAlgRSASSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSASSA, &tpm2.TPMSSigSchemeRSASSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			KeyBits: 2048,
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: make([]byte, 256)}),
	}
}

func passwordAuth(h tpm2.TPMHandle) tpm2.AuthHandle {
	return tpm2.AuthHandle{Handle: h, Auth: tpm2.PasswordAuth(nil)}
}

// provision sets the simulator up like an Azure vTPM at boot.
func (c *CVM) provision(ctx context.Context) error {
	steps := []struct {
		name string
		do   func(context.Context) error
	}{
		{"AK", func(ctx context.Context) error {
			return c.persistPrimary(tpm2.TPMRHOwner, akTemplate(), vtpm.AKHandle)
		}},
		{"EK", func(ctx context.Context) error {
			return c.persistPrimary(tpm2.TPMRHEndorsement, tpm2.RSAEKTemplate, vtpm.EKHandle)
		}},
		{"PCRs", c.measureBoot},
		{"HCL report", c.defineHCLReport},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.do(ctx); err != nil {
			return fmt.Errorf("emulator: provisioning the %s: %w", s.name, err)
		}
	}
	ak, err := vtpm.AKPublic(ctx, c.raw)
	if err != nil {
		return fmt.Errorf("emulator: reading back the AK: %w", err)
	}
	c.ak = ak
	if err := c.defineAKCert(ctx); err != nil {
		return fmt.Errorf("emulator: provisioning the AK certificate: %w", err)
	}
	return c.refreshLocked(ctx)
}

// AKCertNVSize is the size of the emulated AK certificate NV index: the
// DER certificate followed by zero padding, as on Azure, whose index is
// 4096 bytes (testdata/signal-svr2/azure-akcert-nv.bin); the simulator's
// NV indices hold at most 2048 bytes.
const AKCertNVSize = 2048

// defineAKCert defines NV index 0x01C101D0 under the platform hierarchy,
// as Azure does, and writes the emulated AK certificate of c.ak into it
// (AKCertificate: issued by the fake vTPM CA, the same in every run), zero
// padded to AKCertNVSize bytes like Azure's.
func (c *CVM) defineAKCert(ctx context.Context) error {
	cert, err := AKCertificate(c.ak, c.vmID)
	if err != nil {
		return err
	}
	if len(cert) > AKCertNVSize {
		return fmt.Errorf("the AK certificate is %d bytes, more than the %d-byte index", len(cert), AKCertNVSize)
	}
	der := make([]byte, AKCertNVSize)
	copy(der, cert)
	_, err = tpm2.NVDefineSpace{
		AuthHandle: passwordAuth(tpm2.TPMRHPlatform),
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex:    tpm2.TPMHandle(vtpm.NVIndexAKCert),
			NameAlg:    tpm2.TPMAlgSHA256,
			Attributes: hclReportAttributes(),
			DataSize:   AKCertNVSize,
		}),
	}.Execute(c.raw)
	if err != nil {
		return fmt.Errorf("NV_DefineSpace of %#08x: %w", vtpm.NVIndexAKCert, err)
	}
	return c.writePlatformNV(ctx, vtpm.NVIndexAKCert, der)
}

// persistPrimary creates a primary key from template in hierarchy and makes
// it persistent at handle.
func (c *CVM) persistPrimary(hierarchy tpm2.TPMHandle, template tpm2.TPMTPublic, handle uint32) error {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: passwordAuth(hierarchy),
		InPublic:      tpm2.New2B(template),
	}.Execute(c.raw)
	if err != nil {
		return fmt.Errorf("CreatePrimary: %w", err)
	}
	defer func() {
		_, _ = tpm2.FlushContext{FlushHandle: rsp.ObjectHandle}.Execute(c.raw)
	}()
	_, err = tpm2.EvictControl{
		Auth:             passwordAuth(tpm2.TPMRHOwner),
		ObjectHandle:     tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name},
		PersistentHandle: tpm2.TPMHandle(handle),
	}.Execute(c.raw)
	if err != nil {
		return fmt.Errorf("EvictControl to %#08x: %w", handle, err)
	}
	return nil
}

// measureBoot writes the emulated firmware's boot event log (BootLog)
// and extends its measurements into the SHA-1 and SHA-256 banks, so that
// the log replays to the quoted PCRs.
func (c *CVM) measureBoot(ctx context.Context) error {
	log, extends, err := BootLog(c.vmID)
	if err != nil {
		return err
	}
	for _, e := range extends {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := tpm2.PCRExtend{
			PCRHandle: passwordAuth(tpm2.TPMHandle(e.PCR)),
			Digests: tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{
				{HashAlg: tpm2.TPMAlgSHA1, Digest: e.SHA1[:]},
				{HashAlg: tpm2.TPMAlgSHA256, Digest: e.SHA256[:]},
			}},
		}.Execute(c.raw)
		if err != nil {
			return fmt.Errorf("PCR_Extend of PCR %d: %w", e.PCR, err)
		}
	}
	c.eventLog = log
	return nil
}

// hclReportAttributes lets only the platform (the paravisor) write the HCL
// report and lets the guest read it with owner auth or the index's empty
// auth value.
func hclReportAttributes() tpm2.TPMANV {
	return tpm2.TPMANV{
		PPWrite:        true,
		PPRead:         true,
		OwnerRead:      true,
		AuthRead:       true,
		NoDA:           true,
		PlatformCreate: true,
		NT:             tpm2.TPMNTOrdinary,
	}
}

// defineHCLReport defines the HCL report NV index under the platform
// hierarchy.
func (c *CVM) defineHCLReport(_ context.Context) error {
	_, err := tpm2.NVDefineSpace{
		AuthHandle: passwordAuth(tpm2.TPMRHPlatform),
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex:    tpm2.TPMHandle(vtpm.NVIndexHCLReport),
			NameAlg:    tpm2.TPMAlgSHA256,
			Attributes: hclReportAttributes(),
			DataSize:   HCLReportSize,
		}),
	}.Execute(c.raw)
	if err != nil {
		return fmt.Errorf("NV_DefineSpace of %#08x: %w", vtpm.NVIndexHCLReport, err)
	}
	return nil
}

// refreshLocked regenerates the HCL report from the current content of NV
// index 0x01400002 (zeros when it does not exist) and writes it to NV index
// 0x01400001 with platform auth through the raw simulator. c.mu must be held
// (or the CVM not yet shared).
func (c *CVM) refreshLocked(ctx context.Context) error {
	var userData [64]byte
	data, err := vtpm.ReadNV(ctx, c.raw, vtpm.NVIndexUserData)
	switch {
	case err == nil:
		copy(userData[:], data) // longer indices are cut to 64 bytes
	case !isIndexMissing(err):
		return fmt.Errorf("reading user data: %w", err)
	}
	var blob []byte
	if c.platform == PlatformTDX {
		blob, err = buildTDXHCLReport(c.ak, c.vmID, userData)
	} else {
		blob, err = buildHCLReport(c.ak, c.vmID, c.measurement, userData)
	}
	if err != nil {
		return err
	}
	if err := c.writePlatformNV(ctx, vtpm.NVIndexHCLReport, blob); err != nil {
		return err
	}
	if c.platform == PlatformTDX {
		r, err := hcl.Parse(blob)
		if err != nil {
			return fmt.Errorf("emulator: the HCL report just built: %w", err)
		}
		c.tdReport = bytes.Clone(r.TDReport)
	}
	return nil
}

func isIndexMissing(err error) bool {
	return err != nil && errors.Is(err, vtpm.ErrIndexMissing)
}

// writePlatformNV writes data at offset 0 of a platform-written NV index.
func (c *CVM) writePlatformNV(ctx context.Context, index uint32, data []byte) error {
	pub, err := tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(index)}.Execute(c.raw)
	if err != nil {
		return fmt.Errorf("NV_ReadPublic of %#08x: %w", index, err)
	}
	chunk, err := vtpm.NVBufferMax(ctx, c.raw)
	if err != nil {
		return err
	}
	name := pub.NVName
	for off := 0; off < len(data); {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(chunk, len(data)-off)
		_, err := tpm2.NVWrite{
			AuthHandle: passwordAuth(tpm2.TPMRHPlatform),
			NVIndex:    tpm2.NamedHandle{Handle: tpm2.TPMHandle(index), Name: name},
			Data:       tpm2.TPM2BMaxNVBuffer{Buffer: data[off : off+n]},
			Offset:     uint16(off), // off < len(data) <= HCLReportSize
		}.Execute(c.raw)
		if err != nil {
			return fmt.Errorf("NV_Write of %#08x at %d: %w", index, off, err)
		}
		off += n
	}
	return nil
}
