// Package testsvc starts the real services that tests talk to — MariaDB, PostgreSQL and moto's
// AWS server — on loopback ports, once per test binary, and stops them by process when the binary
// ends. A test that needs a service that cannot exist on this machine is skipped with the reason;
// under CI (CI set) it fails instead, because CI installs every service.
//
// Use it from a package's TestMain:
//
//	func TestMain(m *testing.M) { testsvc.Main(m) }
package testsvc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Main runs the tests, then stops every service they started.
func Main(m *testing.M) {
	code := m.Run()
	StopAll()
	os.Exit(code)
}

var (
	mu      sync.Mutex
	running []*proc
)

// proc is one started server process and the directory it owns.
type proc struct {
	name string
	cmd  *exec.Cmd
	dir  string
	stop func() error // graceful stop, if the server has one
	done chan struct{}
}

// StopAll stops every service started by this process and removes their directories.
func StopAll() {
	mu.Lock()
	defer mu.Unlock()
	for i := len(running) - 1; i >= 0; i-- {
		running[i].shutdown()
	}
	running = nil
}

func (p *proc) shutdown() {
	p.stopProcess()
	if p.dir != "" {
		_ = os.RemoveAll(p.dir)
	}
}

// stopProcess stops the process and keeps its directory, for another attempt to start in.
func (p *proc) stopProcess() {
	if p.stop != nil {
		_ = p.stop()
	}
	if p.cmd != nil && p.cmd.Process != nil {
		// The whole process group: runuser and the server it started.
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
}

func register(p *proc) {
	mu.Lock()
	running = append(running, p)
	mu.Unlock()
}

// start launches cmd in its own process group, logging to dir/<name>.log.
func start(name, dir string, cmd *exec.Cmd) (*proc, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portAttempts is how many ports onOwnPort tries before it gives up.
const portAttempts = 5

// errNotOwnPort marks an attempt that lost its port to another server, so that the next attempt
// takes another port.
var errNotOwnPort = errors.New("the port is not the server's own")

// onOwnPort starts a server by calling attempt with a port from pick (nil: freePort), until an
// attempt returns a server of its own or an error other than errNotOwnPort. A free port stays free
// only until something binds it; under `go test ./...` another test binary's server can bind it
// first. Then this process's server cannot bind and exits, and the port answers as the other
// server: attempt must tell so (errNotOwnPort) and stop its process, and the next attempt starts
// on another port. It gives up after portAttempts ports.
func onOwnPort[T any](name string, pick func() (int, error), attempt func(port int) (T, error)) (T, error) {
	if pick == nil {
		pick = freePort
	}
	var (
		zero T
		lost []error
	)
	for range portAttempts {
		port, err := pick()
		if err != nil {
			return zero, err
		}
		v, err := attempt(port)
		if !errors.Is(err, errNotOwnPort) {
			return v, err
		}
		lost = append(lost, err)
	}
	return zero, fmt.Errorf("%s: gave up after %d ports:\n%w", name, portAttempts, errors.Join(lost...))
}

func tail(path string) string {
	data, _ := os.ReadFile(path)
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// errMissing marks a service whose programs are not installed.
var errMissing = errors.New("not installed")

func lookPath(names ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			for _, dir := range []string{"/usr/sbin", "/usr/lib/postgresql/15/bin", "/usr/local/bin"} {
				if _, serr := os.Stat(filepath.Join(dir, n)); serr == nil {
					p, err = filepath.Join(dir, n), nil
					break
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, errMissing)
		}
		out[n] = p
	}
	return out, nil
}

// once starts a service at most once per process and remembers the outcome.
type once[T any] struct {
	sync.Once
	v   T
	err error
}

func (o *once[T]) get(t testing.TB, what string, startFn func() (T, error)) T {
	t.Helper()
	o.Do(func() { o.v, o.err = startFn() })
	if o.err != nil {
		if errors.Is(o.err, errMissing) && os.Getenv("CI") == "" {
			t.Skipf("%s is not available on this machine (%v); `.ci/run` installs it", what, o.err)
		}
		t.Fatalf("%s: %v", what, o.err)
	}
	return o.v
}

func itoa(i int) string { return strconv.Itoa(i) }
