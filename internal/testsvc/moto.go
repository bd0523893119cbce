package testsvc

import (
	_ "embed"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Moto is a running moto server: every AWS API that moto emulates, at Endpoint.
type Moto struct {
	// Endpoint is the base URL, http://127.0.0.1:<port>.
	Endpoint string
	Port     int
}

// Credentials and region that every client of the moto server uses.
const (
	AccessKeyID     = "test"
	SecretAccessKey = "test"
	Region          = "ap-northeast-1"
)

//go:embed moto_server.py
var motoWrapper string

var motoOnce once[*Moto]

// MotoServer returns the moto server of this test binary, starting it on first use.
func MotoServer(t testing.TB) *Moto {
	t.Helper()
	return motoOnce.get(t, "moto_server", StartMoto)
}

// StartMoto starts a moto server on a free loopback port. The server runs through a small wrapper
// that fixes moto 5.2.1's Step Functions executions (see moto_server.py).
func StartMoto() (*Moto, error) {
	if _, err := lookPath("moto_server"); err != nil {
		return nil, err
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		return nil, fmt.Errorf("python3: %w", errMissing)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kpilake-moto-")
	if err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "moto_server.py")
	if err := os.WriteFile(script, []byte(motoWrapper), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(py, script, "-H", "127.0.0.1", "-p", itoa(port))
	// moto's Step Functions engine calls back into the server on MOTO_PORT.
	cmd.Env = append(os.Environ(), "MOTO_PORT="+itoa(port),
		"AWS_ACCESS_KEY_ID="+AccessKeyID, "AWS_SECRET_ACCESS_KEY="+SecretAccessKey, "AWS_DEFAULT_REGION="+Region)
	p, err := start("moto", dir, cmd)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	register(p)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := waitTCP(p, addr, 30*time.Second); err != nil {
		return nil, err
	}
	return &Moto{Endpoint: "http://" + addr, Port: port}, nil
}

// Reset drops every resource in the server.
func (m *Moto) Reset() error {
	return m.post("/moto-api/reset", "")
}

// Post sends a JSON body to one of moto's control endpoints (/moto-api/...).
func (m *Moto) Post(path, body string) error { return m.post(path, body) }

func (m *Moto) post(path, body string) error {
	resp, err := http.Post(m.Endpoint+path, "application/json", strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("moto %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("moto %s: %s", path, resp.Status)
	}
	return nil
}
