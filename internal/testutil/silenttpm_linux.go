package testutil

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// SilentTPMDevice returns the path of a character device that takes TPM
// commands and never answers them: the slave side of a pseudo-terminal
// whose master nobody writes to, as a TPM (or a paravisor behind it) that
// hangs looks to a guest. It is skipped when the system has no
// pseudo-terminals. The master is closed when the test ends.
func SilentTPMDevice(t testing.TB) string {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal to stand for a silent TPM: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlocking the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("naming the pseudo-terminal: %v", err)
	}
	path := fmt.Sprintf("/dev/pts/%d", n)
	if fi, err := os.Stat(path); err != nil || fi.Mode()&os.ModeDevice == 0 {
		t.Skipf("the pseudo-terminal %s is not a device here: %v", path, err)
	}
	return path
}
