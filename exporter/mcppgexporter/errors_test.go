package mcppgexporter

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/consumer/consumererror"
)

func TestClassifyError(t *testing.T) {
	pgErr := func(code, msg string) error {
		return fmt.Errorf("copy into routing_log: %w", &pgconn.PgError{Code: code, Message: msg})
	}
	tests := []struct {
		name      string
		err       error
		permanent bool
	}{
		{name: "invalid text (NUL byte)", err: pgErr("22021", "invalid byte sequence for encoding \"UTF8\": 0x00"), permanent: true},
		{name: "numeric out of range", err: pgErr("22003", "value out of range"), permanent: true},
		{name: "not-null violation", err: pgErr("23502", "null value in column"), permanent: true},
		{name: "unique violation is a replay", err: pgErr("23505", "duplicate key value"), permanent: false},
		{name: "missing partition", err: pgErr("23514", `no partition of relation "routing_log" found for row`), permanent: false},
		{name: "other check violation", err: pgErr("23514", `new row violates check constraint "x"`), permanent: true},
		{name: "index row too large", err: pgErr("54000", "index row size 3200 exceeds btree version 4 maximum 2704"), permanent: true},
		{name: "jsonb nested too deep", err: pgErr("54001", "stack depth limit exceeded"), permanent: true},
		{name: "connection failure", err: pgErr("08006", "connection failure"), permanent: false},
		{name: "admin shutdown", err: pgErr("57P01", "terminating connection due to administrator command"), permanent: false},
		{name: "too many connections", err: pgErr("53300", "too many connections"), permanent: false},
		{name: "undefined table (schema not there yet)", err: pgErr("42P01", "relation does not exist"), permanent: false},
		{name: "deadline", err: context.DeadlineExceeded, permanent: false},
		{name: "network", err: errors.New("dial tcp 127.0.0.1:5432: connect: connection refused"), permanent: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classifyError(tt.err)
			assert.ErrorIs(t, got, tt.err)
			assert.Equal(t, tt.permanent, consumererror.IsPermanent(got))
		})
	}
	assert.NoError(t, classifyError(nil))
}
