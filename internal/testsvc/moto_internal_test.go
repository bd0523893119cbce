package testsvc

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync/atomic"
	"testing"
)

// TestStartMoto_RetriesWhenAnotherServerHoldsItsPort offers startMoto, first, a port that another
// server holds, as when another test binary's moto binds the free port first: startMoto must not
// return that server, but its own on a port of a later attempt.
func TestStartMoto_RetriesWhenAnotherServerHoldsItsPort(t *testing.T) {
	for name, listen := range map[string]func(t *testing.T) (port int, asked func() bool){
		// Another test binary's moto: it answers the route, with its own token.
		"another moto": func(t *testing.T) (int, func() bool) {
			var asked atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/kpilake-id" {
					asked.Store(true)
				}
				io.WriteString(w, "AAAAAAAAAAAAAAAAAAAAAAAAAA")
			}))
			t.Cleanup(srv.Close)
			return srv.Listener.Addr().(*net.TCPAddr).Port, asked.Load
		},
		// Something that accepts connections but does not speak HTTP.
		"not HTTP": func(t *testing.T) (int, func() bool) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			var asked atomic.Bool
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					asked.Store(true)
					c.Close()
				}
			}()
			return l.Addr().(*net.TCPAddr).Port, asked.Load
		},
	} {
		t.Run(name, func(t *testing.T) {
			taken, asked := listen(t)
			var offered []int
			m, err := startMoto(motoOptions{port: func() (int, error) {
				port := taken
				if len(offered) > 0 {
					var err error
					if port, err = freePort(); err != nil {
						return 0, err
					}
				}
				offered = append(offered, port)
				return port, nil
			}})
			if errors.Is(err, errMissing) && os.Getenv("CI") == "" {
				t.Skipf("moto is not available on this machine (%v)", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { stop(m.proc) })
			if m.Port == taken {
				t.Fatalf("startMoto returned the server that held port %d before it (ports offered: %v)", taken, offered)
			}
			// A fresh port can itself be taken by another test binary's server in between: only the
			// first (taken) and the last (returned) offers are certain.
			if len(offered) < 2 || offered[0] != taken || offered[len(offered)-1] != m.Port {
				t.Errorf("ports offered %v, want %d first and the returned %d last", offered, taken, m.Port)
			}
			if !asked() {
				t.Errorf("startMoto never asked the server on port %d who it is", taken)
			}
			resp, err := http.Get(m.Endpoint + "/moto-api/data.json")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s/moto-api/data.json: %s, want moto's 200", m.Endpoint, resp.Status)
			}
		})
	}
}

// stop stops p before StopAll would.
func stop(p *proc) {
	mu.Lock()
	running = slices.DeleteFunc(running, func(q *proc) bool { return q == p })
	mu.Unlock()
	p.shutdown()
}
