package eventlog

import (
	"encoding/binary"
	"strings"
	"testing"
)

// TestCheckSignatureList: the EFI_SIGNATURE_LISTs of PK, KEK, db and dbx
// are checked before go-eventlog reads them, which allocates SignatureSize
// minus 16 bytes per entry unbounded (a SignatureSize below 16 wraps to
// 4 GiB: a fatal out-of-memory).
func TestCheckSignatureList(t *testing.T) {
	owner := EFIGUID{Data1: 1}
	digests := SignatureList(CertSHA256, owner, make([]byte, 32), make([]byte, 32))
	cert := SignatureList(CertX509, owner, make([]byte, 100))
	// with sets the 32-bit field at off of a copy of the first list of b.
	with := func(b []byte, off int, v uint32) []byte {
		b = append([]byte(nil), b...)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	const listSize, sigSize = 16, 24
	other := SignatureList(EFIGUID{Data1: 9}, owner, make([]byte, 8))
	tests := []struct {
		name string
		data []byte
		want string // "" = accepted
	}{
		{"digests", digests, ""},
		{"certificate and digests", append(append([]byte(nil), cert...), digests...), ""},
		{"empty", nil, ""},
		{"shorter than a header", make([]byte, 27), ""},
		{"header only", SignatureList(CertSHA256, owner, make([]byte, 32))[:28], "SignatureListSize 76"},
		{"no entries", with(digests[:28], listSize, 28), ""},
		{"other type then garbage", append(append([]byte(nil), other...), 0xff, 0xff), ""},
		{"SignatureSize 0", with(digests, sigSize, 0), "SignatureSize 0"},
		{"SignatureSize 15 (wraps to 4 GiB)", with(digests, sigSize, 15), "SignatureSize 15"},
		{"SignatureSize 16 with a digest", with(digests, sigSize, 16), ""}, // 96 bytes of 16-byte entries: bounded
		{"SignatureSize not dividing", with(digests, sigSize, 40), "SignatureSize 40"},
		{"SignatureSize 2 GiB", with(digests, sigSize, 1<<31), "SignatureSize 2147483648"},
		{"SignatureSize max", with(digests, sigSize, 1<<32-1), "SignatureSize 4294967295"},
		{"SignatureListSize below the header", with(digests, listSize, 27), "SignatureListSize 27"},
		{"SignatureListSize 0", with(digests, listSize, 0), "SignatureListSize 0"},
		{"SignatureListSize past the data", with(digests, listSize, uint32(len(digests)+48)), "SignatureListSize 172, want 28..124"},
		{"SignatureListSize max", with(digests, listSize, 1<<32-1), "SignatureListSize 4294967295"},
		{"second list bad", append(append([]byte(nil), digests...), with(cert, sigSize, 3)...), "at byte 124: SignatureSize 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSignatureList(tc.data)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err %v, want one saying %q", err, tc.want)
			}
		})
	}
}
