// Package rrproxy is a small round-robin HTTP reverse proxy for trying a
// fleet of `snp-vtpm serve` replicas on one machine (deploy/fleet,
// bench/loadgen): each request goes to the next backend in turn, with
// X-Forwarded-For set to the client's address (serve --trust-forwarded-for;
// a client's own X-Forwarded-For is dropped: this proxy is the edge) and the backend
// that answered named in the response header BackendHeader. It is for
// tests and demonstrations, not a production load balancer (no health
// checks, no retries: a request to a replica that is down fails with 502).
package rrproxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// BackendHeader names, in each response, the index of the backend that
// answered (0-based, in the order given to New).
const BackendHeader = "X-Snp-Vtpm-Backend"

// Proxy sends each request to the next of its backends.
type Proxy struct {
	backends []*url.URL
	next     atomic.Uint64
	served   []atomic.Int64
	rp       *httputil.ReverseProxy
}

// New returns a Proxy over the backends' base URLs (http://host:port).
func New(backends []string) (*Proxy, error) {
	if len(backends) == 0 {
		return nil, errors.New("rrproxy: no backend")
	}
	p := &Proxy{served: make([]atomic.Int64, len(backends))}
	for _, b := range backends {
		u, err := url.Parse(b)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("rrproxy: backend %q is not an http(s)://host:port URL", b)
		}
		p.backends = append(p.backends, u)
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			i := backendOf(r.In)
			r.SetURL(p.backends[i])
			r.SetXForwarded()
		},
		ModifyResponse: func(res *http.Response) error {
			res.Header.Set(BackendHeader, strconv.Itoa(backendOf(res.Request)))
			return nil
		},
	}
	return p, nil
}

type ctxKey struct{}

// backendOf returns the backend index chosen for r (ServeHTTP stores it).
func backendOf(r *http.Request) int {
	i, _ := r.Context().Value(ctxKey{}).(int)
	return i
}

// ServeHTTP implements http.Handler: the next backend in turn.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int((p.next.Add(1) - 1) % uint64(len(p.backends)))
	p.served[i].Add(1)
	p.rp.ServeHTTP(w, r.WithContext(contextWith(r, i)))
}

// Limits of the front server (Server): a client that sends its header or
// body slowly, or idles, is cut off; a header larger than MaxHeaderBytes
// is refused (431) before it reaches a backend. WriteTimeout outlasts a
// replica's own (60 s: server.DefaultWriteTimeout), so a slow verification
// ends at the replica, not here.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 90 * time.Second
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 64 << 10
)

// Server returns the http.Server that fronts p with the limits above.
// Without them (net/http's zero values) a client could hold a connection
// open forever by sending its body a byte at a time or by idling, and send
// a megabyte of header on every request.
func Server(p *Proxy) *http.Server {
	return &http.Server{
		Handler:           p,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}

// Served returns how many requests each backend was sent.
func (p *Proxy) Served() []int64 {
	out := make([]int64, len(p.served))
	for i := range p.served {
		out[i] = p.served[i].Load()
	}
	return out
}

func contextWith(r *http.Request, i int) context.Context {
	return context.WithValue(r.Context(), ctxKey{}, i)
}
