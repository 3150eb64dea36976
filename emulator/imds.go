//go:build cgo

package emulator

import (
	"encoding/json"
	"net/http"
	"strings"

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
// header "Metadata: true", answering the fake VCEK, its TCB and the fake
// ASK+ARK chain.
func imdsHandler() http.Handler {
	mux := http.NewServeMux()
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
		_ = json.NewEncoder(w).Encode(thimResponse{
			VcekCert:         string(fakeamd.VCEKPEM()),
			Tcbm:             fakeamd.TCBM(),
			CertificateChain: string(fakeamd.ChainPEM()),
			CacheControl:     "86400",
		})
	})
	return mux
}
