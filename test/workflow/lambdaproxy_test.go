//go:build !unit

package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
)

// lambdaProxy stands where moto's Step Functions interpreter sends its AWS calls
// (http://localhost:$MOTO_PORT). It answers Lambda's Invoke with Go handlers run in-process, as
// the Lambda service would answer them, and forwards every other request to moto.
type lambdaProxy struct {
	port    int
	servers []*http.Server
	forward *httputil.ReverseProxy

	mu        sync.Mutex
	functions map[string]*function
}

// function is one deployed function: how to start an instance (a cold start) and the instances
// that are idle. Like Lambda, it starts another instance when every instance is busy, so that an
// instance handles one invocation at a time.
type function struct {
	timeout time.Duration
	start   func(context.Context) (lambda.Handler, error)

	mu       sync.Mutex
	idle     []lambda.Handler
	payloads [][]byte
}

// invocations returns the payloads the function was invoked with, in order.
func (f *function) invocations() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.payloads...)
}

// newLambdaProxy listens on a free port of localhost, on IPv4 and, where it can, on IPv6 (the
// interpreter's clients may resolve localhost to either).
func newLambdaProxy() (*lambdaProxy, error) {
	p := &lambdaProxy{functions: map[string]*function{}}
	l4, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.port = l4.Addr().(*net.TCPAddr).Port
	listeners := []net.Listener{l4}
	if l6, err := net.Listen("tcp", fmt.Sprintf("[::1]:%d", p.port)); err == nil {
		listeners = append(listeners, l6)
	}
	for _, l := range listeners {
		srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
		p.servers = append(p.servers, srv)
		go func() { _ = srv.Serve(l) }()
	}
	return p, nil
}

// forwardTo sends every request that is not a Lambda invocation to endpoint.
func (p *lambdaProxy) forwardTo(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return err
	}
	p.forward = httputil.NewSingleHostReverseProxy(u)
	return nil
}

func (p *lambdaProxy) close() {
	for _, s := range p.servers {
		_ = s.Close()
	}
}

// register deploys a function under name.
func (p *lambdaProxy) register(name string, timeout time.Duration, start func(context.Context) (lambda.Handler, error)) *function {
	f := &function{timeout: timeout, start: start}
	p.mu.Lock()
	p.functions[name] = f
	p.mu.Unlock()
	return f
}

const invokePrefix, invokeSuffix = "/2015-03-31/functions/", "/invocations"

func (p *lambdaProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if r.Method != http.MethodPost || !strings.HasPrefix(path, invokePrefix) || !strings.HasSuffix(path, invokeSuffix) {
		p.forward.ServeHTTP(w, r)
		return
	}
	name := functionName(strings.TrimSuffix(strings.TrimPrefix(path, invokePrefix), invokeSuffix))
	p.mu.Lock()
	f := p.functions[name]
	p.mu.Unlock()
	if f == nil {
		w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"Type": "User", "message": "Function not found: " + name + " (no handler is registered under this name)",
		})
		return
	}
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, err := f.invoke(r.Context(), payload)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if err != nil {
		// What the Lambda service answers for an error the function returned.
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		out, _ = json.Marshal(functionError(err))
	}
	_, _ = w.Write(out)
}

// functionName is the name in a FunctionName that may be a name, an ARN, or either with a
// qualifier.
func functionName(s string) string {
	if _, rest, ok := strings.Cut(s, ":function:"); ok {
		s = rest
	}
	name, _, _ := strings.Cut(s, ":")
	return name
}

// invoke runs one invocation on an idle instance, or on a new one, within the function's timeout.
func (f *function) invoke(ctx context.Context, payload []byte) ([]byte, error) {
	f.mu.Lock()
	f.payloads = append(f.payloads, payload)
	var h lambda.Handler
	if n := len(f.idle); n > 0 {
		h, f.idle = f.idle[n-1], f.idle[:n-1]
	}
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.timeout)
	defer cancel()
	if h == nil {
		var err error
		if h, err = f.start(ctx); err != nil {
			// The Lambda runtime reports a failed start-up as Runtime.ExitError.
			return nil, messages.InvokeResponse_Error{Type: "Runtime.ExitError", Message: err.Error()}
		}
	}
	out, err := h.Invoke(ctx, payload)
	f.mu.Lock()
	f.idle = append(f.idle, h)
	f.mu.Unlock()
	return out, err
}

// functionError is the body Lambda returns for a handler's error: aws-lambda-go names the error
// after its Go type, without the package and the pointer.
func functionError(err error) map[string]string {
	if ive, ok := err.(messages.InvokeResponse_Error); ok {
		return map[string]string{"errorType": ive.Type, "errorMessage": ive.Message}
	}
	typ := reflect.TypeOf(err)
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	return map[string]string{"errorType": typ.Name(), "errorMessage": err.Error()}
}
