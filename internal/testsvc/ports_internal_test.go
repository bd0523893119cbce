package testsvc

import (
	"net"
	"sync/atomic"
	"testing"

	"github.com/kpilake/kpilake/local/dbsvc"
)

// takenFirst is a port picker for a start under test: it offers taken first, then free ports. It
// returns the ports it offered, in order.
func takenFirst(taken int) (pick func() (int, error), offered func() []int) {
	var ports []int
	return func() (int, error) {
		port := taken
		if len(ports) > 0 {
			var err error
			if port, err = dbsvc.FreePort(); err != nil {
				return 0, err
			}
		}
		ports = append(ports, port)
		return port, nil
	}, func() []int { return ports }
}

// checkOffers checks that a start tried the taken port first and returned the last one it tried.
// A fresh port can itself be taken by another test binary's server in between: only the first
// and the last offers are certain.
func checkOffers(t *testing.T, offered []int, taken, returned int) {
	t.Helper()
	if returned == taken {
		t.Fatalf("the start returned the server that held port %d before it (ports offered: %v)", taken, offered)
	}
	if len(offered) < 2 || offered[0] != taken || offered[len(offered)-1] != returned {
		t.Errorf("ports offered %v, want %d first and the returned %d last", offered, taken, returned)
	}
}

// mute holds a loopback port with something that accepts connections and closes them without a
// word: no protocol at all. asked reports whether anything connected.
func mute(t *testing.T) (port int, asked func() bool) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var connected atomic.Bool
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			connected.Store(true)
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port, connected.Load
}
