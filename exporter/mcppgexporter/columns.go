package mcppgexporter

import (
	"fmt"
	"math/bits"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The shape of every table the exporter writes is one description (see
// tables.go): a slice of columns, each with its name and PostgreSQL type as
// in schema/ and how its value is got from the item a row is made of. The
// COPY (or INSERT) column list, each row's values, the attributes a column
// is filled from (left out of the attributes jsonb) and the event-time
// column all come from it, so a column is added in one place (and a
// migration in schema/); TestDescriptionsMatchSchema and
// TestEveryColumnRoundTrips hold the descriptions to the schema and to what
// lands in each column.

// PostgreSQL types of the described columns, spelled as format_type()
// spells them (TestDescriptionsMatchSchema compares them with the catalog).
const (
	pgText        = "text"
	pgTextArray   = "text[]"
	pgBytea       = "bytea"
	pgBoolean     = "boolean"
	pgSmallint    = "smallint"
	pgInteger     = "integer"
	pgBigint      = "bigint"
	pgBigintArray = "bigint[]"
	pgFloat8      = "double precision"
	pgFloat8Array = "double precision[]"
	pgTimestamptz = "timestamp with time zone"
	pgJSONB       = "jsonb"
)

// origin is the kind of item a row is made of.
type origin uint8

const (
	fromSpan  origin = 1 << iota // a span
	fromEvent                    // an exception event of a span (error_log rows)
	fromLog                      // a log record
	fromPoint                    // a metric data point
)

const numOrigins = 4

func (o origin) index() int { return bits.TrailingZeros8(uint8(o)) }

// conversion is how a column filled from an attribute reads it.
type conversion uint8

const (
	asText      conversion = iota // text; NULL when absent or empty (strOrNil)
	asTextArray                   // text[] from a slice, or one value (stringSlice)
	asAttempt                     // a whole number, 1 to 2^31-1 (promoter.integer)
	asCount                       // a whole number, 0 to 2^63-1 (promoter.integer)
	asMicros                      // seconds as whole microseconds (promoter.micros)
)

// column describes one column of a table and how an item of type S fills it.
type column[S any] struct {
	name string // as in schema/
	typ  string // as format_type() spells it (pg* constants)
	// attr is the attribute the column is filled from: unless value is
	// set, the column is the item's attribute attr read as says. The
	// attributes a column is filled from (attr and also) are promoted:
	// the attributes column leaves them out, unless the promoter kept one
	// there because its value did not fit the column (numbers.go).
	attr string
	as   conversion
	also []string
	// from limits attr and also to the rows made of these kinds of item,
	// for a table written from several (error_log); on the others they
	// are not what fills the column and stay in attributes. 0: every kind.
	from origin
	// required: an item whose attr is absent or empty is refused (to
	// rejected_event) instead of becoming a row (tableSpec.missing, which
	// the log tables check before making the row).
	required bool
	// value gets the column's value from the item; nil when the column is
	// its attribute attr.
	value func(*S) any
	// attributes marks the attributes jsonb column: the item's attributes
	// that fill no column (attributesJSON). It is filled after the others,
	// once the promoter knows which values did not fit their column.
	attributes bool
}

// item is what a row's description reads of every item, whatever its
// kind: the attributes columns are filled from and the attributes column
// keeps the rest of, the kind of item, and the promoter of the row. Each
// kind of item embeds it; one item is reused for every row of a batch, so
// a row costs the allocations it always did: the row and its boxed values.
type item struct {
	attrs  pcommon.Map
	origin origin
	p      promoter
}

// layout is what a table's description says besides its columns.
type layout struct {
	name string
	// time names the event-time column: ts, the partition key, in the
	// partitioned tables.
	time string
	// upsert is the ON CONFLICT clause of a table written row by row with
	// INSERT instead of COPY: its rows merge into one per key.
	upsert string
	// drops are attributes the mapping consumes without a column of their
	// own (the item's kind, identity or weight, which such a table does
	// not keep): left out of the attributes column like promoted ones.
	drops []string
}

// table is a destination of rows: its name in schema/ and the columns the
// exporter writes, in the order of the values of each row. It is the part
// of a description the writer needs (tableSpec holds the rest).
type table struct {
	name    string
	columns []string
	types   []string
	upsert  string
	// timeColumn is the index of the event-time column.
	timeColumn int
}

// tableSpec is the description of one table whose rows are made of items
// of type S.
type tableSpec[S any] struct {
	table
	id   tableID
	cols []column[S]
	// steps are what row does for each column, compiled from cols.
	steps []step[S]
	// attributesAt is the index of the attributes column, -1 without one.
	attributesAt int
	// promoted are the attributes left out of the attributes column, by
	// the origin of the row.
	promoted [numOrigins]map[string]struct{}
	required []int // the columns whose attribute must be there
}

// step is how row fills one column: by value, or the attribute key read
// as says; nothing for the attributes column (filled last).
type step[S any] struct {
	value func(*S) any
	key   string
	as    conversion
	skip  bool
}

// describe builds the description of table id; it panics on a
// description that cannot be right (a repeated column, no time column).
func describe[S any](id tableID, l layout, cols []column[S]) *tableSpec[S] {
	d := &tableSpec[S]{id: id, cols: cols, attributesAt: -1,
		table: table{name: l.name, upsert: l.upsert, timeColumn: -1}}
	for o := range d.promoted {
		d.promoted[o] = keySet(l.drops...)
	}
	for i, c := range cols {
		if c.name == "" || c.typ == "" || slices.Contains(d.columns, c.name) {
			panic(fmt.Sprintf("%s: column %d (%q) is unnamed, untyped or repeated", l.name, i, c.name))
		}
		d.columns = append(d.columns, c.name)
		d.types = append(d.types, c.typ)
		d.steps = append(d.steps, step[S]{value: c.value, key: c.attr, as: c.as, skip: c.attributes})
		switch {
		case c.attributes:
			if d.attributesAt >= 0 || c.typ != pgJSONB {
				panic(l.name + ": one attributes column, of type jsonb")
			}
			d.attributesAt = i
		case c.value == nil && c.attr == "":
			panic(fmt.Sprintf("%s.%s: neither attr nor value says what fills it", l.name, c.name))
		}
		if c.required {
			if c.attr == "" {
				panic(fmt.Sprintf("%s.%s: required without attr", l.name, c.name))
			}
			d.required = append(d.required, i)
		}
		if c.name == l.time {
			d.timeColumn = i
		}
		for o := range d.promoted {
			if c.from != 0 && c.from&(1<<o) == 0 {
				continue
			}
			if c.attr != "" {
				d.promoted[o][c.attr] = struct{}{}
			}
			for _, k := range c.also {
				d.promoted[o][k] = struct{}{}
			}
		}
	}
	if d.timeColumn < 0 {
		panic(l.name + ": no time column " + l.time)
	}
	return d
}

// missing returns the first required attribute it lacks, "" when none.
func (d *tableSpec[S]) missing(it *item) string {
	for _, i := range d.required {
		if strOrNil(it.attrs, d.cols[i].attr) == nil {
			return d.cols[i].attr
		}
	}
	return ""
}

// row makes the values of one row of the table from s, whose item is it,
// in the order of d.columns.
func (d *tableSpec[S]) row(s *S, it *item) []any {
	it.p.table, it.p.kept = d.name, it.p.kept[:0]
	attrs := it.attrs
	row := make([]any, len(d.steps))
	for i := range row {
		st := &d.steps[i]
		switch {
		case st.value != nil:
			row[i] = st.value(s)
		case st.skip:
		case st.as == asText: // the common case, without a call
			row[i] = strOrNil(attrs, st.key)
		default:
			row[i] = it.attribute(st.key, st.as)
		}
	}
	if d.attributesAt >= 0 {
		row[d.attributesAt] = attributesJSON(attrs, d.promoted[it.origin.index()], it.p.kept...)
	}
	return row
}

// add makes the row of s and adds it to the batch.
func (d *tableSpec[S]) add(b *rowBatch, s *S, it *item) { b.add(d.id, d.row(s, it)) }

// attribute reads attribute key of the item as a column takes it.
func (it *item) attribute(key string, as conversion) any {
	switch as {
	case asTextArray:
		return stringSlice(it.attrs, key)
	case asAttempt:
		return it.p.integer(it.attrs, key, attemptRange)
	case asCount:
		return it.p.integer(it.attrs, key, countRange)
	case asMicros:
		return it.p.micros(it.attrs, key)
	}
	return strOrNil(it.attrs, key)
}

// index returns the position of the named column; it panics when the
// table has none (a caller's typo, found by its first test).
func (t *table) index(name string) int {
	i := slices.Index(t.columns, name)
	if i < 0 {
		panic(t.name + " has no column " + name)
	}
	return i
}
