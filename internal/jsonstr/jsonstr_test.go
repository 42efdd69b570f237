package jsonstr

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func check(t *testing.T, s string) {
	got := Append(nil, s)
	var back, want string
	require.NoError(t, json.Unmarshal(got, &back), "%q -> %s", s, got)
	std, err := json.Marshal(s)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(std, &want))
	require.Equal(t, want, back, "%q", s)
	require.True(t, utf8.ValidString(back))
}

// Whatever the input, the output is JSON that decodes to what
// encoding/json makes of the same string.
func TestAppendDecodesLikeEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `"quoted"`, `back\slash`, "tab\tnew\nline\r\x00\x1f\x7f",
		"é ü 日本 🎉", "\u2028\u2029", "<&>", "bad \xff\xfe utf8", "cut \xe6\x97", "\xed\xa0\x80 surrogate"} {
		check(t, s)
	}
	assert.Equal(t, `"a\"b\\c\n\u0001d`+"\ufffd"+`e"`, string(Append(nil, "a\"b\\c\n\x01d\xffe")))
}

func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "x\"y", "\x00", "\xff", "日本", "\xe6\x97"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { check(t, s) })
}
