// Command minimal is the cold-start baseline: the smallest Go Lambda, aws-lambda-go and nothing
// else, answering {} with {}.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, struct{}) (struct{}, error) { return struct{}{}, nil })
}
