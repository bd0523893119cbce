package contract_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/kpilake/kpilake/contract"
)

type valueError struct{}

func (valueError) Error() string { return "value" }

// The name a workflow matches is the one aws-lambda-go reports (its getErrorType): the type's
// name, through one pointer.
func TestErrorName_IsTheTypesName(t *testing.T) {
	for want, err := range map[string]error{
		"InputError": &contract.InputError{Err: errors.New("bad date")},
		"valueError": valueError{},
	} {
		if got := contract.ErrorName(err); got != want {
			t.Errorf("ErrorName(%T) = %q, want %q", err, got, want)
		}
	}
	if contract.InputErrorName != "InputError" {
		t.Errorf("InputErrorName = %q, want InputError", contract.InputErrorName)
	}
	wrapped := fmt.Errorf("plan: %w", &contract.InputError{Err: errors.New("unknown crawler")})
	if !errors.Is(wrapped, contract.ErrBadRequest) {
		t.Error("a wrapped InputError is not ErrBadRequest")
	}
}
