// Command reflectmethod calls a method whose name is known only at run time, which turns off the
// linker's dead-method elimination: TestDeadMethodElimination must notice it.
package main

import (
	"context"
	"os"
	"reflect"

	"github.com/aws/aws-lambda-go/lambda"
)

type greeter struct{}

func (greeter) Hello() string { return "hello" }

func main() {
	name := os.Getenv("METHOD")
	lambda.Start(func(context.Context, struct{}) (string, error) {
		return reflect.ValueOf(greeter{}).MethodByName(name).Call(nil)[0].String(), nil
	})
}
