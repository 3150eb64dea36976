package main

import (
	"fmt"
	"net/url"
)

// checkBaseURL checks the value of a flag that names a server by its base
// URL (--server, --kds-url, --pcs-url, --instance): an absolute http or
// https URL with a host. A host without its scheme ("127.0.0.1:8443",
// "kdsintf.amd.com") is the usual slip; caught here it is a usage error
// that shows the form wanted, not a request that fails (and is retried)
// with Go's "unsupported protocol scheme" or "first path segment in URL
// cannot contain colon". httpsOnly refuses http:// too.
func checkBaseURL(flag, value, example string, httpsOnly bool) error {
	u, err := url.Parse(value)
	ok := err == nil && u.Host != "" && (u.Scheme == "https" || (u.Scheme == "http" && !httpsOnly))
	if ok {
		return nil
	}
	want := "an http:// or https:// URL"
	if httpsOnly {
		want = "an https:// URL"
	}
	return fmt.Errorf("%s %q: want %s with a host, such as %s", flag, value, want, example)
}
