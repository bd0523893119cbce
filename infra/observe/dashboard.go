package observe

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/lambdas/metrics"
)

// Widget titles, which tests and readers find the widgets by.
const (
	TitleAlarms          = "Alarms"
	TitleRunsPrefix      = "Daily runs: "
	TitleCrawls          = "Crawls"
	TitleFreshness       = "Freshness: seconds since the newest published day ended (the stalest KPIs)"
	TitleBytesScanned    = "Athena: data scanned per KPI and day (the KPIs that scan most)"
	TitleEngineTime      = "Athena: longest query per KPI and day, engine time (the slowest KPIs)"
	TitleRowsExtracted   = "Extraction: rows per table and day"
	TitleBytesExtracted  = "Extraction: bytes per table and day"
	TitleLogStreams      = "Log streams: records in, oldest undelivered record"
	TitleBackfill        = "Backfill: jobs waiting, in progress, done"
	TitleDeadLetters     = "Dead-letter queues"
	TitleLambdaErrors    = "Lambda: errors per hour"
	TitleLambdaThrottles = "Lambda: throttles per hour"
)

// Grid sizes: the dashboard is 24 units wide.
const (
	fullWidth    = 24
	halfWidth    = 12
	runWidth     = 8
	graphHeight  = 6
	headerHeight = 3
)

// Widget capacities. CloudWatch takes at most 100 alarms in an alarm status widget and 500 metrics
// in a graph (package limits); past these a widget splits into parts titled "<title> (i/n)", so a
// growing environment keeps a dashboard that deploys and stays readable.
const (
	alarmsPerWidget = 100
	// A freshness line is 4 metrics (the metric and 3 expressions): 400 per graph.
	// Lines per graph of KPIs or tables: a reader can still tell 100 lines apart by hovering.
	linesPerWidget = 100
)

// chunks splits n items into parts of at most size, as [start, end) pairs.
func chunks(n, size int) [][2]int {
	var out [][2]int
	for start := 0; start < n; start += size {
		out = append(out, [2]int{start, min(start+size, n)})
	}
	return out
}

// part is the title of part i of n of a split widget; a widget in one part keeps its title.
func part(title string, i, n int) string {
	if n == 1 {
		return title
	}
	return fmt.Sprintf("%s (%d/%d)", title, i+1, n)
}

// row is one line of the dashboard's widgets; a nil widget is left out, and so is a row of none.
type row []awscloudwatch.IWidget

// dashboard builds the environment's dashboard, row by row: what is wrong (alarm status), the
// daily run, freshness, queries, extraction, log streams, backfill and dead letters, functions.
// A widget with nothing to show (no KPIs, no log streams, ...) is left out.
func (o *Observe) dashboard() {
	o.Dashboard = awscloudwatch.NewDashboard(o.Construct, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DefaultInterval: duration(dashboardRange),
		// Each graph keeps its own period: daily counts stay daily over any range.
		PeriodOverride: awscloudwatch.PeriodOverride_INHERIT,
	})
	header := row{awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{
		Markdown: jsii.String(o.header()),
		Width:    jsii.Number(fullWidth),
		Height:   jsii.Number(headerHeight),
	})}
	rows := append([]row{header}, o.alarmRows()...)
	rows = append(rows, o.runsRow())
	rows = append(rows, o.kpiRows()...)
	rows = append(rows, o.extractionRows()...)
	rows = append(rows, o.logStreamsRow(), o.queuesRow(), o.functionsRow())
	for _, r := range rows {
		var widgets []awscloudwatch.IWidget
		for _, w := range r {
			if w != nil {
				widgets = append(widgets, w)
			}
		}
		if len(widgets) > 0 {
			o.Dashboard.AddWidgets(widgets...)
		}
	}
}

// alarmRows show the state of every alarm of the environment: Observe's, the log streams' and
// the backfill's, alarmsPerWidget a widget.
func (o *Observe) alarmRows() []row {
	p := o.props
	alarms := make([]interfacesawscloudwatch.IAlarmRef, 0, len(o.Alarms)+2)
	for _, a := range o.Alarms {
		alarms = append(alarms, a)
	}
	for _, s := range p.LogStreams {
		for _, a := range s.Stream.Alarms() {
			alarms = append(alarms, a)
		}
	}
	if b := p.Backfill; b != nil {
		alarms = append(alarms, b.DeadLetterAlarm, b.MessageAgeAlarm)
	}
	var rows []row
	parts := chunks(len(alarms), alarmsPerWidget)
	for i, c := range parts {
		some := alarms[c[0]:c[1]]
		rows = append(rows, row{awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
			Title:  jsii.String(part(TitleAlarms, i, len(parts))),
			Alarms: &some,
			Width:  jsii.Number(fullWidth),
			// About four alarms fit in a line of a full-width widget.
			Height: jsii.Number(float64(2 + (len(some)+3)/4)),
			SortBy: awscloudwatch.AlarmStatusWidgetSortBy_STATE_UPDATED_TIMESTAMP,
		})})
	}
	return rows
}

// runsRow shows each workflow's runs a day, and the crawls.
func (o *Observe) runsRow() row {
	p := o.props
	var runs row
	for _, w := range p.Workflows {
		sm := w.StateMachine
		runs = append(runs, graph(TitleRunsPrefix+w.Name, runWidth, []awscloudwatch.IMetric{
			sm.MetricStarted(labelled(statSum, dashboardRunPeriod, "started")),
			sm.MetricSucceeded(labelled(statSum, dashboardRunPeriod, "succeeded")),
			sm.MetricFailed(labelled(statSum, dashboardRunPeriod, "failed")),
			sm.MetricTimedOut(labelled(statSum, dashboardRunPeriod, "timed out")),
		}, nil))
	}
	var crawls []awscloudwatch.IMetric
	if r := p.CrawlerSucceededRule; r != nil {
		crawls = append(crawls, ruleMatches(r, statSum, dashboardRunPeriod, "succeeded"))
	}
	if r := p.CrawlerFailedRule; r != nil {
		crawls = append(crawls, ruleMatches(r, statSum, dashboardRunPeriod, "failed"))
	}
	if len(crawls) > 0 {
		runs = append(runs, graph(TitleCrawls, runWidth, crawls, nil))
	}
	return runs
}

// kpiRows show the KPIs' freshness and their queries. The widgets are Metrics Insights queries
// grouped by KPI, the top ones of each measure: one widget each whatever the number of KPIs, and
// the KPIs that need a look on top.
func (o *Observe) kpiRows() []row {
	if len(o.props.KPIs) == 0 {
		return nil
	}
	return []row{
		{o.freshnessWidget()},
		{graph(TitleBytesScanned, halfWidth, []awscloudwatch.IMetric{
			o.topKPIs("SUM", metrics.BytesScanned, dashboardRunPeriod, "bytes scanned"),
		}, nil), graph(TitleEngineTime, halfWidth, []awscloudwatch.IMetric{
			o.topKPIs("MAX", metrics.QueryEngineTime, dashboardRunPeriod, "engine time (ms)"),
		}, nil)},
	}
}

// extractionRows show the rows and bytes extracted of each table a day, linesPerWidget a widget.
func (o *Observe) extractionRows() []row {
	type table struct {
		x    Extraction
		name string
	}
	var tables []table
	for _, x := range o.props.Extractions {
		for _, t := range x.Tables() {
			tables = append(tables, table{x, t})
		}
	}
	var out []row
	parts := chunks(len(tables), linesPerWidget)
	for i, c := range parts {
		var rows, bytes []awscloudwatch.IMetric
		for _, t := range tables[c[0]:c[1]] {
			rows = append(rows, t.x.MetricRowsExtracted(t.name, metricOptions(statSum, dashboardRunPeriod)))
			bytes = append(bytes, t.x.MetricBytesExtracted(t.name, metricOptions(statSum, dashboardRunPeriod)))
		}
		out = append(out, row{graph(part(TitleRowsExtracted, i, len(parts)), halfWidth, rows, nil),
			graph(part(TitleBytesExtracted, i, len(parts)), halfWidth, bytes, nil)})
	}
	return out
}

// logStreamsRow shows the log streams' records in and their oldest undelivered record.
func (o *Observe) logStreamsRow() row {
	if len(o.props.LogStreams) == 0 {
		return nil
	}
	var in, late []awscloudwatch.IMetric
	for _, s := range o.props.LogStreams {
		in = append(in, s.Stream.MetricIncomingRecords(labelled(statSum, time.Hour, s.Name+" records in")))
		late = append(late, s.Stream.MetricDataFreshness(labelled(statMaximum, dashboardQueuePeriod, s.Name+" oldest record (s)")))
	}
	return row{graph(TitleLogStreams, fullWidth, in, late)}
}

// queuesRow shows the backfill's progress and every dead-letter queue.
func (o *Observe) queuesRow() row {
	p := o.props
	var backfillWidget, deadLetterWidget awscloudwatch.IWidget
	var dead []awscloudwatch.IMetric
	if b := p.Backfill; b != nil {
		backfillWidget = graph(TitleBackfill, halfWidth, []awscloudwatch.IMetric{
			b.MetricJobsWaiting(labelled(statMaximum, dashboardQueuePeriod, "waiting")),
			b.MetricJobsInProgress(labelled(statMaximum, dashboardQueuePeriod, "in progress")),
			b.MetricJobsDone(labelled(statSum, dashboardQueuePeriod, "done")),
		}, nil)
		dead = append(dead, b.MetricDeadLetters(labelled(statMaximum, dashboardQueuePeriod, "Backfill")))
	}
	for _, q := range p.DeadLetterQueues {
		dead = append(dead, q.Queue.MetricApproximateNumberOfMessagesVisible(labelled(statMaximum, dashboardQueuePeriod, q.Name)))
	}
	if len(dead) > 0 {
		deadLetterWidget = graph(TitleDeadLetters, halfWidth, dead, nil)
	}
	return row{backfillWidget, deadLetterWidget}
}

// functionsRow shows every function's errors and throttles an hour.
func (o *Observe) functionsRow() row {
	if len(o.props.Functions) == 0 {
		return nil
	}
	var errs, throttles []awscloudwatch.IMetric
	for _, f := range o.props.Functions {
		errs = append(errs, f.Function.Function.MetricErrors(labelled(statSum, time.Hour, f.Name)))
		throttles = append(throttles, f.Function.Function.MetricThrottles(labelled(statSum, time.Hour, f.Name)))
	}
	return row{graph(TitleLambdaErrors, halfWidth, errs, nil), graph(TitleLambdaThrottles, halfWidth, throttles, nil)}
}

func (o *Observe) header() string {
	p := o.props
	lag := int(p.FreshnessLag.Hours())
	var b strings.Builder
	fmt.Fprintf(&b, "# kpilake %s\n", p.Environment)
	fmt.Fprintf(&b, "Every alarm below notifies the alert topic. **Freshness**: one alarm for every KPI, which fires when the newest day a KPI "+
		"published ended (%s) more than %d hours ago and names the KPIs in its reason; backfills of older days do not count. ", p.TimeZone, lag)
	b.WriteString("Crawler failures and failed workflow steps also alert with their reason, straight from EventBridge and Step Functions. ")
	b.WriteString("Daily counts are per UTC day.")
	return b.String()
}

// TopKPIs is how many KPIs a KPI widget draws: the top ones of its measure.
const TopKPIs = 50

// topKPIs is a Metrics Insights query of metric per KPI of the environment, aggregated with fn
// over period, the TopKPIs largest first.
func (o *Observe) topKPIs(fn, metric string, period time.Duration, label string) awscloudwatch.IMetric {
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String(KPIQuery(fn, metric, o.props.Environment, fmt.Sprintf("ORDER BY %s() DESC LIMIT %d", fn, TopKPIs))),
		Period:     duration(period),
		Label:      jsii.String(label),
	})
}

// freshnessWidget shows the age of each KPI's newest day (metrics.NewestDayAge, what the
// freshness alarm compares with the lag, the annotation), the stalest KPIs first.
func (o *Observe) freshnessWidget() awscloudwatch.IWidget {
	lag := o.props.FreshnessLag
	m := o.topKPIs("MAX", metrics.NewestDayAge, FreshnessPeriod, "newest day's age (s)")
	return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
		Title:  jsii.String(TitleFreshness),
		Width:  jsii.Number(fullWidth),
		Height: jsii.Number(graphHeight),
		Left:   &[]awscloudwatch.IMetric{m},
		LeftYAxis: &awscloudwatch.YAxisProps{
			Min: jsii.Number(0), Label: jsii.String("seconds"), ShowUnits: jsii.Bool(false),
		},
		LeftAnnotations: &[]*awscloudwatch.HorizontalAnnotation{{
			Value: jsii.Number(lag.Seconds()),
			Label: jsii.String(fmt.Sprintf("lag: alarm after %g hours", lag.Hours())),
			Color: jsii.String("#d62728"),
		}},
	})
}

func graph(title string, width float64, left, right []awscloudwatch.IMetric) awscloudwatch.IWidget {
	props := &awscloudwatch.GraphWidgetProps{
		Title:  jsii.String(title),
		Width:  jsii.Number(width),
		Height: jsii.Number(graphHeight),
		Left:   &left,
	}
	if len(right) > 0 {
		props.Right = &right
	}
	return awscloudwatch.NewGraphWidget(props)
}
