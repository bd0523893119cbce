package testsvc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// sdkErrorNames makes moto name the errors of aws-sdk integrations as Step Functions does:
// "<Service>.<Exception>" with the service in PascalCase (Glue.CrawlerRunningException), where
// moto 5.2.1 keeps the lower-case name of the resource ARN (glue.CrawlerRunningException) for
// every service but DynamoDB and SFN, so that a Retry or Catch on the AWS name never matches.
const sdkErrorNames = `
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk as _sdk,
)

_moto_error_service_name = _sdk.StateTaskServiceAwsSdk._normalise_service_error_name


def _error_service_name(service_name):
    if service_name.lower() in _sdk._SERVICE_ERROR_NAMES:
        return _moto_error_service_name(service_name)
    return service_name[:1].upper() + service_name[1:]


_sdk.StateTaskServiceAwsSdk._normalise_service_error_name = staticmethod(_error_service_name)
`

// StartMotoWithCallbackPort starts a moto server of its own (not the one MotoServer shares) on a
// free loopback port, whose Step Functions interpreter makes its AWS calls (Lambda invocations,
// service integrations) to http://localhost:<callbackPort> instead of to itself. Put a proxy on
// callbackPort that answers the Lambda invocations with in-process handlers and forwards the
// rest to the returned server. Besides the fix of StartMoto, the server names aws-sdk
// integration errors as AWS does (see sdkErrorNames). StopAll stops it.
func StartMotoWithCallbackPort(callbackPort int) (*Moto, error) {
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
	if err := os.WriteFile(script, []byte(sdkErrorNames+motoWrapper), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(py, script, "-H", "127.0.0.1", "-p", itoa(port))
	cmd.Env = append(os.Environ(), "MOTO_PORT="+itoa(callbackPort),
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
