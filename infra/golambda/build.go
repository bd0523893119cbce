package golambda

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Build settings of every function (DESIGN §4): a static linux/arm64 binary named bootstrap.
// grpcnotrace keeps golang.org/x/net/trace (and html/template) out of the functions that link
// gRPC through the X-Ray SDK without calling it: a smaller bundle and less init.
var (
	buildEnv   = []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"}
	buildTags  = []string{"lambda.norpc", "grpcnotrace"}
	buildFlags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-tags=" + strings.Join(buildTags, ",")}
)

// BuildArgs returns the environment and `go build` flags of every function, for goarch instead
// of arm64 and with extra build tags, so that a benchmark can build the same binary for the
// machine it runs on (and a variant of it).
func BuildArgs(goarch string, tags ...string) (env, flags []string) {
	env = []string{"GOOS=linux", "GOARCH=" + goarch, "CGO_ENABLED=0"}
	flags = append([]string(nil), buildFlags[:len(buildFlags)-1]...)
	return env, append(flags, "-tags="+strings.Join(append(append([]string(nil), buildTags...), tags...), ","))
}

// Build is one built handler: a directory that holds only bootstrap, and the hash of the sources
// it was built from.
type Build struct {
	Dir  string
	Hash string
}

var (
	buildMu    sync.Mutex
	buildCache = map[string]Build{}
)

// BuildHandler compiles the main package in dir into <module>/.build/golambda/<hash>/bootstrap.
// The hash covers the Go version, the build settings, go.mod, go.sum and every file of the
// module's own packages that the handler imports, so it changes exactly when the binary may;
// a build whose hash already exists on disk is reused.
func BuildHandler(dir string) (Build, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Build{}, fmt.Errorf("golambda: entry %q: %w", dir, err)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := buildCache[abs]; ok {
		return b, nil
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return Build{}, fmt.Errorf("golambda: entry %q is not a directory; give the handler's main package, such as \"lambdas/cmd/plan\"", dir)
	}
	root, err := moduleRoot(abs)
	if err != nil {
		return Build{}, err
	}
	hash, pkg, err := sourceHash(root, abs)
	if err != nil {
		return Build{}, err
	}
	if pkg != "main" {
		return Build{}, fmt.Errorf("golambda: entry %q is package %s, not a main package; give the handler's main package, such as \"lambdas/cmd/plan\"", dir, pkg)
	}
	out := filepath.Join(root, ".build", "golambda", hash)
	bootstrap := filepath.Join(out, "bootstrap")
	if _, err := os.Stat(bootstrap); err != nil {
		if err := compile(root, abs, out); err != nil {
			return Build{}, err
		}
	}
	b := Build{Dir: out, Hash: hash}
	buildCache[abs] = b
	return b, nil
}

func moduleRoot(dir string) (string, error) {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("golambda: no go.mod above %s; the entry must be inside a Go module", dir)
		}
		d = parent
	}
}

func goCmd(root string, args ...string) *exec.Cmd {
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), buildEnv...)
	return cmd
}

func run(cmd *exec.Cmd) ([]byte, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("golambda: %s: %w\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	return out, nil
}

// listFormat prints, for each package of the main module in the build, its directory, its name
// and the files that go into it.
const listFormat = `{{if .Module}}{{if .Module.Main}}{{.Dir}}|{{.Name}}` +
	`{{range .GoFiles}}|{{.}}{{end}}{{range .EmbedFiles}}|{{.}}{{end}}{{"\n"}}{{end}}{{end}}`

// goVersion is the toolchain's version, asked once per synth.
var goVersion = sync.OnceValues(func() ([]byte, error) { return run(goCmd(".", "env", "GOVERSION")) })

// sourceHash hashes what the binary of the main package in entry is built from, and returns the
// package's name (one `go list` answers both: synth runs it once per function).
func sourceHash(root, entry string) (hash, name string, err error) {
	args := append([]string{"list", "-deps", "-f", listFormat}, buildFlags...)
	listed, err := run(goCmd(root, append(args, entry)...))
	if err != nil {
		return "", "", err
	}
	version, err := goVersion()
	if err != nil {
		return "", "", err
	}
	files := []string{filepath.Join(root, "go.mod"), filepath.Join(root, "go.sum")}
	for _, line := range strings.Split(strings.TrimSpace(string(listed)), "\n") {
		parts := strings.Split(line, "|")
		if len(parts) < 2 {
			continue
		}
		// -deps lists a package after everything it imports: the entry comes last.
		name = parts[1]
		for _, f := range parts[2:] {
			files = append(files, filepath.Join(parts[0], f))
		}
	}
	sort.Strings(files)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", strings.TrimSpace(string(version)), strings.Join(buildEnv, " "), strings.Join(buildFlags, " "))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if os.IsNotExist(err) && filepath.Base(f) == "go.sum" {
			continue
		}
		if err != nil {
			return "", "", fmt.Errorf("golambda: hashing sources: %w", err)
		}
		rel, _ := filepath.Rel(root, f)
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), name, nil
}

func compile(root, entry, out string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(out), ".tmp-")
	if err != nil {
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return fmt.Errorf("golambda: %w", err)
		}
		if tmp, err = os.MkdirTemp(filepath.Dir(out), ".tmp-"); err != nil {
			return fmt.Errorf("golambda: %w", err)
		}
	}
	defer os.RemoveAll(tmp)
	args := append([]string{"build"}, buildFlags...)
	args = append(args, "-o", filepath.Join(tmp, "bootstrap"), entry)
	if _, err := run(goCmd(root, args...)); err != nil {
		return err
	}
	// A concurrent synth may have finished the same build first; either copy is identical.
	if err := os.Rename(tmp, out); err != nil {
		if _, statErr := os.Stat(filepath.Join(out, "bootstrap")); statErr != nil {
			return fmt.Errorf("golambda: %w", err)
		}
	}
	return nil
}
