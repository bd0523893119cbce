// Package dbsvc starts database servers (MariaDB, PostgreSQL) on loopback ports, each in a
// temporary directory of its own, with a throwaway TLS CA, and stops them by process: the
// servers that the tests and a local run talk to. It also holds the process supervision that
// other local services share (internal/testsvc's moto server).
//
// Every server it starts is its process's own: a free port stays free only until something
// binds it, so a start whose port another server took first gives way to one on another port
// (OnOwnPort). StopAll stops every server of the process and removes its directory.
package dbsvc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

var (
	mu      sync.Mutex
	running []*Process
)

// Process is one started server process and the directory it owns.
type Process struct {
	name string
	cmd  *exec.Cmd
	dir  string
	done chan struct{}
	// stopSignal stops the process (default SIGTERM).
	stopSignal syscall.Signal
}

// Name is the process's name, as StartProcess was given it.
func (p *Process) Name() string { return p.name }

// Dir is the directory the process owns; Stop removes it.
func (p *Process) Dir() string { return p.dir }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Log is the end of the process's log (its stdout and stderr), for error messages.
func (p *Process) Log() string { return tail(filepath.Join(p.dir, p.name+".log")) }

// StopAll stops every process that Keep was given and removes their directories.
func StopAll() {
	mu.Lock()
	defer mu.Unlock()
	for i := len(running) - 1; i >= 0; i-- {
		running[i].shutdown()
	}
	running = nil
}

// Stop stops the process now, rather than at StopAll, and removes its directory.
func (p *Process) Stop() {
	mu.Lock()
	running = slices.DeleteFunc(running, func(q *Process) bool { return q == p })
	mu.Unlock()
	p.shutdown()
}

func (p *Process) shutdown() {
	p.stopProcess()
	if p.dir != "" {
		_ = os.RemoveAll(p.dir)
	}
}

// stopProcess stops the process and keeps its directory, for another attempt to start in.
func (p *Process) stopProcess() {
	if p.cmd != nil && p.cmd.Process != nil {
		// The whole process group: runuser and the server it started.
		sig := p.stopSignal
		if sig == 0 {
			sig = syscall.SIGTERM
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
}

// Keep registers p for StopAll, once it is known to be a server of its own.
func Keep(p *Process) {
	mu.Lock()
	running = append(running, p)
	mu.Unlock()
}

// StartProcess launches cmd in its own process group, logging to dir/<name>.log.
func StartProcess(name, dir string, cmd *exec.Cmd) (*Process, error) {
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
	p := &Process{name: name, cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portAttempts is how many ports OnOwnPort tries before it gives up.
const portAttempts = 5

// ErrNotOwnPort marks an attempt that lost its port to another server, so that the next attempt
// takes another port.
var ErrNotOwnPort = errors.New("the port is not the server's own")

// OnOwnPort starts a server by calling attempt with a port from pick (nil: FreePort), until an
// attempt returns a server of its own or an error other than ErrNotOwnPort. A free port stays free
// only until something binds it; under `go test ./...` another test binary's server can bind it
// first. Then this process's server cannot bind and exits, and the port answers as the other
// server: attempt must tell so (ErrNotOwnPort) and stop its process, and the next attempt starts
// on another port. It gives up after portAttempts ports.
func OnOwnPort[T any](name string, pick func() (int, error), attempt func(port int) (T, error)) (T, error) {
	if pick == nil {
		pick = FreePort
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
		if !errors.Is(err, ErrNotOwnPort) {
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

// ErrMissing marks a service whose programs are not installed on this machine.
var ErrMissing = errors.New("not installed")

// LookPath finds each program on PATH or in the directories where Debian installs the database
// servers; a missing one is ErrMissing.
func LookPath(names ...string) (map[string]string, error) {
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
			return nil, fmt.Errorf("%s: %w", n, ErrMissing)
		}
		out[n] = p
	}
	return out, nil
}

func itoa(i int) string { return strconv.Itoa(i) }
