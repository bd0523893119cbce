// Package contract holds what kpilake's constructs, Lambdas and CLI must agree on and that is
// not the lake's storage layout (package layout): the environment variables through which a
// construct configures its function (env.go), and the errors a state machine tells apart by the
// name Lambda reports. It imports no CDK and no AWS SDK, so that every side can import it.
package contract

import (
	"errors"
	"reflect"
)

// ErrBadRequest marks failures that no retry can fix; errors.Is(err, ErrBadRequest) holds for
// every InputError.
var ErrBadRequest = errors.New("bad request")

// InputError is a request that no retry can fix: a malformed or unknown input (a bad date, an
// unknown KPI or table, a spec that does not match the database). Lambda reports it as
// InputErrorName, on which the workflows fail at once instead of retrying.
type InputError struct{ Err error }

func (e *InputError) Error() string        { return e.Err.Error() }
func (e *InputError) Unwrap() error        { return e.Err }
func (e *InputError) Is(target error) bool { return target == ErrBadRequest }

// InputErrorName is the error type Lambda reports for an InputError: the name a state machine's
// Retry and Catch rules match.
var InputErrorName = ErrorName(&InputError{})

// ErrorName is the error type Lambda reports for err, as aws-lambda-go names it: the name of
// err's type, through one pointer. A state machine's rules name error types with it, so that the
// name is taken from the Go type rather than written twice.
func ErrorName(err error) string {
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}
