//go:build unix

package diskguard

import "golang.org/x/sys/unix"

// filesystemSpace returns the bytes available to an unprivileged writer and
// the size of the filesystem holding dir.
func filesystemSpace(dir string) (free, total int64, err error) {
	var st unix.Statfs_t
	if err = unix.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), int64(st.Blocks) * int64(st.Bsize), nil //nolint:gosec,unconvert // block counts fit int64; the field types differ by platform
}

// allocatedBytes is the disk space a file takes: its allocated blocks, not
// its apparent size (bbolt grows a file sparsely).
func allocatedBytes(path string) (int64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Blocks * 512, nil
}
