package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"

	"github.com/mcp-bridge/otelcol-mcp/internal/gatewaydns"
)

// dnsCommand serves one DNS name with several addresses, for a test of an
// agent balancing over gateways found by DNS (chaos/run.sh two-tier): it
// prints the UDP address it listens on and serves until interrupted.
func dnsCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dns", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "UDP address to answer on")
	name := fs.String("name", "gateways.test", "the name to answer")
	addrList := fs.String("addrs", "127.0.0.1,127.0.0.2", "comma-separated IPv4 addresses of the name")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var addrs []netip.Addr
	for _, a := range strings.Split(*addrList, ",") {
		addr, err := netip.ParseAddr(strings.TrimSpace(a))
		if err != nil || !addr.Is4() {
			fmt.Fprintf(stderr, "mcprouter-sim dns: -addrs: %q is not an IPv4 address\n", a)
			return 2
		}
		addrs = append(addrs, addr)
	}
	pc, err := net.ListenPacket("udp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "mcprouter-sim dns: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, pc.LocalAddr().String())
	go func() {
		<-ctx.Done()
		_ = pc.Close()
	}()
	_ = gatewaydns.Serve(pc, *name, addrs)
	return 0
}
