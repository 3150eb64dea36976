package testutil

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// scripted is a TPM transport that answers every command with rsp.
type scripted struct{ rsp []byte }

func (s scripted) Send([]byte) ([]byte, error) { return s.rsp, nil }

// TestTPMResponse: go-tpm reads TPMResponse's framing of TPMParams'
// parameters back as the response, without and with a password session,
// and a response of the wrong size is not read.
func TestTPMResponse(t *testing.T) {
	want := []byte("random bytes")
	rnd := TPMParams(t, tpm2.GetRandom{}, &tpm2.GetRandomResponse{RandomBytes: tpm2.TPM2BDigest{Buffer: want}})
	got, err := tpm2.GetRandom{BytesRequested: uint16(len(want))}.Execute(scripted{TPMResponse(rnd, false)})
	if err != nil || !bytes.Equal(got.RandomBytes.Buffer, want) {
		t.Fatalf("GetRandom = %v, %v; want %q", got, err, want)
	}
	nv := TPMParams(t, tpm2.NVRead{}, &tpm2.NVReadResponse{Data: tpm2.TPM2BMaxNVBuffer{Buffer: want}})
	auth := tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)}
	read, err := tpm2.NVRead{AuthHandle: auth, NVIndex: tpm2.NamedHandle{Handle: 0x01400001}, Size: uint16(len(want))}.Execute(scripted{TPMResponse(nv, true)})
	if err != nil || !bytes.Equal(read.Data.Buffer, want) {
		t.Fatalf("NVRead = %v, %v; want %q", read, err, want)
	}
	short := TPMResponse(rnd, false)
	short = short[:len(short)-1]
	if _, err := (tpm2.GetRandom{BytesRequested: uint16(len(want))}).Execute(scripted{short}); err == nil {
		t.Fatal("a truncated response was read")
	}
}

// recording is a TPM transport that keeps the last command it was sent
// and answers it with rsp.
type recording struct {
	cmd, rsp []byte
}

func (r *recording) Send(cmd []byte) ([]byte, error) {
	r.cmd = bytes.Clone(cmd)
	return r.rsp, nil
}

// TestExtendPCR: ExtendPCR sends one TPM2_PCR_Extend of the PCR asked
// for, whose one digest is the SHA-256 value given.
func TestExtendPCR(t *testing.T) {
	digest := bytes.Repeat([]byte{0xA5}, 32)
	tpm := &recording{rsp: TPMResponse(nil, true)}
	ExtendPCR(t, tpm, 8, digest)
	cmd := tpm.cmd
	if len(cmd) < 14+2+32 || binary.BigEndian.Uint32(cmd[6:10]) != uint32(tpm2.TPMCCPCRExtend) || binary.BigEndian.Uint32(cmd[10:14]) != 8 {
		t.Fatalf("command %x is not a PCR_Extend of PCR 8", cmd)
	}
	tail := cmd[len(cmd)-2-32:]
	if binary.BigEndian.Uint16(tail) != uint16(tpm2.TPMAlgSHA256) || !bytes.Equal(tail[2:], digest) {
		t.Fatalf("command %x does not end with the SHA-256 digest", cmd)
	}
}
