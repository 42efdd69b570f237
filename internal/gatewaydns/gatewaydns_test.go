package gatewaydns

import (
	"context"
	"net"
	"net/netip"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAnswersTheNameWithEveryAddress(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	go func() {
		_ = Serve(pc, "gateways.test", []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")})
	}()

	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
	got, err := r.LookupHost(context.Background(), "gateways.test")
	require.NoError(t, err)
	sort.Strings(got)
	assert.Equal(t, []string{"127.0.0.1", "127.0.0.2"}, got)

	_, err = r.LookupHost(context.Background(), "other.test")
	var dnsErr *net.DNSError
	require.ErrorAs(t, err, &dnsErr)
	assert.True(t, dnsErr.IsNotFound)
}
