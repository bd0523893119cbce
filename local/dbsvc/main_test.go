package dbsvc

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// parallel is how many tests run at once unless -test.parallel says otherwise: each starts a
// database server and spends most of its time waiting for it (initdb, the first connection), not
// on a core.
const parallel = 4

func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		if err := flag.Set("test.parallel", fmt.Sprint(parallel)); err != nil {
			fmt.Fprintln(os.Stderr, "dbsvc:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	StopAll()
	os.Exit(code)
}
