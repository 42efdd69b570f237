//go:build !unix

package diskguard

import "errors"

func filesystemSpace(string) (free, total int64, err error) {
	return 0, 0, errors.New("free space cannot be read on this platform")
}

func allocatedBytes(string) (int64, error) {
	return 0, errors.New("allocated size cannot be read on this platform")
}
