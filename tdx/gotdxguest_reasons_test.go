package tdx_test

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"slices"
	"time"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
)

// Intel's QE vendor id and TD quoting enclave signer, as every real quote
// in testdata/ carries them.
var (
	intelVendorID, _   = hex.DecodeString("939a7233f79c4ca9940a0db3957f0607")
	intelTDQESigner, _ = hex.DecodeString("dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5")
)

// diffReasons returns the documented differences that apply to quote b of
// seed s with collateral c (or none), read from the bytes alone (rawRead,
// pemFacts: neither side's parser), from the collateral's dates and, for
// the TCB status, from our evaluation ourResult (nil without one).
func diffReasons(b []byte, s *diffSeed, c *collSet, ourResult *pcs.Result) map[string]bool {
	r := rawRead(b)
	chain := pemFacts(r.chain)
	pck := chain.cert(0)
	return map[string]bool{
		reasonV5:           r.version == tdx.QuoteVersion5,
		reasonQEVendorID:   len(b) >= 28 && !bytes.Equal(b[12:28], intelVendorID),
		reasonTrailing:     r.end > 0 && !format.AllZero(b[r.end:]),
		reasonTooLarge:     len(b) > tdx.MaxQuoteSize,
		reasonEmptyPCKData: r.pckOK && r.pckSize == 0,
		reasonTheirPanic:   goTDXGuestPanics(b),
		reasonPEMStrict:    r.pckOK && !chain.strict,
		reasonChainPadding: r.pckOK && chain.theirTail,
		reasonChainNoRoot:  len(chain.ders) == 2,
		reasonRootBytes:    len(chain.ders) >= 3 && !bytes.Equal(chain.ders[2], s.root.Raw),
		reasonProcessorCA:  chain.cert(1) != nil && chain.cert(1).Subject.CommonName == tdx.ProcessorCACN,
		reasonPCKProfile:   pck != nil && (len(pck.Extensions) != 6 || sgxEntries(pck) < 4),
		reasonRootCN:       s.root.Subject.CommonName != tdx.RootCACN,
		reasonQEIdentityOffline: len(r.qeReport) == tdx.QEReportSize && (!bytes.Equal(r.qeReport[128:160], intelTDQESigner) ||
			binary.LittleEndian.Uint16(r.qeReport[256:]) != tdx.TDQEProdID || r.qeReport[48]&2 != 0),
		reasonTDXModuleOffline: len(r.body) >= 120 && !format.AllZero(r.body[64:120]),
		reasonModuleOverridesPlatform: ourResult != nil && ourResult.ModuleStatus == pcs.UpToDate &&
			ourResult.PlatformStatus != pcs.UpToDate,
		reasonModuleIDCase: len(r.body) > 1 && (r.body[1]>>4 > 9 || r.body[1]&0xF > 9),
		reasonNotYetValid:  c != nil && notYetValid(c.ours, s.now),
	}
}

// notYetValid reports whether a document or CRL of c is issued after now.
func notYetValid(c *pcs.Collateral, now time.Time) bool {
	issued := []time.Time{c.QEIdentity.IssueDate, c.RootCRL.ThisUpdate}
	for _, t := range c.TCBInfos {
		issued = append(issued, t.IssueDate)
	}
	for _, l := range c.PCKCRLs {
		issued = append(issued, l.ThisUpdate)
	}
	return slices.ContainsFunc(issued, now.Before)
}

// rawQuote is what a tolerant reading of a quote's framing finds (zero
// values where the bytes end or the sizes disagree).
type rawQuote struct {
	version  uint16
	body     []byte
	end      int // where the signed data ends
	qeReport []byte
	pckOK    bool
	pckSize  uint32
	chain    []byte
}

// rawRead reads b's framing by the sizes it states, checking nothing else.
func rawRead(b []byte) rawQuote {
	var r rawQuote
	le := binary.LittleEndian
	if len(b) < tdx.HeaderSize+tdx.BodyDescriptorSize {
		return r
	}
	r.version = le.Uint16(b)
	off, size := tdx.HeaderSize, tdx.BodySize
	if r.version == tdx.QuoteVersion5 {
		off += tdx.BodyDescriptorSize
		if le.Uint16(b[tdx.HeaderSize:]) == tdx.BodyTypeTD15 {
			size = tdx.BodySizeTD15
		}
	}
	if len(b) < off+size+4 {
		return r
	}
	r.body = b[off : off+size]
	start := off + size + 4
	if n := int(le.Uint32(b[off+size:])); n <= len(b)-start {
		r.end = start + n
	} else {
		return r
	}
	sd := b[start:r.end]
	if len(sd) < 134+tdx.QEReportSize {
		return r
	}
	r.qeReport = sd[134 : 134+tdx.QEReportSize]
	qe := sd[134:]
	if le.Uint32(sd[130:]) != uint32(len(qe)) || len(qe) < 450 {
		return r
	}
	a := int(le.Uint16(qe[448:]))
	if 450+a+6 > len(qe) {
		return r
	}
	p := qe[450+a:]
	r.pckOK, r.pckSize, r.chain = true, le.Uint32(p[2:]), p[6:]
	return r
}

// goTDXGuestPanics reports whether go-tdx-guest's abi.QuoteToProto (this
// version) slices past the end of b (reasonTheirPanic): its parse up to
// the PCK certification data, with the length checks it makes and where it
// does not make them.
func goTDXGuestPanics(b []byte) bool {
	le := binary.LittleEndian
	if len(b) < 0x3FC || le.Uint16(b) != 4 || le.Uint16(b[2:]) != tdx.AttestationKeyECDSAP256 || le.Uint32(b[4:]) != tdx.TEETypeTDX {
		return false
	}
	n := uint64(le.Uint32(b[tdx.OffsetSignedDataSize:]))
	if n > uint64(len(b)-tdx.OffsetSignedData) {
		return false
	}
	sd := b[tdx.OffsetSignedData : tdx.OffsetSignedData+int(n)]
	if len(sd) < 128+6 {
		return true
	}
	cert := sd[128:]
	if uint64(le.Uint32(cert[2:])) != uint64(len(cert)-6) {
		return false
	}
	qe := cert[6:]
	if len(qe) < 450 {
		return true
	}
	a := int(le.Uint16(qe[448:]))
	return 450+a > len(qe) || len(qe)-450-a < 6
}

// chainFacts is what the tests read of a PEM PCK chain on their own.
type chainFacts struct {
	ders  [][]byte
	certs []*x509.Certificate // nil where a DER does not parse
	// strict: nothing but padding outside the CERTIFICATE blocks and no
	// header in them (our PEMChain's rule).
	strict bool
	// theirTail: after the line of the last END marker, something other
	// than nothing or one NUL (go-tdx-guest's rule).
	theirTail bool
}

func (c chainFacts) cert(i int) *x509.Certificate {
	if i < len(c.certs) {
		return c.certs[i]
	}
	return nil
}

const pemPadding = " \t\r\n\x00"

func pemFacts(chain []byte) chainFacts {
	begin, end := []byte("-----BEGIN CERTIFICATE-----"), []byte("-----END CERTIFICATE-----")
	f := chainFacts{strict: true}
	rest := chain
	for {
		i := bytes.Index(rest, begin)
		j := bytes.Index(rest[max(i, 0):], end)
		if i < 0 || j < 0 {
			f.strict = f.strict && len(bytes.Trim(rest, pemPadding)) == 0
			break
		}
		block := rest[i : i+j+len(end)]
		f.strict = f.strict && len(bytes.Trim(rest[:i], pemPadding)) == 0 && !bytes.Contains(block, []byte(":"))
		if blk, _ := pem.Decode(append(bytes.Clone(block), '\n')); blk != nil {
			c, _ := x509.ParseCertificate(blk.Bytes)
			f.ders, f.certs = append(f.ders, blk.Bytes), append(f.certs, c)
		}
		rest = rest[i+j+len(end):]
	}
	if last := bytes.LastIndex(chain, end); last >= 0 {
		tail := chain[last+len(end):]
		if k := bytes.IndexByte(tail, '\n'); k >= 0 {
			f.theirTail = len(tail[k+1:]) > 0 && !bytes.Equal(tail[k+1:], []byte{0})
		}
	}
	return f
}

// sgxEntries counts the entries of c's SGX extension (-1 if unreadable).
func sgxEntries(c *x509.Certificate) int {
	for _, e := range c.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}) {
			var entries []asn1.RawValue
			if _, err := asn1.Unmarshal(e.Value, &entries); err != nil {
				return -1
			}
			return len(entries)
		}
	}
	return -1
}
