package cli

import (
	localrun "github.com/kpilake/kpilake/local/run"
	"github.com/kpilake/kpilake/sample"
)

// localIngest wires the real extractor and the sample's replay into a local run.
func localIngest(o LocalIngestOptions) (localrun.Ingest, error) {
	var ds *sample.Dataset
	if o.DSN == "" {
		if err := o.Sample.Validate(); err != nil {
			return nil, err
		}
		ds = sample.Generate(o.Sample)
	}
	return localrun.NewIngest(o.Lake.Root(), o.Env, ds, o.DSN, nil)
}
