// Command app is the CDK app: `npx cdk synth -c env=prod` runs it (see cdk.json).
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/infra/app"
)

func main() {
	defer jsii.Close()
	a := awscdk.NewApp(nil)
	stacks, err := app.Build(a, app.Options{DefaultAccount: os.Getenv("CDK_DEFAULT_ACCOUNT"), Root: "."})
	if err == nil {
		err = app.Synth(a, stacks)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		jsii.Close()
		os.Exit(1)
	}
}
