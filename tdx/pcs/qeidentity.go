package pcs

import (
	"github.com/snp-vtpm/snp-vtpm/format"
)

// QEIdentity is Intel's identity of the TD quoting enclave (id "TD_QE",
// version 2).
type QEIdentity struct {
	Header            `json:",inline"`
	MiscselectHex     string     `json:"miscselect"`
	MiscselectMaskHex string     `json:"miscselectMask"`
	AttributesHex     string     `json:"attributes"`
	AttributesMaskHex string     `json:"attributesMask"`
	MRSignerHex       string     `json:"mrsigner"`
	ISVProdID         *uint16    `json:"isvprodid"`
	TCBLevels         []ISVLevel `json:"tcbLevels"`

	// The hex members decoded. MISCSELECT is read as Intel's tools do: the
	// 4 bytes, little-endian.
	Miscselect, MiscselectMask [4]byte  `json:"-"`
	Attributes, AttributesMask [16]byte `json:"-"`
	MRSigner                   [32]byte `json:"-"`
}

// ParseQEIdentity reads the PCS body of the TD QE identity,
// {"enclaveIdentity":{...},"signature":"<hex>"}, strictly. The signature
// is not checked here.
func ParseQEIdentity(b []byte) (*QEIdentity, error) {
	q := &QEIdentity{}
	if err := parseSigned(b, "enclaveIdentity", "qe_identity", &q.Header, q); err != nil {
		return nil, err
	}
	switch {
	case q.ID != "TD_QE":
		return nil, fieldErrf("qe_identity.id", format.ErrUnexpectedValue, "%.20q, want \"TD_QE\"", q.ID)
	case q.Version != 2:
		return nil, fieldErrf("qe_identity.version", format.ErrUnsupportedVersion, "%d, want 2", q.Version)
	case q.IssueDate.IsZero() || q.NextUpdate.IsZero():
		return nil, fieldErrf("qe_identity.issueDate", format.ErrMissingField, "issueDate and nextUpdate are required")
	case q.ISVProdID == nil:
		return nil, fieldErr("qe_identity.isvprodid", format.ErrMissingField)
	}
	for _, h := range []struct {
		s   string
		dst []byte
		f   string
	}{
		{q.MiscselectHex, q.Miscselect[:], "miscselect"}, {q.MiscselectMaskHex, q.MiscselectMask[:], "miscselectMask"},
		{q.AttributesHex, q.Attributes[:], "attributes"}, {q.AttributesMaskHex, q.AttributesMask[:], "attributesMask"},
		{q.MRSignerHex, q.MRSigner[:], "mrsigner"},
	} {
		if err := decodeHex(h.s, h.dst, "qe_identity."+h.f); err != nil {
			return nil, err
		}
	}
	if err := validateISVLevels(q.TCBLevels, "qe_identity"); err != nil {
		return nil, err
	}
	return q, nil
}
