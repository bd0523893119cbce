package testsvc

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"

	"github.com/kpilake/kpilake/local/dbsvc"
)

// TestStartMoto_RetriesWhenAnotherServerHoldsItsPort offers startMoto, first, a port that another
// server holds, as when another test binary's moto binds the free port first: startMoto must not
// return that server, but its own on a port of a later attempt.
func TestStartMoto_RetriesWhenAnotherServerHoldsItsPort(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short (make test-unit) starts no moto server; make test runs this test")
	}
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
		"not HTTP": mute,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			taken, asked := listen(t)
			pick, offered := takenFirst(taken)
			m, err := startMoto(motoOptions{port: pick})
			if errors.Is(err, dbsvc.ErrMissing) && os.Getenv("CI") == "" {
				t.Skipf("moto is not available on this machine (%v)", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.proc.Stop() })
			checkOffers(t, offered(), taken, m.Port)
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
