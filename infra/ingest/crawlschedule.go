package ingest

import (
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsschedulertargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/kpilake/kpilake/infra/catalog"
	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/nag"
)

// CrawlerScheduleProps configures a CrawlerSchedule.
type CrawlerScheduleProps struct {
	// Crawler to start. Required.
	Crawler *catalog.Crawler
	// TimeZone of At, IANA name. Required.
	TimeZone string
	// At is the time of day the crawler starts, "HH:MM" on a 24-hour clock in TimeZone.
	// Default: config.DefaultLogCrawlTime (00:30), which leaves Firehose time to deliver the
	// day before's last records.
	At string
	// Description of the schedule. Default: "kpilake: daily crawl".
	Description string
}

func (p *CrawlerScheduleProps) validate() error {
	var errs []error
	if p.Crawler == nil {
		errs = append(errs, errors.New("Crawler is required; pass the *catalog.Crawler to start every day"))
	}
	if p.TimeZone == "" {
		errs = append(errs, errors.New(`TimeZone is required; give the business time zone's IANA name, such as "Asia/Tokyo"`))
	} else if _, err := time.LoadLocation(p.TimeZone); err != nil || p.TimeZone == "Local" {
		errs = append(errs, fmt.Errorf("TimeZone %q is not an IANA time zone; use a name such as \"Asia/Tokyo\"", p.TimeZone))
	}
	if p.At != "" {
		if _, err := config.ParseTimeOfDay(p.At); err != nil {
			errs = append(errs, fmt.Errorf("At: %w", err))
		}
	}
	return errors.Join(errs...)
}

// CrawlerSchedule starts a crawler every day at a time of the business day, through an
// EventBridge Scheduler schedule whose universal target calls glue:StartCrawler. A start that
// fails is retried, then kept in a dead-letter queue.
type CrawlerSchedule struct {
	constructs.Construct
	// Schedule is the daily schedule.
	Schedule awsscheduler.Schedule
	// Role is what the scheduler assumes: it may start this crawler and send to DeadLetters.
	Role awsiam.Role
	// DeadLetters keeps the starts that failed after every retry.
	DeadLetters awssqs.Queue
}

// Retry policy of the schedule's target: a start of the crawler that fails (throttling, a Glue
// error) is retried for up to two hours, well before the crawl would be too late for its day.
const (
	crawlRetryAttempts    = 3
	crawlMaxEventAgeHours = 2
)

// NewCrawlerSchedule creates the schedule, its role and its dead-letter queue.
func NewCrawlerSchedule(scope constructs.Construct, id string, props *CrawlerScheduleProps) *CrawlerSchedule {
	if props == nil {
		props = &CrawlerScheduleProps{}
	}
	if err := props.validate(); err != nil {
		panic(fmt.Errorf("ingest.NewCrawlerSchedule %q: %w", id, err))
	}
	p := *props
	if p.At == "" {
		p.At = config.DefaultLogCrawlTime
	}
	if p.Description == "" {
		p.Description = "kpilake: daily crawl"
	}
	at, _ := config.ParseTimeOfDay(p.At)
	node := constructs.NewConstruct(scope, &id)
	c := &CrawlerSchedule{Construct: node}

	c.DeadLetters = awssqs.NewQueue(node, jsii.String("DeadLetters"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	nag.DeadLetterQueue(c.DeadLetters)
	cdknag.NagSuppressions_AddResourceSuppressions(c.DeadLetters, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String("This queue is the dead-letter queue of the crawl schedule's target; it has none of its own."),
	}}, jsii.Bool(true))
	account := awscdk.Stack_Of(node).Account()
	c.Role = awsiam.NewRole(node, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": account}},
		}),
		Description: jsii.String("kpilake crawler schedule: starts one crawler"),
	})
	c.Schedule = awsscheduler.NewSchedule(node, jsii.String("Daily"), &awsscheduler.ScheduleProps{
		Description: jsii.String(p.Description),
		Schedule:    awsscheduler.ScheduleExpression_Expression(jsii.String(at.Cron()), awscdk.TimeZone_Of(jsii.String(p.TimeZone))),
		Target: awsschedulertargets.NewUniversal(&awsschedulertargets.UniversalTargetProps{
			Service: jsii.String("glue"),
			Action:  jsii.String("startCrawler"),
			Input:   awsscheduler.ScheduleTargetInput_FromObject(map[string]any{"Name": p.Crawler.Name()}),
			// Only this crawler; the target's default would allow every crawler of the account.
			PolicyStatements: &[]awsiam.PolicyStatement{p.Crawler.StartStatement()},
			Role:             c.Role,
			DeadLetterQueue:  c.DeadLetters,
			RetryAttempts:    jsii.Number(crawlRetryAttempts),
			MaxEventAge:      awscdk.Duration_Hours(jsii.Number(crawlMaxEventAgeHours)),
		}),
	})
	return c
}
