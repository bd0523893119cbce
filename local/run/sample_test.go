package run_test

import (
	"testing"

	"github.com/kpilake/kpilake/local/run"
)

func TestSampleEnvironment_Parses(t *testing.T) {
	env, err := run.SampleEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	if env.Location.String() != "Asia/Tokyo" || len(env.Sources) != 1 || len(env.Sources[0].Tables) != 5 || len(env.LogStreams) != 1 {
		t.Errorf("sample environment: %+v", env)
	}
}
