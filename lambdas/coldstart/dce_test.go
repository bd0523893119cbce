//go:build !unit

package coldstart

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kpilake/kpilake/infra/golambda"
)

// TestDeadMethodElimination links every function as golambda does and fails when the linker
// cannot drop unused methods. That happens as soon as one reachable function calls a method by a
// name known only at run time (reflect's Method or MethodByName): the linker then keeps every
// exported method of every type stored in an interface, the whole AWS SDK clients included.
// protobuf before v1.36.12 did it under Go 1.26 (a MethodByName("Methods") kept reflect's new
// Methods iterator) and made extract 3.4 MB larger zipped; the benchmark only shows the size,
// this test names the cause.
func TestDeadMethodElimination(t *testing.T) {
	if testing.Short() {
		t.Skip("links every function for arm64 (about 10 s); make test runs it")
	}
	root := moduleRoot(t)
	checkEveryFunctionIsMeasured(t, root)
	cases := []struct {
		pkg  string
		want bool // whether a reflect-method call is expected
	}{
		{pkg: "lambdas/coldstart/testdata/reflectmethod", want: true},
	}
	for _, fn := range functions {
		cases = append(cases, struct {
			pkg  string
			want bool
		}{pkg: fn.pkg})
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.pkg), func(t *testing.T) {
			chain := reflectMethodChain(t, linkDump(t, root, c.pkg))
			switch {
			case c.want && !slices.Contains(chain, "main.main"):
				t.Fatalf("want a <ReflectMethod> symbol reached from main.main, got %q: the check is broken", chain)
			case !c.want && chain != nil:
				t.Fatalf("dead-method elimination is off: %s is reachable through\n\t%s\n"+
					"Call methods by constant names (or not through reflect), or upgrade the module on this path.",
					chain[0], strings.Join(chain[1:], "\n\t"))
			}
		})
	}
}

// linkDump builds pkg for arm64 with the linker's -dumpdep and returns the dump.
func linkDump(t *testing.T, root, pkg string) io.Reader {
	t.Helper()
	env, flags := golambda.BuildArgs("arm64")
	args := []string{"build"}
	for _, f := range flags {
		if strings.HasPrefix(f, "-ldflags=") {
			f += " -dumpdep"
		}
		args = append(args, f)
	}
	dump := filepath.Join(t.TempDir(), "dump")
	out, err := os.Create(dump)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command("go", append(args, "-o", filepath.Join(t.TempDir(), "bootstrap"), "./"+pkg)...)
	cmd.Dir, cmd.Env, cmd.Stderr = root, append(os.Environ(), env...), out
	if err := cmd.Run(); err != nil {
		msg, _ := os.ReadFile(dump)
		t.Fatalf("go build -ldflags=-dumpdep %s: %v\n%s", pkg, err, tail(string(msg), 2000))
	}
	f, err := os.Open(dump)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return bufio.NewReaderSize(f, 1<<20)
}

// reflectMethodChain reads a linker dependency dump (lines "from -> to", a symbol marked
// " <ReflectMethod>" when it calls a method by a run-time name) and returns the first such symbol
// and the path the linker reached it by, back to the entry point; nil when there is none.
//
// When that path enters a method from its type (type:T -> T.M), the linker kept M because some
// code names it: a constant MethodByName("M") keeps every method M. The functions that hold the
// string "M" are then appended, as "named by F", because they, not the path, are the cause.
func reflectMethodChain(t *testing.T, dump io.Reader) []string {
	t.Helper()
	const mark = "<ReflectMethod>" // after the name, with or without other marks before it
	parent := map[string]string{}
	users := map[string][]string{} // go:string."X" -> the functions that hold it
	var found string
	sc := bufio.NewScanner(dump)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	for sc.Scan() {
		from, to, ok := strings.Cut(sc.Text(), " -> ")
		if !ok {
			continue
		}
		for _, s := range []*string{&from, &to} {
			if strings.Contains(*s, mark) && found == "" {
				found = clean(*s)
			}
			*s = clean(*s)
		}
		if _, seen := parent[to]; !seen {
			parent[to] = from
		}
		if strings.HasPrefix(to, `go:string."`) && len(users[to]) < 5 {
			users[to] = append(users[to], from)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if found == "" {
		return nil
	}
	chain := []string{found}
	for n, ok := parent[found]; ok && n != "" && len(chain) < 40; n, ok = parent[n] {
		if n == chain[len(chain)-1] {
			break
		}
		chain = append(chain, n)
	}
	for i := 1; i+1 < len(chain); i++ {
		if strings.HasPrefix(chain[i+1], "type:") {
			name := chain[i][strings.LastIndex(chain[i], ".")+1:]
			for _, u := range users[`go:string."`+name+`"`] {
				chain = append(chain, "named by "+u)
			}
			break
		}
	}
	return chain
}

// clean drops the linker's attribute marks from a symbol name.
func clean(s string) string {
	for _, m := range []string{"<ReflectMethod>", "<UsedInIface>"} {
		s = strings.ReplaceAll(s, m, "")
	}
	return strings.TrimSpace(s)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
