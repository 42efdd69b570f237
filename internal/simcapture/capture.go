// Package simcapture records the OTLP export requests of a simulated router
// run into a capture file (Start: an OTLP/gRPC endpoint on loopback that
// appends every request it receives) and replays them, unchanged, to a
// collector (Read, Replay): `mcprouter-sim run -capture` and
// `mcprouter-sim replay`, so that a load benchmark does not pay the SDK's
// cost while it measures the collector.
package simcapture

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
)

// A capture file holds OTLP export requests exactly as the simulator's SDK
// exporters sent them, for `mcprouter-sim replay`: the magic line, then one
// record per request: the signal (Traces, Logs or
// Metrics), the number of items (spans, log records, data points) and
// the length of the protobuf ExportXServiceRequest, as uvarints, and the
// request itself.
const captureMagic = "mcprouter-sim capture v1\n"

// Signal is the kind of an export request.
type Signal byte

const (
	Traces  Signal = 'T'
	Logs    Signal = 'L'
	Metrics Signal = 'M'
)

// Record is one export request of a capture file.
type Record struct {
	Signal Signal
	Items  int // spans, log records or metric data points
	Body   []byte
}

// Server is an OTLP/gRPC endpoint on loopback that appends every
// export request it receives to a capture file instead of forwarding it.
type Server struct {
	srv  *grpc.Server
	lis  net.Listener
	done chan error

	mu      sync.Mutex
	f       *os.File
	w       *bufio.Writer
	err     error
	records int64
	counts  map[Signal]int64
}

// Start creates path and serves OTLP/gRPC on 127.0.0.1 at a
// free port (Addr).
func Start(path string) (*Server, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Close()
		return nil, err
	}
	c := &Server{srv: grpc.NewServer(grpc.MaxRecvMsgSize(64 << 20)), lis: lis, done: make(chan error, 1),
		f: f, w: bufio.NewWriterSize(f, 1<<20), counts: map[Signal]int64{}}
	if _, err := c.w.WriteString(captureMagic); err != nil {
		lis.Close()
		f.Close()
		return nil, err
	}
	ptraceotlp.RegisterGRPCServer(c.srv, &captureTracesServer{c: c})
	plogotlp.RegisterGRPCServer(c.srv, &captureLogsServer{c: c})
	pmetricotlp.RegisterGRPCServer(c.srv, &captureMetricsServer{c: c})
	go func() { c.done <- c.srv.Serve(lis) }()
	return c, nil
}

// Addr is the host:port the SDK exporters send to.
func (c *Server) Addr() string { return c.lis.Addr().String() }

func (c *Server) write(signal Signal, items int, body []byte, err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		err = c.err
	}
	if err == nil {
		var hdr [1 + 2*binary.MaxVarintLen64]byte
		hdr[0] = byte(signal)
		n := 1 + binary.PutUvarint(hdr[1:], uint64(items))
		n += binary.PutUvarint(hdr[n:], uint64(len(body)))
		if _, err = c.w.Write(hdr[:n]); err == nil {
			_, err = c.w.Write(body)
		}
	}
	if err != nil {
		c.err = cmp.Or(c.err, err)
		return err
	}
	c.records++
	c.counts[signal] += int64(items)
	return nil
}

// Close stops the server (after the exporters have shut down) and flushes
// the file.
func (c *Server) Close() error {
	c.srv.GracefulStop()
	serveErr := <-c.done
	if errors.Is(serveErr, grpc.ErrServerStopped) {
		serveErr = nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return errors.Join(serveErr, c.err, c.w.Flush(), c.f.Close())
}

// Summary says what the file holds.
func (c *Server) Summary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("%d requests: %d spans, %d log records, %d metric data points",
		c.records, c.counts[Traces], c.counts[Logs], c.counts[Metrics])
}

type captureTracesServer struct {
	ptraceotlp.UnimplementedGRPCServer
	c *Server
}

func (s captureTracesServer) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	body, err := req.MarshalProto()
	return ptraceotlp.NewExportResponse(), s.c.write(Traces, req.Traces().SpanCount(), body, err)
}

type captureLogsServer struct {
	plogotlp.UnimplementedGRPCServer
	c *Server
}

func (s captureLogsServer) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	body, err := req.MarshalProto()
	return plogotlp.NewExportResponse(), s.c.write(Logs, req.Logs().LogRecordCount(), body, err)
}

type captureMetricsServer struct {
	pmetricotlp.UnimplementedGRPCServer
	c *Server
}

func (s captureMetricsServer) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	body, err := req.MarshalProto()
	return pmetricotlp.NewExportResponse(), s.c.write(Metrics, req.Metrics().DataPointCount(), body, err)
}

// Read reads every record of a capture file.
func Read(path string) ([]Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < len(captureMagic) || string(data[:len(captureMagic)]) != captureMagic {
		return nil, fmt.Errorf("%s: not a capture file of mcprouter-sim run -capture", path)
	}
	data = data[len(captureMagic):]
	var recs []Record
	for off := 0; off < len(data); {
		sig := Signal(data[off])
		if sig != Traces && sig != Logs && sig != Metrics {
			return nil, fmt.Errorf("%s: record %d at byte %d: unknown signal %q", path, len(recs), off, sig)
		}
		items, n1 := binary.Uvarint(data[off+1:])
		if n1 <= 0 {
			return nil, fmt.Errorf("%s: record %d: %w", path, len(recs), io.ErrUnexpectedEOF)
		}
		size, n2 := binary.Uvarint(data[off+1+n1:])
		start := off + 1 + n1 + n2
		if n2 <= 0 || size > uint64(len(data)-start) {
			return nil, fmt.Errorf("%s: record %d: %w", path, len(recs), io.ErrUnexpectedEOF)
		}
		end := start + int(size)
		recs = append(recs, Record{Signal: sig, Items: int(items), Body: data[start:end:end]})
		off = end
	}
	return recs, nil
}
