package vtpm

import (
	"context"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// fallbackNVBufferMax is the NV_Read chunk size used when the TPM does not
// report TPM_PT_NV_BUFFER_MAX.
const fallbackNVBufferMax = 1024

// nvIndex is the public state of a defined NV index.
type nvIndex struct {
	index uint32
	name  tpm2.TPM2BName
	pub   tpm2.TPMSNVPublic
}

func (n *nvIndex) named() tpm2.NamedHandle {
	return tpm2.NamedHandle{Handle: tpm2.TPMHandle(n.index), Name: n.name}
}

// readAuth picks the authorization for reading the index: owner auth with an
// empty password when the index allows owner reads (as on Azure), else the
// index's own (empty) auth value.
func (n *nvIndex) readAuth() (tpm2.AuthHandle, error) {
	return n.auth("NV_Read", "reads", n.pub.Attributes.OwnerRead, n.pub.Attributes.AuthRead)
}

// writeAuth is readAuth's counterpart for NV_Write.
func (n *nvIndex) writeAuth() (tpm2.AuthHandle, error) {
	return n.auth("NV_Write", "writes", n.pub.Attributes.OwnerWrite, n.pub.Attributes.AuthWrite)
}

// auth returns owner auth when owner, else the index's own empty auth value
// when own, else an ErrAuth *TPMError of command, saying which access
// ("reads", "writes") the index allows neither way.
func (n *nvIndex) auth(command, access string, owner, own bool) (tpm2.AuthHandle, error) {
	switch {
	case owner:
		return ownerAuth(), nil
	case own:
		return tpm2.AuthHandle{Handle: tpm2.TPMHandle(n.index), Name: n.name, Auth: tpm2.PasswordAuth(nil)}, nil
	}
	return tpm2.AuthHandle{}, &TPMError{Command: command, Handle: n.index, Kind: ErrAuth,
		Err: fmt.Errorf("the index allows neither owner %s nor %s with its own auth value", access, access)}
}

func ownerAuth() tpm2.AuthHandle {
	return tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)}
}

// readNVPublic runs TPM2_NV_ReadPublic and checks the answer.
func readNVPublic(ctx context.Context, t transport.TPM, index uint32) (*nvIndex, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rsp, err := tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(index)}.Execute(t)
	if err != nil {
		return nil, tpmErr("NV_ReadPublic", index, err)
	}
	pub, err := rsp.NVPublic.Contents()
	if err != nil {
		return nil, malformed("NV_ReadPublic of %#08x: %v", index, err)
	}
	if uint32(pub.NVIndex) != index {
		return nil, malformed("NV_ReadPublic of %#08x returned index %#08x", index, uint32(pub.NVIndex))
	}
	if len(rsp.NVName.Buffer) == 0 {
		return nil, malformed("NV_ReadPublic of %#08x returned an empty name", index)
	}
	return &nvIndex{index: index, name: rsp.NVName, pub: *pub}, nil
}

// NVBufferMax returns TPM_PT_NV_BUFFER_MAX, the largest NV_Read or NV_Write
// the TPM accepts, or 1024 when the TPM does not report it.
func NVBufferMax(ctx context.Context, t transport.TPM) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	t = bind(ctx, t)
	rsp, err := tpm2.GetCapability{
		Capability:    tpm2.TPMCapTPMProperties,
		Property:      uint32(tpm2.TPMPTNVBufferMax),
		PropertyCount: 1,
	}.Execute(t)
	if err != nil {
		if errors.Is(err, ErrNoAnswer) {
			return 0, err
		}
		// Some TPMs refuse the query: the fallback is always safe.
		return fallbackNVBufferMax, nil
	}
	props, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		return fallbackNVBufferMax, nil
	}
	for _, p := range props.TPMProperty {
		if p.Property == tpm2.TPMPTNVBufferMax && p.Value > 0 && p.Value <= 0xFFFF {
			return int(p.Value), nil
		}
	}
	return fallbackNVBufferMax, nil
}

// ReadNV reads the whole NV index: TPM2_NV_ReadPublic for its size, then
// TPM2_NV_Read in chunks of TPM_PT_NV_BUFFER_MAX with owner authorization and
// an empty password (or the index's own empty auth value when the index does
// not allow owner reads). ctx is checked between chunks.
func ReadNV(ctx context.Context, t transport.TPM, index uint32) ([]byte, error) {
	t = bind(ctx, t)
	nv, err := readNVPublic(ctx, t, index)
	if err != nil {
		return nil, err
	}
	auth, err := nv.readAuth()
	if err != nil {
		return nil, err
	}
	size := int(nv.pub.DataSize)
	if size == 0 {
		return nil, &TPMError{Command: "NV_ReadPublic", Handle: index, Kind: ErrNVSize, Err: errors.New("the index has size 0")}
	}
	chunk, err := NVBufferMax(ctx, t)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, size)
	for len(out) < size {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("vtpm: reading NV index %#08x: %w", index, err)
		}
		n := min(chunk, size-len(out))
		rsp, err := tpm2.NVRead{
			AuthHandle: auth,
			NVIndex:    nv.named(),
			Size:       uint16(n),        // n <= size <= 0xFFFF
			Offset:     uint16(len(out)), // len(out) < size <= 0xFFFF
		}.Execute(t)
		if err != nil {
			return nil, tpmErr("NV_Read", index, err)
		}
		if len(rsp.Data.Buffer) != n {
			return nil, malformed("NV_Read of %#08x at offset %d returned %d bytes, asked for %d",
				index, len(out), len(rsp.Data.Buffer), n)
		}
		out = append(out, rsp.Data.Buffer...)
	}
	return out, nil
}

// ReadHCLReport reads the HCL report (NV index NVIndexHCLReport) that the
// paravisor wrote: an SNP attestation report plus the runtime-data JSON,
// padded to the index size (2048 or 2600 bytes on Azure). A missing index
// yields an error matching [ErrIndexMissing].
func ReadHCLReport(ctx context.Context, t transport.TPM) ([]byte, error) {
	return ReadNV(ctx, t, NVIndexHCLReport)
}

// ErrNoAKCert means the vTPM has no AK certificate: NV index
// NVIndexAKCert is not defined. Azure provisions one on its CVMs and
// Trusted Launch VMs, but not every VM has it; an error matching
// ErrNoAKCert also matches ErrIndexMissing.
var ErrNoAKCert = errors.New("no AK certificate in the vTPM (NV index 0x01c101d0 not defined; some Azure VMs lack it)")

// AKCertificate returns the AK certificate the platform provisioned at
// NVIndexAKCert (DER X.509, on Azure issued by its vTPM CA). Azure's index
// is larger than the certificate (4096 bytes: the DER, then zeros): when
// the content is one DER SEQUENCE followed only by zero bytes, the padding
// is cut off, so the result parses with x509.ParseCertificate; anything
// else is returned as stored, for the caller's parser to judge. An absent
// index is an error matching ErrNoAKCert.
func AKCertificate(ctx context.Context, t transport.TPM) ([]byte, error) {
	der, err := ReadNV(ctx, t, NVIndexAKCert)
	if errors.Is(err, ErrIndexMissing) {
		return nil, fmt.Errorf("vtpm: %w: %w", ErrNoAKCert, err)
	}
	if err != nil {
		return nil, fmt.Errorf("vtpm: reading the AK certificate: %w", err)
	}
	return trimDERPadding(der), nil
}

// trimDERPadding returns the DER SEQUENCE (a certificate's outer element)
// that starts b when only zero bytes follow it, and b itself otherwise.
func trimDERPadding(b []byte) []byte {
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(b, &raw)
	if err != nil || raw.Class != asn1.ClassUniversal || raw.Tag != asn1.TagSequence ||
		len(rest) == 0 || !format.AllZero(rest) {
		return b
	}
	return b[:len(b)-len(rest)]
}
