// Package catalog defines the lake's Glue Data Catalog database, its crawlers and the Athena
// workgroups that query it.
package catalog

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsathena"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsglue"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/infra/lake"
	"github.com/kpilake/kpilake/infra/logkey"
	"github.com/kpilake/kpilake/layout"
)

// EngineVersion is the Athena engine the workgroups pin.
const EngineVersion = "Athena engine version 3"

// DefaultBytesScannedCutoffPerQuery cancels a query that would scan more than 100 GiB.
const DefaultBytesScannedCutoffPerQuery = 100 << 30

// minBytesScannedCutoff is the lowest per-query data usage control Athena accepts (10 MB).
const minBytesScannedCutoff = 10_000_000

// CatalogProps configures a Catalog.
type CatalogProps struct {
	// Lake whose zones are catalogued and queried. Required.
	Lake *lake.Lake
	// BytesScannedCutoffPerQuery cancels any query of either workgroup that scans more; at least
	// 10 MB.
	// Default: DefaultBytesScannedCutoffPerQuery (100 GiB).
	BytesScannedCutoffPerQuery int64
	// RemovalPolicy applies to the database, the workgroups (with their saved queries and
	// history) and the crawler log groups. Default: awscdk.RemovalPolicy_RETAIN.
	RemovalPolicy awscdk.RemovalPolicy
	// LogRetention is how long crawler logs are kept. Default: awslogs.RetentionDays_THREE_MONTHS.
	LogRetention awslogs.RetentionDays
	// LogKey encrypts the crawlers' CloudWatch logs; give the stack's logs key (logkey.New), whose
	// policy lets CloudWatch Logs of the region use it. Default: a new logs key (logkey.New).
	LogKey awskms.IKey
}

func (p *CatalogProps) validate() error {
	var errs []error
	if p.Lake == nil {
		errs = append(errs, errors.New("Lake is required; pass the *lake.Lake to catalogue"))
	}
	switch p.RemovalPolicy {
	case "", awscdk.RemovalPolicy_RETAIN, awscdk.RemovalPolicy_DESTROY:
	default:
		errs = append(errs, fmt.Errorf("RemovalPolicy %q is not supported; use RemovalPolicy_RETAIN or RemovalPolicy_DESTROY", p.RemovalPolicy))
	}
	if p.BytesScannedCutoffPerQuery != 0 && p.BytesScannedCutoffPerQuery < minBytesScannedCutoff {
		errs = append(errs, fmt.Errorf("BytesScannedCutoffPerQuery is %d; Athena needs at least %d (10 MB), or 0 for the default",
			p.BytesScannedCutoffPerQuery, minBytesScannedCutoff))
	}
	return errors.Join(errs...)
}

// Catalog is the Glue database of the lake, the security configuration its crawlers run with, and
// the Athena workgroups that query it.
type Catalog struct {
	constructs.Construct
	Lake *lake.Lake
	// Database holds the raw tables (created by crawlers) and the KPI tables.
	Database awsglue.CfnDatabase
	// DatabaseName is the database's name, derived from the construct path.
	DatabaseName string
	// SecurityConfiguration encrypts crawler logs with LogKey (and anything a crawler would
	// write to S3 or a job bookmark with the raw zone's key: crawlers read only the raw zone).
	SecurityConfiguration awsglue.CfnSecurityConfiguration
	// Workgroup runs analysts' and operators' queries: engine v3, the bytes-scanned cutoff and
	// encrypted results, all enforced (a client cannot override them).
	Workgroup awsathena.CfnWorkGroup
	// WorkgroupName is the workgroup's name, derived from the construct path.
	WorkgroupName string
	// AggregationWorkgroup runs the aggregation functions' CTAS queries. It does not enforce its
	// settings, because Athena fails a CTAS that sets external_location in a workgroup that
	// enforces its query-results location, and every KPI run writes into a run prefix of its
	// own. Its defaults are Workgroup's (engine v3, cutoff, metrics, results encrypted with the
	// derived zones' key, lake.Lake.Key); the runner also sends the results settings with each query (lambdas/ctas), and
	// only the aggregation functions may use it (aggregate.GrantAggregate).
	AggregationWorkgroup awsathena.CfnWorkGroup
	// AggregationWorkgroupName is AggregationWorkgroup's name, derived from the construct path.
	AggregationWorkgroupName string
	// LogKey encrypts the crawlers' log groups (CatalogProps.LogKey).
	LogKey awskms.IKey
	// ResultsLocation is where both workgroups write query results by default:
	// s3://<query-results bucket>/athena/.
	ResultsLocation *string

	removal      awscdk.RemovalPolicy
	logRetention awslogs.RetentionDays
}

// NewCatalog creates the database, the crawlers' security configuration and the workgroup.
func NewCatalog(scope constructs.Construct, id string, props *CatalogProps) *Catalog {
	if props == nil {
		props = &CatalogProps{}
	}
	if err := props.validate(); err != nil {
		panic(fmt.Errorf("catalog.NewCatalog %q: %w", id, err))
	}
	p := *props
	if p.BytesScannedCutoffPerQuery == 0 {
		p.BytesScannedCutoffPerQuery = DefaultBytesScannedCutoffPerQuery
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_THREE_MONTHS
	}
	c := &Catalog{
		Construct:    constructs.NewConstruct(scope, &id),
		Lake:         p.Lake,
		removal:      p.RemovalPolicy,
		logRetention: p.LogRetention,
	}
	stack := awscdk.Stack_Of(c.Construct)

	// Glue and Athena need names; derive them from the construct path so that two stacks (or
	// environments) in one account never collide and nothing is hard-coded.
	c.DatabaseName = strings.ToLower(*awscdk.Names_UniqueResourceName(c.Construct, &awscdk.UniqueResourceNameOptions{
		MaxLength: jsii.Number(64), Separator: jsii.String("_"),
	}))
	c.Database = awsglue.NewCfnDatabase(c.Construct, jsii.String("Database"), &awsglue.CfnDatabaseProps{
		CatalogId: stack.Account(),
		DatabaseInput: &awsglue.CfnDatabase_DatabaseInputProperty{
			Name:        jsii.String(c.DatabaseName),
			Description: jsii.String("kpilake: raw source tables and KPI aggregates"),
		},
	})

	// Retaining the database keeps the tables and the KPI partition pointers when the stack goes.
	c.Database.ApplyRemovalPolicy(p.RemovalPolicy, nil)

	c.LogKey = p.LogKey
	if c.LogKey == nil {
		c.LogKey = logkey.New(c.Construct, "LogKey", &logkey.Props{RemovalPolicy: p.RemovalPolicy})
	}
	keyArn := p.Lake.RawKey.KeyArn()
	c.SecurityConfiguration = awsglue.NewCfnSecurityConfiguration(c.Construct, jsii.String("SecurityConfiguration"), &awsglue.CfnSecurityConfigurationProps{
		Name: awscdk.Names_UniqueResourceName(c.Construct, &awscdk.UniqueResourceNameOptions{MaxLength: jsii.Number(128)}),
		EncryptionConfiguration: &awsglue.CfnSecurityConfiguration_EncryptionConfigurationProperty{
			CloudWatchEncryption: &awsglue.CfnSecurityConfiguration_CloudWatchEncryptionProperty{
				CloudWatchEncryptionMode: jsii.String("SSE-KMS"), KmsKeyArn: c.LogKey.KeyArn(),
			},
			JobBookmarksEncryption: &awsglue.CfnSecurityConfiguration_JobBookmarksEncryptionProperty{
				JobBookmarksEncryptionMode: jsii.String("CSE-KMS"), KmsKeyArn: keyArn,
			},
			S3Encryptions: []any{&awsglue.CfnSecurityConfiguration_S3EncryptionProperty{
				S3EncryptionMode: jsii.String("SSE-KMS"), KmsKeyArn: keyArn,
			}},
		},
	})
	c.ResultsLocation = jsii.String(fmt.Sprintf("s3://%s/%s", *p.Lake.QueryResults.BucketName(), layout.AthenaResultsPrefix))
	c.Workgroup, c.WorkgroupName = c.workgroup(c.Construct, p, true,
		"kpilake: analysts' and operators' lake queries (settings enforced)")
	c.AggregationWorkgroup, c.AggregationWorkgroupName = c.workgroup(
		constructs.NewConstruct(c.Construct, jsii.String("Aggregation")), p, false,
		"kpilake: CTAS queries of the KPI aggregation (client settings allowed for external_location)")
	return c
}

// workgroup creates a workgroup named after scope: engine v3, CloudWatch metrics, the cutoff, and
// results in the query-results zone encrypted with its key (lake.Lake.Key), enforced or as defaults.
func (c *Catalog) workgroup(scope constructs.Construct, p CatalogProps, enforce bool, description string) (awsathena.CfnWorkGroup, string) {
	name := *awscdk.Names_UniqueResourceName(scope, &awscdk.UniqueResourceNameOptions{
		MaxLength: jsii.Number(128), Separator: jsii.String("-"),
	})
	wg := awsathena.NewCfnWorkGroup(scope, jsii.String("Workgroup"), &awsathena.CfnWorkGroupProps{
		Name:                  jsii.String(name),
		Description:           jsii.String(description),
		State:                 jsii.String("ENABLED"),
		RecursiveDeleteOption: jsii.Bool(p.RemovalPolicy == awscdk.RemovalPolicy_DESTROY),
		WorkGroupConfiguration: &awsathena.CfnWorkGroup_WorkGroupConfigurationProperty{
			EnforceWorkGroupConfiguration:   jsii.Bool(enforce),
			PublishCloudWatchMetricsEnabled: jsii.Bool(true),
			BytesScannedCutoffPerQuery:      jsii.Number(float64(p.BytesScannedCutoffPerQuery)),
			RequesterPaysEnabled:            jsii.Bool(false),
			EngineVersion: &awsathena.CfnWorkGroup_EngineVersionProperty{
				SelectedEngineVersion: jsii.String(EngineVersion),
			},
			ResultConfiguration: &awsathena.CfnWorkGroup_ResultConfigurationProperty{
				OutputLocation: c.ResultsLocation,
				EncryptionConfiguration: &awsathena.CfnWorkGroup_EncryptionConfigurationProperty{
					EncryptionOption: jsii.String("SSE_KMS"),
					KmsKey:           p.Lake.Key.KeyArn(),
				},
				ExpectedBucketOwner: awscdk.Stack_Of(scope).Account(),
				AclConfiguration: &awsathena.CfnWorkGroup_AclConfigurationProperty{
					S3AclOption: jsii.String("BUCKET_OWNER_FULL_CONTROL"),
				},
			},
		},
	})
	wg.ApplyRemovalPolicy(p.RemovalPolicy, nil)
	return wg, name
}

// AggregationWorkgroupArn is the ARN of AggregationWorkgroup.
func (c *Catalog) AggregationWorkgroupArn() *string {
	return awscdk.Stack_Of(c.Construct).FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("athena"), Resource: jsii.String("workgroup"),
		ResourceName: jsii.String(c.AggregationWorkgroupName), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME,
	})
}

// DatabaseArn is the Glue ARN of the database.
func (c *Catalog) DatabaseArn() *string {
	return c.glueArn("database", c.DatabaseName)
}

// CatalogArn is the Glue ARN of the account's Data Catalog.
func (c *Catalog) CatalogArn() *string {
	return c.glueArn("catalog", "")
}

// TablesArn is the Glue ARN of the database's tables whose names start with prefix.
func (c *Catalog) TablesArn(prefix string) *string {
	return c.glueArn("table", c.DatabaseName+"/"+prefix+"*")
}

func (c *Catalog) glueArn(resource, name string) *string {
	comp := &awscdk.ArnComponents{Service: jsii.String("glue"), Resource: jsii.String(resource)}
	if name != "" {
		comp.ResourceName = jsii.String(name)
		comp.ArnFormat = awscdk.ArnFormat_SLASH_RESOURCE_NAME
	} else {
		comp.ArnFormat = awscdk.ArnFormat_NO_RESOURCE_NAME
	}
	return awscdk.Stack_Of(c.Construct).FormatArn(comp)
}
