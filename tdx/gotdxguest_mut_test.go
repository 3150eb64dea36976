package tdx_test

import (
	"bytes"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/binary"
	"encoding/pem"
	"math/big"
	"slices"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// Mutations. A mutation is 10 bytes: a field selector, a mode and an
// 8-byte little-endian value. Fields of up to 8 bytes take the value as an
// integer (set, or XOR with mode bit 0); wider fields set or XOR one byte
// (index value>>32, byte value&0xFF). Mode bit 1 applies the mutation
// after signing (the signed parts are then no longer signed); fields that
// signing writes (the attestation key, the QE report data, the signatures,
// the PCK chain) and the framing ("raw.") always apply after it. Mode bit
// 2 has the PCK sign the QE report again once every mutation is applied,
// bit 3 first binds the QE report data again to the attestation key and
// QE auth data (on seeds that can be re-signed).
const (
	modeXOR       = 1
	modeAfterSign = 2
	modeResignQE  = 4
	modeRebindQE  = 8
)

// mutCtx is a quote being mutated: its structure, then its bytes.
type mutCtx struct {
	t testing.TB
	s *diffSeed
	q *tdx.Quote
	b []byte // after Marshal, for the raw mutations
}

type mutField struct {
	name string
	// after: always applied after signing; raw: to the marshalled bytes.
	after, raw bool
	apply      func(m *mutCtx, mode byte, v uint64)
}

// mutFields lists every mutable part of a quote; the selector byte indexes
// it.
var mutFields = slices.Concat(headerMuts(), bodyMuts(), qeReportMuts(), signedDataMuts(), rawMuts())

func headerMuts() []mutField {
	return []mutField{
		{name: "version", apply: func(m *mutCtx, mode byte, v uint64) {
			h := &m.q.Header
			h.Version = uint16(intMut(uint64(h.Version), mode, v))
			switch {
			case h.Version == tdx.QuoteVersion5 && m.q.BodyType == 0:
				m.q.BodyType = tdx.BodyTypeTD10
			case h.Version != tdx.QuoteVersion5:
				m.q.BodyType = 0
			}
		}},
		{name: "body_type", apply: func(m *mutCtx, mode byte, v uint64) {
			if m.q.Header.Version == tdx.QuoteVersion5 {
				m.q.BodyType = tdx.BodyTypeTD10 + uint16(v%2)
			}
		}},
		u16Mut("attestation_key_type", func(q *tdx.Quote) *uint16 { return &q.Header.AttestationKeyType }),
		{name: "tee_type", apply: func(m *mutCtx, mode byte, v uint64) {
			m.q.Header.TEEType = uint32(intMut(uint64(m.q.Header.TEEType), mode, v))
		}},
		u16Mut("qe_svn", func(q *tdx.Quote) *uint16 { return &q.Header.QESVN }),
		u16Mut("pce_svn", func(q *tdx.Quote) *uint16 { return &q.Header.PCESVN }),
		bytesMut("qe_vendor_id", false, func(q *tdx.Quote) []byte { return q.Header.QEVendorID[:] }),
		bytesMut("user_data", false, func(q *tdx.Quote) []byte { return q.Header.UserData[:] }),
	}
}

func bodyMuts() []mutField {
	var out []mutField
	for _, f := range slices.Concat((&tdx.Body{}).Fields(), (&tdx.Body{}).TD15Fields()) {
		out = append(out, bytesMut("body."+f.Name, false, func(q *tdx.Quote) []byte {
			for _, g := range slices.Concat(q.Body.Fields(), q.Body.TD15Fields()) {
				if g.Name == f.Name {
					return g.Bytes
				}
			}
			return nil
		}))
	}
	return out
}

// qeReportMuts are the fields of the QE report (an SGX report body).
func qeReportMuts() []mutField {
	var out []mutField
	for _, f := range []struct {
		name     string
		off, len int
	}{{"cpusvn", 0, 16}, {"miscselect", 16, 4}, {"reserved1", 20, 28}, {"attributes", 48, 16}, {"mrenclave", 64, 32},
		{"reserved2", 96, 32}, {"mrsigner", 128, 32}, {"reserved3", 160, 96}, {"isvprodid", 256, 2}, {"isvsvn", 258, 2},
		{"reserved4", 260, 60}, {"report_data", 320, 64}} {
		out = append(out, bytesMut("qe."+f.name, f.name == "report_data", func(q *tdx.Quote) []byte { return q.QEReport[f.off : f.off+f.len] }))
	}
	return out
}

func signedDataMuts() []mutField {
	return []mutField{
		bytesMut("qe_auth_data", false, func(q *tdx.Quote) []byte { return q.QEAuthData }),
		{name: "qe_auth_len", apply: func(m *mutCtx, _ byte, v uint64) {
			m.q.QEAuthData = make([]byte, v%513)
			for i := range m.q.QEAuthData {
				m.q.QEAuthData[i] = byte(7 * i)
			}
		}},
		bytesMut("attestation_key", true, func(q *tdx.Quote) []byte { return q.AttestationKey[:] }),
		{name: "signature", after: true, apply: func(m *mutCtx, _ byte, v uint64) { sigMut(m.q.Signature[:], v) }},
		{name: "qe_signature", after: true, apply: func(m *mutCtx, _ byte, v uint64) { sigMut(m.q.QEReportSignature[:], v) }},
		{name: "pck_chain", after: true, apply: func(m *mutCtx, _ byte, v uint64) { m.q.PCKChain = chainMut(m, v) }},
	}
}

// rawMuts edit the framing of the marshalled quote: sizes, types and the
// bytes after it.
func rawMuts() []mutField {
	at := func(name string, width int, off func(l quoteLayout) int) mutField {
		return mutField{name: "raw." + name, raw: true, apply: func(m *mutCtx, mode byte, v uint64) {
			o := off(layoutOf(m.q))
			if o+width > len(m.b) {
				return
			}
			var buf [8]byte
			copy(buf[:], m.b[o:o+width])
			binary.LittleEndian.PutUint64(buf[:], intMut(binary.LittleEndian.Uint64(buf[:]), mode, v))
			copy(m.b[o:o+width], buf[:width])
		}}
	}
	return []mutField{
		at("body_type", 2, func(quoteLayout) int { return tdx.HeaderSize }),
		at("body_size", 4, func(quoteLayout) int { return tdx.HeaderSize + 2 }),
		at("signed_data_size", 4, func(l quoteLayout) int { return l.signedDataSize }),
		at("cert_type", 2, func(l quoteLayout) int { return l.cert }),
		at("cert_size", 4, func(l quoteLayout) int { return l.cert + 2 }),
		at("qe_auth_size", 2, func(l quoteLayout) int { return l.auth }),
		at("pck_type", 2, func(l quoteLayout) int { return l.pck }),
		at("pck_size", 4, func(l quoteLayout) int { return l.pck + 2 }),
		{name: "raw.trailing", raw: true, apply: func(m *mutCtx, _ byte, v uint64) {
			m.b = append(m.b, bytes.Repeat([]byte{byte(v >> 8)}, int(v%97))...)
		}},
		{name: "raw.truncate", raw: true, apply: func(m *mutCtx, _ byte, v uint64) { m.b = m.b[:len(m.b)-int(v%200)] }},
		{name: "raw.huge", raw: true, apply: func(m *mutCtx, _ byte, _ uint64) { m.b = append(m.b, make([]byte, tdx.MaxQuoteSize)...) }},
	}
}

// quoteLayout is where a marshalled quote's framing fields are.
type quoteLayout struct{ signedDataSize, cert, auth, pck int }

func layoutOf(q *tdx.Quote) quoteLayout {
	sds := len(q.SignedBytes())
	cert := sds + 4 + 128
	auth := cert + 6 + tdx.QEReportSize + 64
	return quoteLayout{signedDataSize: sds, cert: cert, auth: auth, pck: auth + 2 + len(q.QEAuthData)}
}

// intMut sets old to v, or XORs it with v.
func intMut(old uint64, mode byte, v uint64) uint64 {
	if mode&modeXOR != 0 {
		return old ^ v
	}
	return v
}

func u16Mut(name string, field func(*tdx.Quote) *uint16) mutField {
	return mutField{name: name, apply: func(m *mutCtx, mode byte, v uint64) {
		p := field(m.q)
		*p = uint16(intMut(uint64(*p), mode, v))
	}}
}

// bytesMut sets or XORs one byte of the field (index v>>32, byte v&0xFF);
// a field of up to 8 bytes takes v as a little-endian integer.
func bytesMut(name string, after bool, field func(*tdx.Quote) []byte) mutField {
	return mutField{name: name, after: after, apply: func(m *mutCtx, mode byte, v uint64) {
		b := field(m.q)
		switch {
		case len(b) == 0:
		case len(b) <= 8:
			var buf [8]byte
			copy(buf[:], b)
			binary.LittleEndian.PutUint64(buf[:], intMut(binary.LittleEndian.Uint64(buf[:]), mode, v))
			copy(b, buf[:len(b)])
		case mode&modeXOR != 0:
			b[int(v>>32)%len(b)] ^= byte(v)
		default:
			b[int(v>>32)%len(b)] = byte(v)
		}
	}}
}

// p256N is the order of P-256.
var p256N = elliptic.P256().Params().N

// Signature mutations of r (bit 8 of v clear) or s (set): v&0xFF selects
// the edit.
const (
	sigZero   = 0 // 0
	sigN      = 1 // n
	sigPlusN  = 2 // + n (all ones if that does not fit in 32 bytes)
	sigNegate = 3 // n - x: the other valid signature
	sigOnes   = 4 // 2^256 - 1
	sigS      = 1 << 8
)

// sigMut edits r or s of the raw r || s signature sig; edits other than
// the named ones XOR byte v>>16 into byte (v>>24)%32.
func sigMut(sig []byte, v uint64) {
	part := sig[:32]
	if v&sigS != 0 {
		part = sig[32:]
	}
	x := new(big.Int).SetBytes(part)
	switch v & 0xFF {
	case sigZero:
		x.SetInt64(0)
	case sigN:
		x.Set(p256N)
	case sigPlusN:
		x.Add(x, p256N)
	case sigNegate:
		x.Sub(p256N, x)
	case sigOnes:
		x.Lsh(big.NewInt(1), 256).Sub(x, big.NewInt(1))
	default:
		part[int(v>>24)%32] ^= byte(v >> 16)
		return
	}
	if x.BitLen() > 256 || x.Sign() < 0 {
		x.Lsh(big.NewInt(1), 256).Sub(x, big.NewInt(1))
	}
	x.FillBytes(part)
}

// PCK chain edits (v % chainEdits).
const (
	chainDropRoot     = iota // the PCK and its CA only
	chainJunkBefore          // a line of text before the first block
	chainJunkBetween         // a line of text between the first two blocks
	chainHeader              // a PEM header in the PCK's block
	chainTrailingLF          // "\n" after the chain
	chainTrailingNUL         // one NUL after the chain
	chainTwoNULs             // two NULs after the chain
	chainFourCerts           // the root twice
	chainReissuedRoot        // the root re-issued with its key (serial 99)
	chainEmpty               // nothing
	chainSwapped             // the CA first, then the PCK
	chainFlipPCK             // a byte of the PCK certificate's DER flipped
	chainCRLF                // CRLF line endings
	chainTrailingJunk        // "x" after the chain
	chainEdits
)

// chainMut returns the quote's PCK chain edited.
func chainMut(m *mutCtx, v uint64) []byte {
	chain := m.q.PCKChain
	var ders [][]byte
	for rest := chain; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		ders = append(ders, blk.Bytes)
	}
	join := func(ders ...[]byte) []byte {
		var out []byte
		for _, d := range ders {
			out = append(out, pemCert(d)...)
		}
		return out
	}
	first := bytes.Index(chain, []byte("-----END CERTIFICATE-----\n")) + len("-----END CERTIFICATE-----\n")
	switch e := v % chainEdits; {
	case len(ders) < 3 || first < len("-----END CERTIFICATE-----\n"):
		return chain
	case e == chainDropRoot:
		return join(ders[:2]...)
	case e == chainJunkBefore:
		return slices.Concat([]byte("PCK chain\n"), chain)
	case e == chainJunkBetween:
		return slices.Concat(chain[:first], []byte("x\n"), chain[first:])
	case e == chainHeader:
		return bytes.Replace(chain, []byte("CERTIFICATE-----\n"), []byte("CERTIFICATE-----\nComment: x\n\n"), 1)
	case e == chainTrailingLF, e == chainTrailingNUL, e == chainTwoNULs, e == chainTrailingJunk:
		return append(join(ders...), [][]byte{chainTrailingLF: []byte("\n"), chainTrailingNUL: {0}, chainTwoNULs: {0, 0},
			chainTrailingJunk: []byte("x")}[e]...)
	case e == chainFourCerts:
		return join(append(ders, ders[2])...)
	case e == chainReissuedRoot:
		return join(ders[0], ders[1], reissuedRoot(m))
	case e == chainEmpty:
		return nil
	case e == chainSwapped:
		return join(ders[1], ders[0], ders[2])
	case e == chainFlipPCK:
		d := bytes.Clone(ders[0])
		d[len(d)/2] ^= 1
		return join(d, ders[1], ders[2])
	}
	return bytes.ReplaceAll(join(ders...), []byte("\n"), []byte("\r\n")) // chainCRLF
}

// reissuedRoot is the seed's root issued again by its own key with
// another serial (the seed's root if it has no signer).
func reissuedRoot(m *mutCtx) []byte {
	f := m.s.signer
	if f == nil {
		return m.s.root.Raw
	}
	tmpl := fakepki.CATemplate(99, f.Root.Subject, f.Root.NotBefore, f.Root.NotAfter)
	tmpl.RawSubject = f.Root.RawSubject
	c, err := fakepki.Issue(tmpl, tmpl, &f.RootKey.PublicKey, f.RootKey)
	if err != nil {
		m.t.Fatal(err)
	}
	return c.Raw
}

// mut encodes one mutation of the named field.
func mut(field string, mode byte, value uint64) []byte {
	return testutil.EncodeMutOp(mutFields, func(f mutField) string { return f.name }, field, mode, value)
}

// mutate applies ops to a copy of s's quote: the structural mutations
// before signing, signing (if resign and s can be re-signed), those after
// signing and the QE report repairs, then the raw ones to the bytes.
func mutate(t testing.TB, s *diffSeed, resign bool, ops []byte) []byte {
	m := &mutCtx{t: t, s: s, q: clone(s.q)}
	var after, raw []testutil.MutOp
	var repair byte
	for _, op := range testutil.MutOps(ops, len(mutFields)) {
		f := mutFields[op.Field]
		repair |= op.Mode & (modeResignQE | modeRebindQE)
		switch {
		case f.raw:
			raw = append(raw, op)
		case f.after || op.Mode&modeAfterSign != 0:
			after = append(after, op)
		default:
			f.apply(m, op.Mode, op.Value)
		}
	}
	if resign && s.signer != nil {
		s.signer.Sign(t, m.q)
	}
	for _, op := range after {
		mutFields[op.Field].apply(m, op.Mode, op.Value)
	}
	if s.signer != nil && repair&modeRebindQE != 0 {
		rd := sha256.Sum256(append(m.q.AttestationKey[:], m.q.QEAuthData...))
		copy(m.q.QEReport[320:], rd[:])
		clear(m.q.QEReport[352:])
	}
	if s.signer != nil && repair != 0 {
		s.signer.SignQEReport(t, m.q)
	}
	m.b = m.q.Marshal()
	for _, op := range raw {
		mutFields[op.Field].apply(m, op.Mode, op.Value)
	}
	return m.b
}
