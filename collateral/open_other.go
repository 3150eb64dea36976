//go:build !unix

package collateral

import "os"

// openReadFlags opens a cache file for reading (readCacheFile refuses
// what is not a regular file).
const openReadFlags = os.O_RDONLY
