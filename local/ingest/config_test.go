package ingest_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/local/embedded"
	"github.com/kpilake/kpilake/local/ingest"
	"github.com/kpilake/kpilake/sample"
)

func devEnvironment(t *testing.T) *config.Environment {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Context map[string]json.RawMessage `json:"context"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.FromJSON(doc.Context[config.ContextKey])
	if err != nil {
		t.Fatal(err)
	}
	envs, err := cfg.Select("dev")
	if err != nil {
		t.Fatal(err)
	}
	return envs[0]
}

// The embedded path extracts the sample as the dev environment extracts its sample source
// (social): the same tables, modes, excluded and hashed columns, time zones and schedule, and
// the same log stream.
func TestSample_IsTheDevEnvironmentsSource(t *testing.T) {
	env := devEnvironment(t)
	spec, err := ingest.SpecFromEnvironment(env, embedded.SourceName)
	if err != nil {
		t.Fatal(err)
	}
	ds := sample.Generate(sample.Config{Days: 1})
	if diff := gocmp.Diff(spec, ingest.Sample(ds).Spec); diff != "" {
		t.Errorf("embedded spec differs from dev's source %s (-dev +embedded):\n%s", embedded.SourceName, diff)
	}
	for _, src := range env.Sources {
		if src.Name == embedded.SourceName && src.Schedule != "cron(30 1 * * ? *)" {
			t.Errorf("dev extracts %s on %s; embedded.ExtractionClock is 01:30", src.Name, src.Schedule)
		}
	}
	if len(env.LogStreams) == 0 || env.LogStreams[0].Name != embedded.AccessLogStream {
		t.Errorf("dev log streams %v; the local run writes the sample's access logs as %s", env.LogStreams, embedded.AccessLogStream)
	}
}

func TestSpecFromEnvironment_NamesTheKnownSources(t *testing.T) {
	_, err := ingest.SpecFromEnvironment(devEnvironment(t), "nope")
	if err == nil || !strings.Contains(err.Error(), "kpilake.environments.dev.sources") || !strings.Contains(err.Error(), "social") {
		t.Fatalf("got %v, want an error naming the cdk.json key and the known sources", err)
	}
}
