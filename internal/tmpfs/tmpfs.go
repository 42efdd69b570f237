// Package tmpfs mounts small filesystems for tests of what happens when a
// disk fills.
package tmpfs

import (
	"errors"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Mount mounts a tmpfs of sizeMiB on a fresh directory for one test and
// unmounts it when the test ends. It needs root (CI runs as root); elsewhere
// the test is skipped.
func Mount(t testing.TB, sizeMiB int) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(sizeMiB)+"m"); err != nil {
		if errors.Is(err, unix.EPERM) {
			t.Skipf("mounting a %d MiB tmpfs needs root: %v", sizeMiB, err)
		}
		require.NoError(t, err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}
