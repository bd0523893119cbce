package testsvc

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
	return startMoto(motoOptions{prelude: sdkErrorNames, callbackPort: callbackPort})
}
