//go:build !unix

package bench

import "time"

// processCPU is not available here: SNPVTPM_RATIO_CPU=1 fails.
func processCPU() (time.Duration, bool) { return 0, false }
