//go:build unix

package collateral

import (
	"os"
	"syscall"
)

// openReadFlags opens a cache file for reading without blocking on a
// named pipe (readCacheFile refuses what is not a regular file).
const openReadFlags = os.O_RDONLY | syscall.O_NONBLOCK
