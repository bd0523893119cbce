package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/spf13/pflag"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/infra/config"
)

// environment is what the CLI needs of an environment's configuration.
type environment struct {
	Name     string
	Region   string
	MaxDays  int
	Location *time.Location
	// Config is the cdk.json read; "" when none was found and defaults apply.
	Config string
}

// loadEnvironment reads env's settings from the cdk.json at path, or, with no path, from the
// first cdk.json in dir or a parent; without one, it returns only the name (Config "").
func loadEnvironment(path, dir, env string) (environment, error) {
	if env == "" {
		return environment{}, usageError(errors.New("--env is required: the environment to operate, such as dev or prod"))
	}
	if path == "" {
		path = findConfig(dir)
		if path == "" {
			return environment{Name: env}, nil
		}
	}
	cfg, err := readConfig(path)
	if err != nil {
		return environment{}, usageError(err)
	}
	envs, err := cfg.Select(env)
	if err != nil {
		return environment{}, usageError(fmt.Errorf("--env: %w", err))
	}
	e := envs[0]
	return environment{Name: env, Region: e.Region, MaxDays: e.Backfill.MaxDays, Location: e.Location, Config: path}, nil
}

// readConfig reads the kpilake configuration of the cdk.json at path.
func readConfig(path string) (*config.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	var doc struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: not valid JSON: %w", path, err)
	}
	cfg, err := config.Parse(doc.Context[config.ContextKey])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// environmentNames lists the environments of the cdk.json at path (or found from dir), for
// shell completion; nil if there is none.
func environmentNames(path, dir string) []string {
	if path == "" {
		path = findConfig(dir)
	}
	cfg, err := readConfig(path)
	if err != nil {
		return nil
	}
	return cfg.Names()
}

// environment loads env's settings as loadEnvironment does, and says when no cdk.json was
// found, so that the operator knows that the SDK's region applies.
func (a *App) environment(path, env string) (environment, error) {
	e, err := loadEnvironment(path, a.Dir, env)
	if err == nil && e.Config == "" {
		fmt.Fprintln(a.Err, "kpilake: no cdk.json here or in a parent directory (give --config): using the SDK's region")
	}
	return e, err
}

// limits are what a backfill plan must know of an environment besides its name: the longest
// request (backfill.maxDays) and the business time zone (which days are past). They come from
// cdk.json; outside the project the operator gives them, or nothing is planned.
type limits struct {
	maxDays  int
	timeZone string
}

func (l *limits) add(fs *pflag.FlagSet) {
	fs.IntVar(&l.maxDays, "max-days", 0, "without a cdk.json: the environment's backfill.maxDays, the longest request")
	fs.StringVar(&l.timeZone, "time-zone", "", "without a cdk.json: the environment's business time zone (IANA), such as Asia/Tokyo")
}

// limitedEnvironment loads env's settings like environment and makes sure its limits are known:
// from cdk.json, or else from --max-days and --time-zone. It never falls back to defaults, which
// would let a request past the environment's backfill.maxDays through.
func (a *App) limitedEnvironment(path, env string, l limits) (environment, error) {
	e, err := loadEnvironment(path, a.Dir, env)
	if err != nil {
		return e, err
	}
	given := l.maxDays != 0 || l.timeZone != ""
	if e.Config != "" {
		if given {
			return environment{}, usageError(fmt.Errorf("--max-days and --time-zone are for use without a cdk.json; %s sets environment %s's limits (backfill.maxDays %d, timeZone %s): remove the flags",
				e.Config, e.Name, e.MaxDays, e.Location))
		}
		return e, nil
	}
	if l.maxDays == 0 || l.timeZone == "" {
		return environment{}, usageError(errors.New("no cdk.json here or in a parent directory, so environment " + env +
			"'s limits are unknown: run in the project, give --config <the project's cdk.json>, or give --max-days N and --time-zone ZONE as its cdk.json sets them"))
	}
	var problems []error
	if l.maxDays < 1 {
		problems = append(problems, fmt.Errorf("--max-days %d: give the environment's backfill.maxDays, at least 1", l.maxDays))
	}
	loc, zerr := time.LoadLocation(l.timeZone)
	if zerr != nil || l.timeZone == "Local" {
		problems = append(problems, fmt.Errorf("--time-zone: %q is not an IANA time zone; give the environment's timeZone, such as Asia/Tokyo", l.timeZone))
	}
	if err := errors.Join(problems...); err != nil {
		return environment{}, usageError(err)
	}
	fmt.Fprintln(a.Err, "kpilake: no cdk.json here or in a parent directory: using --max-days, --time-zone and the SDK's region")
	e.MaxDays, e.Location = l.maxDays, loc
	return e, nil
}

// findConfig returns the first cdk.json in dir or its parents, or "".
func findConfig(dir string) string {
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return ""
		}
		dir = wd
	}
	for {
		p := filepath.Join(dir, "cdk.json")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// locator finds an environment's resources: from flags first, else from the deployed stack's
// outputs, read once.
type locator struct {
	app     *App
	env     environment
	stack   string
	region  string
	clients *Clients
	outputs map[string]string
}

func (a *App) locate(env environment, stack, region string) *locator {
	if stack == "" {
		stack = contract.StackName(env.Name)
	}
	if region == "" {
		region = env.Region
	}
	return &locator{app: a, env: env, stack: stack, region: region}
}

// aws returns the region's clients, built once.
func (l *locator) aws(ctx context.Context) (*Clients, error) {
	if l.clients == nil {
		c, err := l.app.AWS(ctx, l.region)
		if err != nil {
			return nil, err
		}
		l.clients = c
		l.region = c.Region
	}
	return l.clients, nil
}

// resolve returns flagValue if given, else the stack output name.
func (l *locator) resolve(ctx context.Context, name, flagValue, flag string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if l.outputs == nil {
		c, err := l.aws(ctx)
		if err != nil {
			return "", err
		}
		out, err := c.CloudFormation.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(l.stack)})
		if err != nil {
			return "", awsError(fmt.Errorf("read the outputs of stack %s in %s (deploy it with `make deploy ENV=%s`, or give %s): %w",
				l.stack, l.region, l.env.Name, flag, err))
		}
		if len(out.Stacks) == 0 {
			return "", awsError(fmt.Errorf("stack %s not found in %s; deploy it with `make deploy ENV=%s`, or give %s", l.stack, l.region, l.env.Name, flag))
		}
		l.outputs = map[string]string{}
		for _, o := range out.Stacks[0].Outputs {
			l.outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
		}
	}
	v, ok := l.outputs[name]
	if !ok || v == "" {
		return "", awsError(fmt.Errorf("stack %s in %s has no output %s (deployed from an older version?); deploy the current one with `make deploy ENV=%s`, or give %s",
			l.stack, l.region, name, l.env.Name, flag))
	}
	return v, nil
}
