package cli

import (
	"errors"

	localrun "github.com/kpilake/kpilake/local/run"
)

// localIngest wires the real extractor and the sample's replay into a local run.
func localIngest(LocalIngestOptions) (localrun.Ingest, error) {
	return nil, errors.New("local ingest is not wired yet")
}
