// Command otlpcapture records what an OpenTelemetry emitter sends: it accepts
// OTLP/HTTP (protobuf or JSON, gzip or not) on /v1/traces, /v1/logs and
// /v1/metrics and appends each request, as OTLP/JSON on one line, to
// traces.jsonl, logs.jsonl or metrics.jsonl in the output directory.
// The realworld target uses it to record the fixtures of real emitters.
//
//	otlpcapture -listen 127.0.0.1:14318 -out DIR
package main

import (
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

type request interface {
	UnmarshalProto([]byte) error
	UnmarshalJSON([]byte) error
	MarshalJSON() ([]byte, error)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:14318", "address to listen on")
	out := flag.String("out", ".", "directory for traces.jsonl, logs.jsonl, metrics.jsonl")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o750); err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	handle := func(file string, newReq func() request) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, err := readBody(r)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			req := newReq()
			isJSON := strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
			if isJSON {
				err = req.UnmarshalJSON(body)
			} else {
				err = req.UnmarshalProto(body)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			line, err := req.MarshalJSON()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			mu.Lock()
			err = appendLine(filepath.Join(*out, file), line)
			mu.Unlock()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			if isJSON {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte("{}"))
				return
			}
			w.Header().Set("Content-Type", "application/x-protobuf")
			w.WriteHeader(http.StatusOK)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/traces", handle("traces.jsonl", func() request { r := ptraceotlp.NewExportRequest(); return &r }))
	mux.HandleFunc("/v1/logs", handle("logs.jsonl", func() request { r := plogotlp.NewExportRequest(); return &r }))
	mux.HandleFunc("/v1/metrics", handle("metrics.jsonl", func() request { r := pmetricotlp.NewExportRequest(); return &r }))
	log.Printf("otlpcapture: listening on %s, writing to %s", *listen, *out)
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

func readBody(r *http.Request) ([]byte, error) {
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer gz.Close()
		rd = gz
	}
	return io.ReadAll(io.LimitReader(rd, 64<<20))
}

func appendLine(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
