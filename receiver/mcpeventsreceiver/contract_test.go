package mcpeventsreceiver

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pipeline"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

// eventGenerator posts events carrying receivertest's unique id attribute
// and behaves like a well-mannered client: it retries on 503 and gives up
// on 400.
type eventGenerator struct {
	t      *testing.T
	url    string
	signal pipeline.Signal
	next   atomic.Int64
}

func (g *eventGenerator) Start() {}
func (g *eventGenerator) Stop()  {}

func (g *eventGenerator) Generate() []receivertest.UniqueIDAttrVal {
	var body bytes.Buffer
	var ids []receivertest.UniqueIDAttrVal
	for range 3 {
		id := receivertest.UniqueIDAttrVal(fmt.Sprint(g.next.Add(1)))
		ids = append(ids, id)
		if g.signal == pipeline.SignalTraces {
			fmt.Fprintf(&body, `{"type":"routing","id":"%s","time":"2025-06-18T12:00:00Z","method":"ping","duration_ms":1,"attributes":{%q:%q}}`+"\n",
				id, receivertest.UniqueIDAttrName, id)
		} else {
			fmt.Fprintf(&body, `{"type":"health_check","id":"%s","time":"2025-06-18T12:00:00Z","server_key":"w1","health_status":"healthy","attributes":{%q:%q}}`+"\n",
				id, receivertest.UniqueIDAttrName, id)
		}
	}
	for {
		resp, err := http.Post(g.url, "application/x-ndjson", bytes.NewReader(body.Bytes()))
		require.NoError(g.t, err)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK, http.StatusBadRequest:
			return ids
		case http.StatusServiceUnavailable:
			continue // retry at once: the test consumer decides at random
		default:
			require.Failf(g.t, "unexpected status", "%d", resp.StatusCode)
		}
	}
}

func TestConsumeContract(t *testing.T) {
	for _, signal := range []pipeline.Signal{pipeline.SignalLogs, pipeline.SignalTraces} {
		t.Run(signal.String(), func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			addr := l.Addr().String()
			require.NoError(t, l.Close())
			cfg := testConfig()
			cfg.NetAddr.Endpoint = addr
			receivertest.CheckConsumeContract(receivertest.CheckConsumeContractParams{
				T:             t,
				Factory:       NewFactory(),
				Signal:        signal,
				Config:        cfg,
				Generator:     &eventGenerator{t: t, url: "http://" + addr + EventsPath, signal: signal},
				GenerateCount: 200,
			})
		})
	}
}
