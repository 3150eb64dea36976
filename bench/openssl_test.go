package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// opensslSpeed is what `openssl speed` measured: nanoseconds per
// verification.
type opensslSpeed struct {
	p384, rsa4096, rsa2048 float64
}

// floor is OpenSSL's fresh-evidence floor: one P-384, one RSA-4096 and one
// RSA-2048 verification.
func (o opensslSpeed) floor() float64 { return o.p384 + o.rsa4096 + o.rsa2048 }

// opensslSeconds is how long `openssl speed` measures each operation
// (SNPVTPM_OPENSSL_SECONDS, default 1: each call also measures signing, so
// one call takes about 6 × that).
func opensslSeconds() (int, error) {
	s := os.Getenv("SNPVTPM_OPENSSL_SECONDS")
	if s == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 60 {
		return 0, fmt.Errorf("SNPVTPM_OPENSSL_SECONDS=%q: want 1..60", s)
	}
	return n, nil
}

// runOpenSSLSpeed runs `openssl speed -elapsed -mr -seconds n ecdsap384
// rsa4096 rsa2048` and parses its machine-readable result. -elapsed makes
// OpenSSL divide by wall-clock time, as testing.Benchmark does (by default
// it divides by its user CPU time, which flatters it on a shared machine).
func runOpenSSLSpeed(ctx context.Context, path string, seconds int) (opensslSpeed, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(20*seconds+60)*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "speed", "-elapsed", "-mr", "-seconds", strconv.Itoa(seconds), "ecdsap384", "rsa4096", "rsa2048").Output()
	if err != nil {
		return opensslSpeed{}, fmt.Errorf("openssl speed: %w", err)
	}
	return parseOpenSSLSpeed(out)
}

// parseOpenSSLSpeed reads the "+F2:i:bits:sign/s:verify/s" (RSA) and
// "+F4:i:bits:sign/s:verify/s" (ECDSA) lines of `openssl speed -mr`.
func parseOpenSSLSpeed(out []byte) (opensslSpeed, error) {
	var o opensslSpeed
	for line := range bytes.Lines(out) {
		f := strings.Split(strings.TrimSpace(string(line)), ":")
		if len(f) != 5 || (f[0] != "+F2" && f[0] != "+F4") {
			continue
		}
		verifies, err := strconv.ParseFloat(f[4], 64)
		if err != nil || verifies <= 0 {
			return o, fmt.Errorf("openssl speed: bad verify rate in %q", strings.TrimSpace(string(line)))
		}
		ns := 1e9 / verifies
		switch f[0] + ":" + f[2] {
		case "+F4:384":
			o.p384 = ns
		case "+F2:4096":
			o.rsa4096 = ns
		case "+F2:2048":
			o.rsa2048 = ns
		}
	}
	if o.p384 == 0 || o.rsa4096 == 0 || o.rsa2048 == 0 {
		return o, fmt.Errorf("openssl speed: missing P-384, RSA-4096 or RSA-2048 verify rate in %d bytes of output", len(out))
	}
	return o, nil
}

func TestParseOpenSSLSpeed(t *testing.T) {
	good := "+DT:ecdsap384:1:384\n+R5:1185:384:1.00\n+F2:2:2048:3541.935484:50857.575758\n" +
		"+F2:4:4096:243.750000:16014.285714\n+F4:4:384:1185.714286:1482.352941\n"
	o, err := parseOpenSSLSpeed([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if int(o.rsa2048) != 19662 || int(o.rsa4096) != 62444 || int(o.p384) != 674603 {
		t.Fatalf("parsed %+v", o)
	}
	for _, bad := range []string{
		"", "+F2:2:2048:1:2\n+F4:4:384:1:2\n", // no RSA-4096
		"+F2:2:2048:1:2\n+F2:4:4096:1:x\n+F4:4:384:1:2\n", // not a number
		"+F2:2:2048:1:2\n+F2:4:4096:1:0\n+F4:4:384:1:2\n", // zero rate
	} {
		if _, err := parseOpenSSLSpeed([]byte(bad)); err == nil {
			t.Errorf("%q: parsed", bad)
		}
	}
}
