package mcpeventsreceiver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// fuzzSeeds are bodies of every kind: valid events of each type, and the
// malformed shapes the validation tests use.
var fuzzSeeds = []string{
	mixedEvents,
	asArray(mixedEvents),
	`{"type":"tool_call","id":"c","time":"2025-06-18T12:00:00.5Z","tool":"t","duration_ms":1,"arguments":{"a":[1,{"b":null}]},"result":"x","exception":{"type":"E","message":"m"}}`,
	`{"type":"server_registered","time":1750248000000000000,"server_key":"w","tools":["a","b"],"attributes":{"k":[1,2.5,"s",true],"n":null}}`,
	`{"type":"lb_decision","time":"1750248000000000000","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","candidates":["a"],"sampling_threshold":"fd70a3d70a3d71"}`,
	`{"type":"error","time":"2025-06-18T12:00:00+02:00","message":"m\u00e9\ud83d\ude00\n","severity":"ERROR"}`,
	`{"type":"session_end","time":"2025-06-18T12:00:00Z","session_id":"s","request_count":9223372036854775807,"error_count":0}`,
	`{"type":"circuit_breaker_state_change","time":"2025-06-18T12:00:00Z","server_key":"w","to_state":"open","from_state":"closed","failure_count":5}`,
	`[{"type":"x"},42,"s",[],{}]`,
	"{\"type\":\"health_check\",\"server_key\":\"w\xff1\"}",
	`{"type":"health_check","server_key":"w\ud83d1","latency_ms":1e400,"attributes":{"":1,"a":{"b":1},"c":[[1]]}}`,
	`{"a":` + strings.Repeat("[", 80) + strings.Repeat("]", 80) + `}`,
	"{\"type\":\n{}\n\r\n[1] x\n",
	`{"type":"routing","time":"2025-06-18T12:00:00.1234567891Z","method":"m","duration_ms":-0.0,"attempt":1.0,"status":"ok","error_message":"e"}`,
}

// FuzzDecode checks that no body makes the decoder panic or use memory out
// of proportion to the body, and that whatever it accepts is JSON that
// encoding/json accepts too.
func FuzzDecode(f *testing.F) {
	for _, seed := range fuzzSeeds {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	limits := decodeLimits{maxEvents: 1000, maxFieldLength: 64, maxTextLength: 4096}
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		format := formatJSON
		if ndjson {
			format = formatNDJSON
		}
		d := newDecoder(limits, allPipelines)
		// A body that makes the decoder loop crashes the worker with every
		// goroutine's stack, instead of hanging the fuzzer.
		debug.SetTraceback("all")
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("decode hung on %q", body)) })
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		d.decode(body, format, testNow)
		runtime.ReadMemStats(&after)
		watchdog.Stop()

		// pdata and the decoder's own structures cost a bounded multiple of
		// the input: about 20x for the densest bodies (tiny attributes).
		if allocated, limit := after.TotalAlloc-before.TotalAlloc, uint64(100*len(body)+(1<<20)); allocated > limit {
			t.Fatalf("decoding %d bytes allocated %d bytes (limit %d)", len(body), allocated, limit)
		}
		if d.tooMany || d.invalidEvents > 0 {
			if len(d.problems) == 0 && !d.tooMany {
				t.Fatalf("%d invalid events and no problem listed", d.invalidEvents)
			}
			for _, p := range d.problems {
				// Index: an event, or for malformed JSON after the last one, the next.
				if p.Reason == "" || p.Line < 1 || p.Index < 0 || p.Index > d.events {
					t.Fatalf("bad problem %+v (%d events)", p, d.events)
				}
			}
			return
		}
		if len(d.problems) > 0 {
			t.Fatalf("problems %+v but no invalid event", d.problems)
		}
		items := d.out.spans + d.out.records + d.out.points
		if items < d.events {
			t.Fatalf("%d events accepted but %d items mapped", d.events, items)
		}
		if d.events == 0 {
			return
		}
		// Accepted bodies are JSON in the eyes of encoding/json as well.
		if format == formatJSON {
			if !json.Valid(body) {
				t.Fatalf("accepted a body encoding/json refuses: %q", body)
			}
			return
		}
		for _, line := range bytes.Split(body, []byte{'\n'}) {
			if len(bytes.TrimSpace(line)) > 0 && !json.Valid(line) {
				t.Fatalf("accepted a line encoding/json refuses: %q", line)
			}
		}
	})
}

// TestDecodeMemoryIsBounded feeds the decoder the bodies that cost it the
// most per byte and checks the allocations stay proportional.
func TestDecodeMemoryIsBounded(t *testing.T) {
	attrs := make([]string, 0, maxAttributes)
	for i := range maxAttributes {
		attrs = append(attrs, `"`+string(rune('a'+i%26))+strings.Repeat("b", i/26)+`":[]`)
	}
	event := `{"type":"health_check","time":"2025-06-18T12:00:00Z","server_key":"w","health_status":"healthy","attributes":{` + strings.Join(attrs, ",") + `}}`
	bodies := map[string]string{
		"empty array attributes": strings.Repeat(event+"\n", 200),
		"unknown fields":         `{` + strings.Repeat(`"x":1,`, 200_000) + `"type":"nope"}`,
		"many invalid events":    strings.Repeat(`{"type":"nope"}`+"\n", 50_000),
		"deep arrays":            strings.Repeat(`{"type":"tool_call","arguments":`+strings.Repeat("[", 64)+strings.Repeat("]", 64)+"}\n", 2000),
		"long strings":           `{"type":"error","message":"` + strings.Repeat("z", 1<<20) + `"}`,
		"tiny events":            strings.Repeat(`{"type":"pool_stats","time":946684800000000000,"server_key":"a","idle":0}`+"\n", 5000),
		"dense arrays": strings.Repeat(`{"type":"server_registered","time":"2025-06-18T12:00:00Z","server_key":"w","tools":[`+
			strings.Repeat(`"a",`, maxElements-1)+`"a"],"attributes":{"n":[`+strings.Repeat("1,", maxElements-1)+"1]}}\n", 100),
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			d := newDecoder(testLimits(), allPipelines)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			d.decode([]byte(body), formatNDJSON, testNow)
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes in, %d bytes allocated (%.1fx), %d events, %d invalid", len(body), allocated,
				float64(allocated)/float64(len(body)), d.events, d.invalidEvents)
			if allocated > uint64(40*len(body)) {
				t.Fatalf("allocated %d bytes for %d bytes of input", allocated, len(body))
			}
		})
	}
}
