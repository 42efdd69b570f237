// Package gatewaydns is a minimal DNS server for tests: it answers A queries
// for one name with several addresses, as the DNS name of a set of gateway
// replicas does, so that an agent's gRPC exporter (target dns://SERVER/NAME:PORT)
// balances over gateways listening on one port at several loopback addresses.
package gatewaydns

import (
	"net"
	"net/netip"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// Serve answers on pc until it is closed: A queries for name get addrs (TTL
// 1 s), AAAA queries for it an empty answer, any other name NXDOMAIN.
func Serve(pc net.PacketConn, name string, addrs []netip.Addr) error {
	fqdn, err := dnsmessage.NewName(strings.TrimSuffix(name, ".") + ".")
	if err != nil {
		return err
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		var q dnsmessage.Message
		if q.Unpack(buf[:n]) != nil || len(q.Questions) != 1 {
			continue
		}
		answer := dnsmessage.Message{
			Header:    dnsmessage.Header{ID: q.ID, Response: true, Authoritative: true},
			Questions: q.Questions,
		}
		switch question := q.Questions[0]; {
		case !strings.EqualFold(question.Name.String(), fqdn.String()):
			answer.RCode = dnsmessage.RCodeNameError
		case question.Type == dnsmessage.TypeA:
			for _, a := range addrs {
				if !a.Is4() {
					continue
				}
				answer.Answers = append(answer.Answers, dnsmessage.Resource{
					Header: dnsmessage.ResourceHeader{Name: fqdn, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 1},
					Body:   &dnsmessage.AResource{A: a.As4()},
				})
			}
		}
		if out, err := answer.Pack(); err == nil {
			_, _ = pc.WriteTo(out, from)
		}
	}
}
