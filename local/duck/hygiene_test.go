package duck_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// moduleRoot is the repository root, two levels up from this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// DuckDB (cgo) links into the CLI only: no Lambda may reach it, whatever its build tags.
func TestNoLambdaLinksDuckDB(t *testing.T) {
	for _, tags := range []string{"lambda.norpc", "lambda.norpc,grpcnotrace"} {
		cmd := exec.Command("go", "list", "-tags", tags, "-deps", "./lambdas/cmd/...")
		cmd.Dir = moduleRoot(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.Contains(dep, "duckdb") || strings.HasPrefix(dep, "github.com/kpilake/kpilake/local/") {
				t.Errorf("a Lambda (tags %s) links %s; DuckDB and the local stand-ins belong to the CLI only", tags, dep)
			}
		}
	}
}

// Without cgo the CLI still builds, and `local run` says how to get the local engine.
func TestCLIBuildsWithoutCgo_AndLocalRunSaysHowToGetDuckDB(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI: not in -short")
	}
	bin := filepath.Join(t.TempDir(), "kpilake")
	build := exec.Command("go", "build", "-o", bin, "./cmd/kpilake")
	build.Dir = moduleRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./cmd/kpilake: %v\n%s", err, out)
	}
	run := exec.Command(bin, "local", "run", "--lake", filepath.Join(t.TempDir(), "lake"))
	run.Dir = t.TempDir() // no cdk.json: the sample's environment
	out, err := run.CombinedOutput()
	var exit *exec.ExitError
	if err == nil || !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("local run without cgo: err %v, want exit code 2\n%s", err, out)
	}
	for _, want := range []string{"needs cgo", "CGO_ENABLED=1"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the message does not say %q:\n%s", want, out)
		}
	}
}
