package mcppgexporter

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/collector/consumer/consumererror"
)

// classifyError decides what exporterhelper does with a failed batch. Bad data
// (SQLSTATE classes 22 and 23, but for a replay's unique violation and the
// "no partition of relation found for row" check violation; 54000, a
// value too large for an index entry; 54001, a jsonb value nested deeper
// than the server's stack allows) can never succeed
// and is permanent; everything else - connection loss, timeouts, server
// shutdown (08, 57P, 53), a schema not there yet - is retried, so the data
// waits on the sending queue instead of being dropped.
func classifyError(err error) error {
	if err == nil {
		return nil
	}
	if isBadData(err) {
		return consumererror.NewPermanent(err)
	}
	return err
}

// SQLSTATEs the write path tells apart.
const (
	sqlstateUniqueViolation      = "23505" // a row already there: a replay, dedupe
	sqlstateCheckViolation       = "23514" // also a row that fits no partition
	sqlstateProgramLimitExceeded = "54000" // e.g. a value too large for an index entry
	sqlstateStatementTooComplex  = "54001" // e.g. jsonb nested deeper than the parser's stack allows
)

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == sqlstateUniqueViolation
}

func isBadData(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch {
	case pgErr.Code == sqlstateUniqueViolation:
		return false
	case isMissingPartition(pgErr):
		return false
	case strings.HasPrefix(pgErr.Code, "22"), strings.HasPrefix(pgErr.Code, "23"):
		return true
	case pgErr.Code == sqlstateProgramLimitExceeded, pgErr.Code == sqlstateStatementTooComplex:
		// A value too large for an index entry, or nested too deep for
		// the server's stack: the row can never be stored as it is.
		return true
	}
	return false
}

// missingPartitionMessage opens PostgreSQL's message for a row that fits no
// partition; the isolate path's server-side loop tests it too.
const missingPartitionMessage = "no partition of relation"

func isMissingPartitionError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && isMissingPartition(pgErr)
}

// isMissingPartition recognises a row that fits no partition (no DEFAULT
// partition either): PostgreSQL reports it as a check violation.
func isMissingPartition(pgErr *pgconn.PgError) bool {
	return pgErr.Code == sqlstateCheckViolation && strings.HasPrefix(pgErr.Message, missingPartitionMessage)
}
