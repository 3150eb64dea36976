//go:build cgo

package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel/fakekeys"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/tdx"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
)

// THIMPath is the path of Azure IMDS's AMD certification endpoint.
const THIMPath = "/metadata/THIM/amd/certification"

// thimResponse is the JSON body of the THIM endpoint.
type thimResponse struct {
	VcekCert         string `json:"vcekCert"`
	Tcbm             string `json:"tcbm"`
	CertificateChain string `json:"certificateChain"`
	CacheControl     string `json:"cacheControl"`
}

// imdsHandler serves THIMPath like Azure IMDS: only GET, only with the
// header "Metadata: true", answering the fake VCEK (the revoked one with
// Options.RevokedVCEK), its TCB and the fake ASK+ARK chain (503 with
// Options.THIMDown); and, for a TDX CVM,
// TDQuotePath (see tdQuote).
func (c *CVM) imdsHandler() http.Handler {
	mux := http.NewServeMux()
	if c.platform == PlatformTDX {
		mux.HandleFunc(TDQuotePath, c.tdQuote)
	}
	mux.HandleFunc(THIMPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			w.WriteHeader(http.StatusMethodNotAllowed)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "Method not allowed"})
			return
		}
		if !strings.EqualFold(r.Header.Get("Metadata"), "true") {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "Bad request. Required metadata header not specified"})
			return
		}
		if c.thimDown {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "Service unavailable (emulated: Options.THIMDown)"})
			return
		}
		vcek := fakeamd.VCEKPEM()
		if c.revokedVCEK {
			vcek = fakeamd.RevokedVCEKPEM()
		}
		_ = json.NewEncoder(w).Encode(thimResponse{
			VcekCert:         string(vcek),
			Tcbm:             fakeamd.TCBM(),
			CertificateChain: string(fakeamd.ChainPEM()),
			CacheControl:     "86400",
		})
	})
	return mux
}

// TDQuotePath is the path of Azure IMDS's TD quote endpoint.
const TDQuotePath = "/acc/tdquote"

// maxTDQuoteRequest bounds a TD quote request body (a TDREPORT in base64url
// and the JSON around it).
const maxTDQuoteRequest = 4 << 10

// tdQuoteRequest and tdQuoteResponse are the bodies of TDQuotePath.
type tdQuoteRequest struct {
	Report string `json:"report"`
}

type tdQuoteResponse struct {
	Quote string `json:"quote"`
}

// tdQuote plays Azure's quoting service: a POST of {"report":
// base64url(TDREPORT)} is answered with {"quote": unpadded base64url} of a
// TD quote for that TDREPORT, signed under the fake Intel chain
// (fakeintel). Like the real quoting enclave, which checks the TDREPORT's
// MAC, it quotes only TDREPORTs its TD made: the one in the current HCL
// report. Anything else is HTTP 400.
func (c *CVM) tdQuote(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxTDQuoteRequest+1))
	var req tdQuoteRequest
	if err == nil {
		err = strictjson.Unmarshal(body, &req, strictjson.Options{MaxBytes: maxTDQuoteRequest, RejectUnknown: true})
	}
	var report []byte
	if err == nil {
		report, err = decodeBase64URL(req.Report)
	}
	c.mu.Lock()
	current := c.tdReport
	c.mu.Unlock()
	if err != nil || !bytes.Equal(report, current) {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "Bad request: not a TDREPORT of this TD"})
		return
	}
	q, err := quoteTDReport(report)
	if err != nil {
		c.log.Error("fake quoting enclave failed", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	_ = json.NewEncoder(w).Encode(tdQuoteResponse{Quote: base64.RawURLEncoding.EncodeToString(q)})
}

// decodeBase64URL decodes base64url with or without padding.
func decodeBase64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// quoteTDReport returns the TD quote of the fake quoting enclave for the
// TDREPORT tdReport, with Azure's 70 trailing zero bytes and, as in Azure's
// quotes, a NUL byte after the PEM PCK chain (the certification data is
// not signed, so adding it leaves the signatures valid).
func quoteTDReport(tdReport []byte) ([]byte, error) {
	tr, err := tdx.ParseTDReport(tdReport)
	if err != nil {
		return nil, err
	}
	q, err := fakekeys.Quote(tr.Body)
	if err != nil {
		return nil, err
	}
	q.PCKChain = append(bytes.Clone(q.PCKChain), 0)
	q.Trailing = 70
	return q.Marshal(), nil
}
