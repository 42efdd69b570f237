package contenthash

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/assert"
)

// TestContentHashIsOneEncoding: whether the fields fit the buffer or stream
// through the digest, the hash is that of the same byte sequence.
func TestContentHashIsOneEncoding(t *testing.T) {
	for _, sizes := range [][]int{{0}, {10, 20}, {300, 100}, {376}, {1000}, {50, 2000, 7}} {
		var h Hash
		var want []byte
		for i, n := range sizes {
			s := strings.Repeat(string(rune('a'+i)), n)
			h.String(s)
			want = binary.LittleEndian.AppendUint64(want, uint64(n))
			want = append(want, s...)
			h.Uint64(uint64(i))
			want = binary.LittleEndian.AppendUint64(want, uint64(i))
			h.Bytes([]byte(s))
			want = binary.LittleEndian.AppendUint64(want, uint64(n))
			want = append(want, s...)
		}
		assert.Equal(t, xxhash.Sum64(want), h.Sum(), "fields of %v bytes", sizes)
	}
}
