package mcpeventsreceiver

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/mcp-bridge/otelcol-mcp/receiver/mcpeventsreceiver/internal/metadata"
)

// readmeExample is a curl example of the README: what it posts and the
// answer the README shows for it.
type readmeExample struct {
	command    string
	headers    map[string]string
	body       string
	gzip       bool
	wantStatus int
	wantBody   string
}

var (
	shBlock    = regexp.MustCompile("(?s)```sh\n(.*?)```")
	headerFlag = regexp.MustCompile(`-H ['"]([^:'"]+): ([^'"]*)['"]`)
	answer     = regexp.MustCompile(`(?m)^# => (\d{3}) (.*)$`)
)

// readmeExamples returns the curl examples of the README (the blocks that
// post a heredoc and show the answer).
func readmeExamples(t *testing.T) []readmeExample {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	var out []readmeExample
	for _, m := range shBlock.FindAllStringSubmatch(string(readme), -1) {
		block := m[1]
		if !strings.Contains(block, "curl") || !strings.Contains(block, "<<'EOF'") {
			continue
		}
		commandLine := block[:strings.IndexByte(block, '\n')]
		start := strings.IndexByte(block, '\n') + 1
		end := strings.Index(block, "\nEOF\n")
		a := answer.FindStringSubmatch(block)
		require.NotNil(t, a, "example without an answer line:\n%s", block)
		status, _ := strconv.Atoi(a[1])
		ex := readmeExample{command: commandLine, body: block[start:end] + "\n", gzip: strings.Contains(block, "gzip -c"),
			headers: map[string]string{}, wantStatus: status, wantBody: a[2]}
		for _, h := range headerFlag.FindAllStringSubmatch(commandLine, -1) {
			ex.headers[h[1]] = h[2]
		}
		out = append(out, ex)
	}
	return out
}

// TestREADMEExamples posts every curl example of the README to a receiver
// and compares the answer with the one the README shows.
func TestREADMEExamples(t *testing.T) {
	examples := readmeExamples(t)
	require.Len(t, examples, 12)
	covered := map[string]bool{}
	for _, ex := range examples {
		t.Run(ex.command, func(t *testing.T) {
			cfg := testConfig()
			host := componenttest.NewNopHost()
			if _, ok := ex.headers["Authorization"]; ok {
				cfg.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: component.MustNewID("tokenauth")}})
				host = hostWithAuth{host}
				ex.headers["Authorization"] = strings.ReplaceAll(ex.headers["Authorization"], "$MCP_EVENTS_TOKEN", "s3cret")
			}
			s, next := newSinks()
			url := startReceiver(t, cfg, next, receivertest.NewNopSettings(metadata.Type), host)
			body := []byte(ex.body)
			if ex.gzip {
				body = gzipped(t, body)
			}
			var header []string
			for k, v := range ex.headers {
				if k != "Content-Type" {
					header = append(header, k, v)
				}
			}
			resp := post(t, url, ex.headers["Content-Type"], body, header...)
			assert.Equal(t, ex.wantStatus, resp.status)
			assert.Equal(t, ex.wantBody, strings.TrimSpace(resp.body))
			if ex.wantStatus != 200 {
				assert.Equal(t, [3]int{0, 0, 0}, s.counts())
				return
			}
			for _, line := range strings.Split(ex.body, "\n") {
				for name := range typeByName {
					if strings.Contains(line, `"type":"`+name+`"`) {
						covered[name] = true
					}
				}
			}
		})
	}
	for name := range typeByName {
		assert.True(t, covered[name], "the README has no accepted example of %s", name)
	}
}
