package fakemaa

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/snp-vtpm/snp-vtpm/maa"
)

// Handler serves MAA's endpoints: GET /.well-known/openid-configuration,
// GET /certs (maa.EmulatedJWKS) and POST /attest/AzureGuest?api-version=
// 2020-10-01. baseURL is where it is served (for jwks_uri).
func (s *Service) Handler(baseURL string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer": maa.EmulatedIssuer, "jwks_uri": baseURL + "/certs",
			"id_token_signing_alg_values_supported": []string{maa.AlgRS256},
			"response_types_supported":              []string{"token", "none"},
			"claims_supported":                      []string{"x-ms-attestation-type", "x-ms-isolation-tee", "x-ms-runtime"},
		})
	})
	mux.HandleFunc("GET /certs", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(maa.EmulatedJWKS())
	})
	mux.HandleFunc("POST /attest/AzureGuest", s.serveAttest)
	return mux
}

// serveAttest answers one AzureGuest request.
func (s *Service) serveAttest(w http.ResponseWriter, r *http.Request) {
	if v := r.URL.Query().Get("api-version"); v != maa.APIVersion {
		writeError(w, http.StatusBadRequest, "InvalidApiVersion", "api-version must be "+maa.APIVersion)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maa.MaxRequestBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "RequestTooLarge", err.Error())
		return
	}
	info, err := maa.ParseRequest(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	et, err := s.Attest(r.Context(), info)
	var rej *Rejection
	switch {
	case errors.As(err, &rej):
		writeError(w, http.StatusBadRequest, "AttestationFailed", rej.Error())
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "InternalError", "the fake MAA failed")
		return
	}
	resp, err := et.Response()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalError", "the fake MAA failed")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(resp)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.MarshalWrite(w, v)
}

// writeError answers like MAA: {"error":{"code":..,"message":..}}.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// Running is a fake MAA listening on loopback.
type Running struct {
	// URL is its base URL, e.g. http://127.0.0.1:40123.
	URL string
	srv *http.Server
}

// Start serves s on a free loopback port until Close.
func (s *Service) Start() (*Running, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	url := "http://" + ln.Addr().String()
	srv := &http.Server{Handler: s.Handler(url), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &Running{URL: url, srv: srv}, nil
}

// Close stops the server.
func (r *Running) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return r.srv.Shutdown(ctx)
}
