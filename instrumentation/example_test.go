package instrumentation_test

import (
	"context"
	"errors"
	"log"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/mcp-bridge/otelcol-mcp/instrumentation"
	"github.com/mcp-bridge/otelcol-mcp/mcpconv"
)

// A router sets up the SDK with OTLP exporters toward otelcol-mcp (the
// endpoint comes from OTEL_EXPORTER_OTLP_ENDPOINT) and creates one Router.
func ExampleNew() {
	ctx := context.Background()
	res := resource.NewSchemaless(
		attribute.String(mcpconv.ServiceName, "mcp-router"),
		attribute.String(mcpconv.ServiceInstanceID, "router-1"),
	)
	spans, err1 := otlptracegrpc.New(ctx)
	logs, err2 := otlploggrpc.New(ctx)
	metrics, err3 := otlpmetricgrpc.New(ctx)
	if err := errors.Join(err1, err2, err3); err != nil {
		log.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(spans))
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewBatchProcessor(logs)))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metrics, sdkmetric.WithInterval(time.Minute))))
	defer func() { _ = errors.Join(tp.Shutdown(ctx), lp.Shutdown(ctx), mp.Shutdown(ctx)) }()

	// The collector keeps 1 % of the LB decisions: sampling them here as
	// well costs the router the event only once in a hundred requests.
	// The runtime metrics give the router's CPU, memory, GC and goroutines
	// per minute (router_runtime).
	router, err := instrumentation.New(tp, lp, mp, instrumentation.WithLBDecisionSampling(0.01),
		instrumentation.WithRuntimeMetrics(true))
	if err != nil {
		log.Print(err) // returning runs the deferred shutdown
		return
	}
	_, _ = router.ObservePools(func() []instrumentation.PoolStats {
		return []instrumentation.PoolStats{{ServerKey: "weather-1", Active: 3, Idle: 29}}
	})
	router.ServerRegistered(ctx, instrumentation.Server{Key: "weather-1", URL: "http://weather:8080/mcp",
		Tools: []string{"get_weather"}, Health: mcpconv.HealthHealthy})
}

// One inbound tools/call routed to an upstream, retried once.
func ExampleRouter_StartRequest() {
	router, _ := instrumentation.New(nil, nil, nil) // the global providers
	callUpstream := func(_ context.Context, _ string) error { return nil }

	ctx, req := router.StartRequest(context.Background(), instrumentation.RequestInfo{
		Method: mcpconv.MethodToolsCall, Tool: "get_weather", SessionID: "sess-1", RequestID: "17",
		ProtocolVersion: "2025-06-18", Transport: "tcp", ClientAddress: "10.0.0.7",
	})
	var err error
	for _, server := range []string{"weather-1", "weather-2"} {
		req.ChooseServer(instrumentation.Choice{ServerKey: server, Strategy: "round_robin",
			Candidates: []string{"weather-1", "weather-2"}})
		callCtx, call := req.StartToolCall(ctx, instrumentation.ToolCallInfo{ServerAddress: server + ".internal", ServerPort: 8080})
		err = callUpstream(callCtx, server)
		call.End(err)
		if err == nil {
			break
		}
	}
	req.End(err)
}
