package server

import "syscall"

// stRDOnly is statfs(2)'s ST_RDONLY flag: the file system is mounted
// read-only.
const stRDOnly = 1

// readOnlyFS reports whether dir is on a file system mounted read-only
// (false when that cannot be told).
func readOnlyFS(dir string) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return false
	}
	return st.Flags&stRDOnly != 0
}
