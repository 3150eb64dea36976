package testutil

import (
	"io"
	"net/http"
	"testing"
)

// Get GETs url with http.Get and returns the status and the whole body;
// a request or read that fails fails the test.
func Get(t testing.TB, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}
