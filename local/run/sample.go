package run

import (
	"encoding/json"
	"fmt"

	"github.com/kpilake/kpilake/infra/config"
)

// sampleConfig is the environment a local run uses outside a project (no cdk.json): the sample's
// source and log stream as the dev environment of the project's cdk.json configures them. The ARN
// and network ids are placeholders that a local run never uses.
const sampleConfig = `{
  "environments": {
    "sample": {
      "region": "ap-northeast-1",
      "timeZone": "Asia/Tokyo",
      "removalPolicy": "destroy",
      "sources": [{
        "name": "social", "engine": "mysql", "database": "social", "storedTimeZone": "UTC",
        "secretArn": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:kpilake/sample-AbCdEf",
        "schedule": "cron(30 1 * * ? *)",
        "subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"],
        "tables": [
          {"name": "departments"},
          {"name": "users", "exclude": ["email"], "hash": ["employee_code"]},
          {"name": "posts", "mode": "incremental", "timestampColumn": "updated_at"},
          {"name": "comments", "mode": "incremental", "timestampColumn": "updated_at"},
          {"name": "reactions", "mode": "incremental", "timestampColumn": "updated_at"}
        ]
      }],
      "logStreams": [{"name": "web_access"}]
    }
  }
}`

// SampleEnvironment is the environment of the sample (source social, log stream web_access,
// Asia/Tokyo), for a local run outside a project.
func SampleEnvironment() (*config.Environment, error) {
	var v any
	if err := json.Unmarshal([]byte(sampleConfig), &v); err != nil {
		return nil, fmt.Errorf("the sample environment: %w", err)
	}
	cfg, err := config.Parse(v)
	if err != nil {
		return nil, fmt.Errorf("the sample environment: %w", err)
	}
	envs, err := cfg.Select("sample")
	if err != nil {
		return nil, fmt.Errorf("the sample environment: %w", err)
	}
	return envs[0], nil
}
