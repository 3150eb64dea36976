package eventlog

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/google/go-eventlog/tcg"
)

// Secure Boot database events are parsed by go-eventlog, which sizes an
// allocation by each EFI_SIGNATURE_LIST's SignatureSize minus 16 without
// bounding it: a SignatureSize below 16 wraps to a 4 GiB allocation per
// list (a fatal out-of-memory, which recover cannot catch), and a large
// one allocates that much. A guest that extends PCR 7 with the digest of
// such an event makes its log replay, so the lists are checked here, with
// the same reading go-eventlog does, before any state is extracted.

// signatureDBVars are the variables whose data go-eventlog reads as
// signature lists (by name only, whatever the vendor GUID).
var signatureDBVars = map[string]bool{"PK": true, "KEK": true, "db": true, "dbx": true}

// sigListHeaderSize is the size of an EFI_SIGNATURE_LIST header: the
// type's GUID, SignatureListSize, SignatureHeaderSize, SignatureSize.
const sigListHeaderSize = 28

// checkSignatureLists checks every EFI_VARIABLE_DRIVER_CONFIG event among
// events that go-eventlog would read as signature lists.
func checkSignatureLists(events []tcg.Event) error {
	for i := range events {
		e := &events[i]
		if e.Type != tcg.EFIVariableDriverConfig {
			continue
		}
		v, err := tcg.ParseUEFIVariableData(bytes.NewReader(e.Data))
		if err != nil || !signatureDBVars[v.VarName()] {
			// A variable go-eventlog cannot parse is its error to report.
			continue
		}
		if err := checkSignatureList(v.VariableData); err != nil {
			return fmt.Errorf("%w: PCR %d variable %q: %w", ErrFormat, e.Index, v.VarName(), err)
		}
	}
	return nil
}

// checkSignatureList checks the EFI_SIGNATURE_LISTs of a variable's data
// as go-eventlog reads them (a list of certificates or SHA-256 digests:
// entries of SignatureSize bytes read one after the other, the list's own
// SignatureHeaderSize ignored): every entry must be at least the 16-byte
// owner GUID, and every list's entries must end inside the data, where
// the next list starts. Lists of other types end go-eventlog's reading.
func checkSignatureList(b []byte) error {
	if len(b) < sigListHeaderSize {
		return nil // go-eventlog reads this as an empty list
	}
	x509Type, sha256Type := guidBytes(CertX509), guidBytes(CertSHA256)
	for off := 0; off < len(b); {
		if len(b)-off < sigListHeaderSize {
			return nil // go-eventlog fails on the short header
		}
		h := b[off : off+sigListHeaderSize]
		typ := h[:16]
		if !bytes.Equal(typ, x509Type) && !bytes.Equal(typ, sha256Type) {
			return nil // go-eventlog stops here with an error
		}
		listSize := binary.LittleEndian.Uint32(h[16:])
		sigSize := binary.LittleEndian.Uint32(h[24:])
		switch {
		case listSize < sigListHeaderSize || uint64(listSize) > uint64(len(b)-off):
			return fmt.Errorf("signature list at byte %d: SignatureListSize %d, want %d..%d", off, listSize, sigListHeaderSize, len(b)-off)
		case listSize == sigListHeaderSize:
		case sigSize < 16 || (listSize-sigListHeaderSize)%sigSize != 0:
			return fmt.Errorf("signature list at byte %d: SignatureSize %d does not divide the %d bytes of entries into entries of at least 16 bytes", off, sigSize, listSize-sigListHeaderSize)
		}
		// go-eventlog reads the entries right after the 28-byte header.
		off += int(listSize)
	}
	return nil
}

// guidBytes returns the on-disk (mixed-endian) form of g.
func guidBytes(g EFIGUID) []byte {
	var buf bytes.Buffer
	g.put(&buf)
	return buf.Bytes()
}
