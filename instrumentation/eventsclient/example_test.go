package eventsclient_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/mcp-bridge/otelcol-mcp/instrumentation/eventsclient"
)

// A router creates one Client, adds events where the facts happen and
// shuts the client down, delivering what is buffered, when it stops.
func ExampleClient() {
	c, err := eventsclient.New(eventsclient.Config{
		Endpoint: "http://localhost:4320",
		Resource: eventsclient.Resource{ServiceName: "mcp-router", ServiceInstanceID: "router-1"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			log.Print(err)
		}
	}()

	start := time.Now()
	// ... route a tools/call ...
	c.Add(&eventsclient.Routing{
		ID: eventsclient.NewID(), Time: start, Duration: time.Since(start),
		Method: "tools/call", Tool: "get_weather", SessionID: "sess-1", RequestID: "17", ServerKey: "weather-1",
	})
	c.Add(&eventsclient.HealthCheck{ID: eventsclient.NewID(), ServerKey: "weather-1", Healthy: true, Check: "ping",
		Latency: 12 * time.Millisecond})
}

func ExampleAppendJSON() {
	line := eventsclient.AppendJSON(nil, eventsclient.Resource{ServiceName: "mcp-router"}, eventsclient.BreakerStateChange{
		ID: "cb-1", Time: time.Date(2025, 6, 18, 12, 0, 0, 0, time.UTC), ServerKey: "weather-2",
		From: eventsclient.BreakerClosed, To: eventsclient.BreakerOpen, FailureCount: 5, Severity: eventsclient.SeverityWarn,
	})
	fmt.Println(string(line))
	// Output:
	// {"type":"circuit_breaker_state_change","id":"cb-1","time":1750248000000000000,"service_name":"mcp-router","server_key":"weather-2","to_state":"open","from_state":"closed","failure_count":5,"severity":"WARN"}
}
