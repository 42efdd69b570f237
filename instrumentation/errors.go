package instrumentation

import (
	"context"
	"errors"
	"reflect"
	"strconv"
)

// Values of error.type the package derives itself.
const (
	ErrorTypeTimeout   = "timeout"
	ErrorTypeCancelled = "cancelled"
)

// ErrorTyper is an error that knows its error.type: a low-cardinality class
// such as tool_error, timeout or a JSON-RPC error code.
type ErrorTyper interface {
	ErrorType() string
}

// RPCStatusCoder is an error that carries a JSON-RPC error code
// (rpc.response.status_code).
type RPCStatusCoder interface {
	RPCStatusCode() string
}

// ErrorType is the error.type of err: the ErrorType of the first error in
// its chain that has one, "timeout" for context.DeadlineExceeded,
// "cancelled" for context.Canceled, else the Go type name of err (as the
// semantic conventions suggest when no class is known). "" for nil.
func ErrorType(err error) string {
	if err == nil {
		return ""
	}
	var t ErrorTyper
	if errors.As(err, &t) {
		if s := t.ErrorType(); s != "" {
			return s
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return ErrorTypeTimeout
	case errors.Is(err, context.Canceled):
		return ErrorTypeCancelled
	}
	return typeName(err)
}

// typeName is the Go type of err, as exception.type.
func typeName(err error) string {
	if err == nil {
		return ""
	}
	return reflect.TypeOf(err).String()
}

// RPCStatusCode is the JSON-RPC error code err carries, "" when none.
func RPCStatusCode(err error) string {
	var c RPCStatusCoder
	if errors.As(err, &c) {
		return c.RPCStatusCode()
	}
	return ""
}

// RPCError is a JSON-RPC error response (from an upstream, or the router's
// own answer). Its error.type and rpc.response.status_code are the code.
type RPCError struct {
	Code    int64
	Message string
}

func (e *RPCError) Error() string {
	return "jsonrpc error " + strconv.FormatInt(e.Code, 10) + ": " + e.Message
}

// ErrorType is the code as text.
func (e *RPCError) ErrorType() string { return strconv.FormatInt(e.Code, 10) }

// RPCStatusCode is the code as text.
func (e *RPCError) RPCStatusCode() string { return strconv.FormatInt(e.Code, 10) }

// ToolError is a tools/call result with isError set: the call worked, the
// tool reported a failure. Its error.type is tool_error.
type ToolError struct {
	Tool    string
	Message string
}

func (e *ToolError) Error() string { return e.Tool + ": " + e.Message }

// ErrorType is tool_error.
func (e *ToolError) ErrorType() string { return "tool_error" }
