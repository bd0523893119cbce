package testsvc

import (
	"crypto/rand"
	_ "embed"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kpilake/kpilake/local/dbsvc"
)

// Moto is a running moto server: every AWS API that moto emulates, at Endpoint.
type Moto struct {
	// Endpoint is the base URL, http://127.0.0.1:<port>.
	Endpoint string
	Port     int

	proc *dbsvc.Process
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
// that fixes moto 5.2.1's Step Functions executions (see moto_server.py). The returned server is
// this process's own: another test binary's server, which may take the free port first, is never
// returned.
func StartMoto() (*Moto, error) {
	return startMoto(motoOptions{})
}

// AWSConfig returns the configuration of an AWS client of the server: its endpoint, the test
// credentials and Region. An S3 client also needs path-style addressing: pass S3PathStyle to
// s3.NewFromConfig.
func (m *Moto) AWSConfig() aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(m.Endpoint),
	}
}

// S3PathStyle makes an S3 client address buckets in the path, as the moto server needs (a
// bucket's host name would be <bucket>.127.0.0.1).
func S3PathStyle(o *s3.Options) { o.UsePathStyle = true }

// Reset drops every resource in the server.
func (m *Moto) Reset() error {
	return m.post("/moto-api/reset", "")
}

// SetTransition sets how the server moves the resources of one model through their states, such
// as Athena's query executions ("athena::execution") or Glue's crawls ("glue::crawl"). transition
// is moto's JSON: {"progression":"immediate"}, {"progression":"manual","times":1} (one state a
// describe call) or {"progression":"time","seconds":2}.
func (m *Moto) SetTransition(model, transition string) error {
	return m.post("/moto-api/state-manager/set-transition", fmt.Sprintf(`{"model_name":%q,"transition":%s}`, model, transition))
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

// motoOptions vary the server that startMoto starts.
type motoOptions struct {
	// prelude is Python that runs before the wrapper, to patch moto further.
	prelude string
	// callbackPort, if not zero, is the port that the Step Functions interpreter calls; zero:
	// the server's own.
	callbackPort int
	// port picks the port of each attempt; nil: dbsvc.FreePort. Tests offer a taken port through it.
	port func() (int, error)
}

// startMoto starts a moto server and returns it once it has answered, on its port, the token
// that this process gave it; an attempt whose port answers anything else (another test binary's
// server took the port first) gives way to one on another port (see onOwnPort).
func startMoto(opts motoOptions) (*Moto, error) {
	if _, err := dbsvc.LookPath("moto_server"); err != nil {
		return nil, err
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		return nil, fmt.Errorf("python3: %w", dbsvc.ErrMissing)
	}
	return dbsvc.OnOwnPort("moto", opts.port, func(port int) (*Moto, error) { return startMotoOn(py, port, opts) })
}

// startMotoOn makes one attempt of startMoto, on port.
func startMotoOn(py string, port int, opts motoOptions) (*Moto, error) {
	token := rand.Text()
	dir, err := os.MkdirTemp("", "kpilake-moto-")
	if err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "moto_server.py")
	if err := os.WriteFile(script, []byte(opts.prelude+motoWrapper), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	callback := opts.callbackPort
	if callback == 0 {
		callback = port
	}
	cmd := exec.Command(py, script, "-H", "127.0.0.1", "-p", itoa(port))
	// moto's Step Functions engine calls back on MOTO_PORT.
	cmd.Env = append(os.Environ(), "MOTO_PORT="+itoa(callback), "KPILAKE_MOTO_ID="+token,
		"AWS_ACCESS_KEY_ID="+AccessKeyID, "AWS_SECRET_ACCESS_KEY="+SecretAccessKey, "AWS_DEFAULT_REGION="+Region)
	p, err := dbsvc.StartProcess("moto", dir, cmd)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitOwn(p, endpoint, token, 30*time.Second); err != nil {
		p.Stop()
		return nil, err
	}
	dbsvc.Keep(p)
	return &Moto{Endpoint: endpoint, Port: port, proc: p}, nil
}

// waitOwn waits until endpoint answers GET /kpilake-id with token (see moto_server.py). It fails
// with errNotOwnPort as soon as something else answers there, or when the process exits (it
// could not bind), and with another error if nothing answers within timeout.
func waitOwn(p *dbsvc.Process, endpoint, token string, timeout time.Duration) error {
	client := &http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.Done():
			return fmt.Errorf("%s on %s exited while starting (was the port taken?): %w; log:\n%s", p.Name(), endpoint, dbsvc.ErrNotOwnPort,
				p.Log())
		default:
		}
		resp, err := client.Get(endpoint + "/kpilake-id")
		if err != nil {
			// Nothing listens yet, or something that does not speak HTTP does: this process
			// binds soon, or exits because it cannot.
			time.Sleep(50 * time.Millisecond)
			continue
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		if err == nil && resp.StatusCode == http.StatusOK && string(body) == token {
			return nil
		}
		return fmt.Errorf("%s answers GET /kpilake-id with %s %.40q, not this server's token: %w",
			endpoint, resp.Status, body, dbsvc.ErrNotOwnPort)
	}
	return fmt.Errorf("%s did not answer on %s within %s; log:\n%s", p.Name(), endpoint, timeout, p.Log())
}
