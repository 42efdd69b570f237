package main

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
// record per request: the signal (captureTraces, captureLogs or
// captureMetrics), the number of items (spans, log records, data points) and
// the length of the protobuf ExportXServiceRequest, as uvarints, and the
// request itself.
const captureMagic = "mcprouter-sim capture v1\n"

type captureSignal byte

const (
	captureTraces  captureSignal = 'T'
	captureLogs    captureSignal = 'L'
	captureMetrics captureSignal = 'M'
)

// captureRecord is one export request of a capture file.
type captureRecord struct {
	signal captureSignal
	items  int
	body   []byte
}

// captureServer is an OTLP/gRPC endpoint on loopback that appends every
// export request it receives to a capture file instead of forwarding it.
type captureServer struct {
	srv  *grpc.Server
	lis  net.Listener
	done chan error

	mu      sync.Mutex
	f       *os.File
	w       *bufio.Writer
	err     error
	records int64
	counts  map[captureSignal]int64
}

// startCaptureServer creates path and serves OTLP/gRPC on 127.0.0.1 at a
// free port (Addr).
func startCaptureServer(path string) (*captureServer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Close()
		return nil, err
	}
	c := &captureServer{srv: grpc.NewServer(grpc.MaxRecvMsgSize(64 << 20)), lis: lis, done: make(chan error, 1),
		f: f, w: bufio.NewWriterSize(f, 1<<20), counts: map[captureSignal]int64{}}
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
func (c *captureServer) Addr() string { return c.lis.Addr().String() }

func (c *captureServer) write(signal captureSignal, items int, body []byte, err error) error {
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

// close stops the server (after the exporters have shut down) and flushes
// the file.
func (c *captureServer) close() error {
	c.srv.GracefulStop()
	serveErr := <-c.done
	if errors.Is(serveErr, grpc.ErrServerStopped) {
		serveErr = nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return errors.Join(serveErr, c.err, c.w.Flush(), c.f.Close())
}

// summary says what the file holds.
func (c *captureServer) summary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("%d requests: %d spans, %d log records, %d metric data points",
		c.records, c.counts[captureTraces], c.counts[captureLogs], c.counts[captureMetrics])
}

type captureTracesServer struct {
	ptraceotlp.UnimplementedGRPCServer
	c *captureServer
}

func (s captureTracesServer) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	body, err := req.MarshalProto()
	return ptraceotlp.NewExportResponse(), s.c.write(captureTraces, req.Traces().SpanCount(), body, err)
}

type captureLogsServer struct {
	plogotlp.UnimplementedGRPCServer
	c *captureServer
}

func (s captureLogsServer) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	body, err := req.MarshalProto()
	return plogotlp.NewExportResponse(), s.c.write(captureLogs, req.Logs().LogRecordCount(), body, err)
}

type captureMetricsServer struct {
	pmetricotlp.UnimplementedGRPCServer
	c *captureServer
}

func (s captureMetricsServer) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	body, err := req.MarshalProto()
	return pmetricotlp.NewExportResponse(), s.c.write(captureMetrics, req.Metrics().DataPointCount(), body, err)
}

// readCapture reads every record of a capture file.
func readCapture(path string) ([]captureRecord, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < len(captureMagic) || string(data[:len(captureMagic)]) != captureMagic {
		return nil, fmt.Errorf("%s: not a capture file of mcprouter-sim run -capture", path)
	}
	data = data[len(captureMagic):]
	var recs []captureRecord
	for off := 0; off < len(data); {
		sig := captureSignal(data[off])
		if sig != captureTraces && sig != captureLogs && sig != captureMetrics {
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
		recs = append(recs, captureRecord{signal: sig, items: int(items), body: data[start:end:end]})
		off = end
	}
	return recs, nil
}
