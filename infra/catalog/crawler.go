package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsglue"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/kpilake/kpilake/infra/lake"
	"github.com/kpilake/kpilake/infra/nag"
	"github.com/kpilake/kpilake/layout"
)

// CrawlerProps configures a Crawler over prefixes of the raw zone.
type CrawlerProps struct {
	// Catalog whose database receives the tables. Required.
	Catalog *Catalog
	// Prefixes to crawl, relative to the raw zone, each ending in "/" (layout.SourcePrefix).
	// Required, at least one.
	Prefixes []string
	// TablePrefix starts the name of every table the crawler creates (layout.CrawlerTablePrefix),
	// so that two sources with a table of the same name never collide. Required.
	TablePrefix string
	// Description of what is crawled. Default: the prefixes.
	Description string
}

func (p *CrawlerProps) validate() error {
	var errs []error
	if p.Catalog == nil {
		errs = append(errs, errors.New("Catalog is required; pass the *catalog.Catalog whose database receives the tables"))
	}
	if len(p.Prefixes) == 0 {
		errs = append(errs, errors.New("Prefixes: give at least one raw prefix to crawl, such as layout.SourcePrefix(\"sales_db\")"))
	}
	for i, pre := range p.Prefixes {
		if pre == "" || strings.HasPrefix(pre, "/") || !strings.HasSuffix(pre, "/") || strings.Contains(pre, "//") {
			errs = append(errs, fmt.Errorf("Prefixes[%d] %q must be a folder relative to the raw zone, ending in \"/\" (such as \"sales_db/\")", i, pre))
		}
	}
	if p.TablePrefix == "" {
		errs = append(errs, errors.New("TablePrefix is required; use layout.CrawlerTablePrefix(source) so table names cannot collide"))
	} else if err := layout.ValidateName("table prefix", strings.TrimSuffix(p.TablePrefix, "_")); err != nil || !strings.HasSuffix(p.TablePrefix, "_") {
		errs = append(errs, fmt.Errorf("TablePrefix %q must be a snake_case name ending in \"_\", such as \"sales_db_\"", p.TablePrefix))
	}
	return errors.Join(errs...)
}

// Crawler keeps the Data Catalog in step with new partitions of the raw zone. It crawls only new
// folders, creates one table per <prefix>/<table>/ folder, and lets partitions inherit the
// table's schema.
type Crawler struct {
	constructs.Construct
	// Role is the crawler's least-privilege role.
	Role awsiam.Role
	// Crawler is the Glue crawler; its Ref is the crawler's name.
	Crawler awsglue.CfnCrawler
	// LogGroup receives the crawler's encrypted logs.
	LogGroup awslogs.LogGroup
	// Prefixes are the raw-zone folders the crawler catalogues (CrawlerProps.Prefixes).
	Prefixes []string
}

// CrawlerConfiguration is the crawler's output and grouping policy (Glue's Configuration JSON).
type CrawlerConfiguration struct {
	Version       float64 `json:"Version"`
	CrawlerOutput struct {
		Partitions struct {
			AddOrUpdateBehavior string `json:"AddOrUpdateBehavior"`
		} `json:"Partitions"`
	} `json:"CrawlerOutput"`
	Grouping struct {
		TableGroupingPolicy     string `json:"TableGroupingPolicy"`
		TableLevelConfiguration int    `json:"TableLevelConfiguration"`
	} `json:"Grouping"`
	CreatePartitionIndex bool `json:"CreatePartitionIndex"`
}

func crawlerConfiguration() string {
	var c CrawlerConfiguration
	c.Version = 1.0
	c.CrawlerOutput.Partitions.AddOrUpdateBehavior = "InheritFromTable"
	c.Grouping.TableGroupingPolicy = "CombineCompatibleSchemas"
	// Glue counts the bucket as level 1, so <source>/<table>/ is one deeper than in the layout.
	c.Grouping.TableLevelConfiguration = layout.TableLevel + 1
	c.CreatePartitionIndex = true
	b, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// CrawlerGlueActions are the catalog actions a crawler's role gets, on its own tables only.
var CrawlerGlueActions = []string{
	"glue:GetDatabase",
	"glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
	"glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition",
	"glue:CreatePartition", "glue:BatchCreatePartition", "glue:UpdatePartition", "glue:BatchUpdatePartition",
	"glue:CreatePartitionIndex", "glue:GetPartitionIndexes",
}

// NewCrawler creates a crawler, its role and its log group.
func NewCrawler(scope constructs.Construct, id string, props *CrawlerProps) *Crawler {
	if props == nil {
		props = &CrawlerProps{}
	}
	if err := props.validate(); err != nil {
		panic(fmt.Errorf("catalog.NewCrawler %q: %w", id, err))
	}
	cat := props.Catalog
	c := &Crawler{Construct: constructs.NewConstruct(scope, &id), Prefixes: slices.Clone(props.Prefixes)}
	c.Role = awsiam.NewRole(c.Construct, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("glue.amazonaws.com"), nil),
		Description: jsii.String("kpilake crawler: reads its raw prefixes, writes its tables"),
	})
	for _, pre := range props.Prefixes {
		cat.Lake.Grant(c.Role, layout.Raw, pre, lake.Read)
	}
	c.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(CrawlerGlueActions...),
		Resources: &[]*string{cat.CatalogArn(), cat.DatabaseArn(), cat.TablesArn(props.TablePrefix)},
	}))
	// GetSecurityConfiguration has no resource-level permissions.
	c.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("glue:GetSecurityConfiguration"),
		Resources: jsii.Strings("*"),
	}))

	// Glue names the log group after the role and the security configuration; creating it here
	// gives it a retention and the logs key instead of Glue's never-expiring default.
	logGroupName := fmt.Sprintf("/aws-glue/crawlers-role/%s-%s", *c.Role.RoleName(), *cat.SecurityConfiguration.Ref())
	c.LogGroup = awslogs.NewLogGroup(c.Construct, jsii.String("Logs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String(logGroupName),
		EncryptionKey: cat.LogKey,
		Retention:     cat.logRetention,
		RemovalPolicy: cat.removal,
	})
	c.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"),
		Resources: &[]*string{c.LogGroup.LogGroupArn(), jsii.String(*c.LogGroup.LogGroupArn() + ":log-stream:*")},
	}))
	// The security configuration encrypts what a crawler would write to S3 with the raw zone's
	// key, the only zone a crawler reads.
	cat.Lake.RawKey.Grant(c.Role, jsii.String("kms:Decrypt"), jsii.String("kms:GenerateDataKey"))

	targets := make([]any, 0, len(props.Prefixes))
	for _, pre := range props.Prefixes {
		targets = append(targets, &awsglue.CfnCrawler_S3TargetProperty{
			Path: jsii.String(fmt.Sprintf("s3://%s/%s", *cat.Lake.Raw.BucketName(), pre)),
		})
	}
	desc := props.Description
	if desc == "" {
		desc = "kpilake: crawls raw " + strings.Join(props.Prefixes, ", ")
	}
	c.Crawler = awsglue.NewCfnCrawler(c.Construct, jsii.String("Crawler"), &awsglue.CfnCrawlerProps{
		Role:                         c.Role.RoleArn(),
		DatabaseName:                 jsii.String(cat.DatabaseName),
		Description:                  jsii.String(desc),
		TablePrefix:                  jsii.String(props.TablePrefix),
		Targets:                      &awsglue.CfnCrawler_TargetsProperty{S3Targets: targets},
		CrawlerSecurityConfiguration: cat.SecurityConfiguration.Ref(),
		Configuration:                jsii.String(crawlerConfiguration()),
		RecrawlPolicy:                &awsglue.CfnCrawler_RecrawlPolicyProperty{RecrawlBehavior: jsii.String("CRAWL_NEW_FOLDERS_ONLY")},
		SchemaChangePolicy:           &awsglue.CfnCrawler_SchemaChangePolicyProperty{UpdateBehavior: jsii.String("LOG"), DeleteBehavior: jsii.String("LOG")},
	})
	c.Crawler.Node().AddDependency(c.LogGroup, cat.Database)
	c.suppressions(cat, props.TablePrefix)
	return c
}

// suppressions lists, with a reason each, the AwsSolutions findings of the crawler's role that
// are by design.
func (c *Crawler) suppressions(cat *Catalog, tablePrefix string) {
	raw := nag.Ref(cat.Lake.Raw, "Arn")
	var s []*cdknag.NagPackSuppression
	for _, pre := range c.Prefixes {
		s = append(s, nag.SuppressMatching("AwsSolutions-IAM5", "The crawler reads every object under its own raw prefixes only.",
			`^Resource::`+raw+`/`+regexp.QuoteMeta(pre)+`\*$`))
	}
	s = append(s,
		nag.SuppressMatching("AwsSolutions-IAM5", "The crawler creates and updates only tables with its own table prefix.",
			`^Resource::arn:[^:]+:glue:[^:]+:.+:table/`+regexp.QuoteMeta(cat.DatabaseName+"/"+tablePrefix)+`\*$`),
		nag.SuppressMatching("AwsSolutions-IAM5", "The crawler writes streams of its own log group only.",
			`^Resource::`+nag.Ref(c.LogGroup, "Arn")+`:log-stream:\*$`),
		nag.SuppressMatching("AwsSolutions-IAM5", "glue:GetSecurityConfiguration supports no resource-level permissions.",
			`^Resource::\*$`),
	)
	cdknag.NagSuppressions_AddResourceSuppressions(c.Role, &s, jsii.Bool(true))
}

// Name is the crawler's name (its Ref).
func (c *Crawler) Name() *string { return c.Crawler.Ref() }

// Arn is the crawler's ARN.
func (c *Crawler) Arn() *string {
	return awscdk.Stack_Of(c.Construct).FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("glue"), Resource: jsii.String("crawler"), ResourceName: c.Name(),
		ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME,
	})
}

// GrantStart lets grantee start this crawler, and no other.
func (c *Crawler) GrantStart(grantee awsiam.IGrantable) awsiam.Grant {
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings(startCrawler),
		ResourceArns: jsii.Strings(*c.Arn()),
	})
}

// StartStatement allows starting this crawler, and no other: for a target that takes the
// statements of its role (an EventBridge Scheduler universal target).
func (c *Crawler) StartStatement() awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(startCrawler),
		Resources: jsii.Strings(*c.Arn()),
	})
}

const startCrawler = "glue:StartCrawler"
