// Command proxy is a tiny round-robin reverse proxy in front of `snp-vtpm
// serve --redis` replicas, for deploy/fleet/run-local.sh and tests: each
// request goes to the next backend, X-Forwarded-For set to the client's
// address, any the client sent dropped (run the
// replicas with --trust-forwarded-for), and the response names the
// replica that answered (header X-Snp-Vtpm-Backend). Not a production
// load balancer (see internal/rrproxy).
//
//	go run ./deploy/fleet/proxy -listen 127.0.0.1:8080 -backends http://127.0.0.1:8081,http://127.0.0.1:8082
//
// It prints "listening on http://ADDR" once it listens (-listen :0 picks a
// free port) and stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/graceful"
	"github.com/snp-vtpm/snp-vtpm/internal/rrproxy"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	backends := flag.String("backends", "", "comma-separated replica URLs (http://host:port)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *listen, strings.Split(*backends, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "proxy:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, listen string, backends []string) error {
	p, err := rrproxy.New(backends)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := rrproxy.Server(p)
	fmt.Printf("listening on http://%s\n", ln.Addr())
	return graceful.Serve(ctx, srv, ln, 5*time.Second, nil)
}
