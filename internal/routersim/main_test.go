package routersim

import (
	"os"
	"testing"

	"github.com/mcp-bridge/otelcol-mcp/internal/pgtest"
)

var testDB *pgtest.Database

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, "mcp_routersim_test", &testDB)) }
