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
	TitleFreshness       = "Freshness: hours since the newest published day ended"
	TitleBytesScanned    = "Athena: data scanned per KPI and day"
	TitleEngineTime      = "Athena: longest query per KPI and day (engine time)"
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
	kpisPerFreshnessWidget = 100
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

// dashboard builds the environment's dashboard, row by row: what is wrong (alarm status), the
// daily run, freshness, queries, extraction, log streams, backfill and dead letters, functions.
// A widget with nothing to show (no KPIs, no log streams, ...) is left out.
func (o *Observe) dashboard() {
	p := o.props
	o.Dashboard = awscloudwatch.NewDashboard(o.Construct, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DefaultInterval: duration(dashboardRange),
		// Each graph keeps its own period: daily counts stay daily over any range.
		PeriodOverride: awscloudwatch.PeriodOverride_INHERIT,
	})
	add := func(widgets ...awscloudwatch.IWidget) {
		var row []awscloudwatch.IWidget
		for _, w := range widgets {
			if w != nil {
				row = append(row, w)
			}
		}
		if len(row) > 0 {
			o.Dashboard.AddWidgets(row...)
		}
	}

	add(awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{
		Markdown: jsii.String(o.header()),
		Width:    jsii.Number(fullWidth),
		Height:   jsii.Number(headerHeight),
	}))

	alarms := make([]interfacesawscloudwatch.IAlarmRef, 0, len(o.Alarms)+2)
	for _, a := range o.Alarms {
		alarms = append(alarms, a)
	}
	if b := p.Backfill; b != nil {
		alarms = append(alarms, b.DeadLetterAlarm, b.MessageAgeAlarm)
	}
	parts := chunks(len(alarms), alarmsPerWidget)
	for i, c := range parts {
		some := alarms[c[0]:c[1]]
		add(awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
			Title:  jsii.String(part(TitleAlarms, i, len(parts))),
			Alarms: &some,
			Width:  jsii.Number(fullWidth),
			// About four alarms fit in a line of a full-width widget.
			Height: jsii.Number(float64(2 + (len(some)+3)/4)),
			SortBy: awscloudwatch.AlarmStatusWidgetSortBy_STATE_UPDATED_TIMESTAMP,
		}))
	}

	var runs []awscloudwatch.IWidget
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
	add(runs...)

	parts = chunks(len(p.KPIs), kpisPerFreshnessWidget)
	for i, c := range parts {
		add(o.freshnessWidget(part(TitleFreshness, i, len(parts)), p.KPIs[c[0]:c[1]]))
	}
	parts = chunks(len(p.KPIs), linesPerWidget)
	for i, c := range parts {
		var scanned, engine []awscloudwatch.IMetric
		for _, k := range p.KPIs[c[0]:c[1]] {
			scanned = append(scanned, o.kpiMetric(metrics.BytesScanned, k, statSum, dashboardRunPeriod))
			engine = append(engine, o.kpiMetric(metrics.QueryEngineTime, k, statMaximum, dashboardRunPeriod))
		}
		add(graph(part(TitleBytesScanned, i, len(parts)), halfWidth, scanned, nil),
			graph(part(TitleEngineTime, i, len(parts)), halfWidth, engine, nil))
	}

	parts = chunks(len(p.Tables), linesPerWidget)
	for i, c := range parts {
		var rows, bytes []awscloudwatch.IMetric
		for _, t := range p.Tables[c[0]:c[1]] {
			rows = append(rows, o.tableMetric(metrics.RowsExtracted, t, statSum, dashboardRunPeriod))
			bytes = append(bytes, o.tableMetric(metrics.BytesExtracted, t, statSum, dashboardRunPeriod))
		}
		add(graph(part(TitleRowsExtracted, i, len(parts)), halfWidth, rows, nil),
			graph(part(TitleBytesExtracted, i, len(parts)), halfWidth, bytes, nil))
	}

	if len(p.LogStreams) > 0 {
		var in, late []awscloudwatch.IMetric
		for _, s := range p.LogStreams {
			in = append(in, firehose(s, firehoseIncoming, statSum, time.Hour, s.Name+" records in"))
			late = append(late, firehose(s, deliveryFreshness, statMaximum, dashboardQueuePeriod, s.Name+" oldest record (s)"))
		}
		add(graph(TitleLogStreams, fullWidth, in, late))
	}

	var backfillWidget, deadLetterWidget awscloudwatch.IWidget
	var dead []awscloudwatch.IMetric
	if b := p.Backfill; b != nil {
		backfillWidget = graph(TitleBackfill, halfWidth, []awscloudwatch.IMetric{
			b.Queue.MetricApproximateNumberOfMessagesVisible(labelled(statMaximum, dashboardQueuePeriod, "waiting")),
			b.Queue.MetricApproximateNumberOfMessagesNotVisible(labelled(statMaximum, dashboardQueuePeriod, "in progress")),
			b.Queue.MetricNumberOfMessagesDeleted(labelled(statSum, dashboardQueuePeriod, "done")),
		}, nil)
		dead = append(dead, b.DeadLetterQueue.MetricApproximateNumberOfMessagesVisible(labelled(statMaximum, dashboardQueuePeriod, "Backfill")))
	}
	for _, q := range p.DeadLetterQueues {
		dead = append(dead, q.Queue.MetricApproximateNumberOfMessagesVisible(labelled(statMaximum, dashboardQueuePeriod, q.Name)))
	}
	if len(dead) > 0 {
		deadLetterWidget = graph(TitleDeadLetters, halfWidth, dead, nil)
	}
	add(backfillWidget, deadLetterWidget)

	if len(p.Functions) > 0 {
		var errs, throttles []awscloudwatch.IMetric
		for _, f := range p.Functions {
			errs = append(errs, f.Function.Function.MetricErrors(labelled(statSum, time.Hour, f.Name)))
			throttles = append(throttles, f.Function.Function.MetricThrottles(labelled(statSum, time.Hour, f.Name)))
		}
		add(graph(TitleLambdaErrors, halfWidth, errs, nil), graph(TitleLambdaThrottles, halfWidth, throttles, nil))
	}
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

// freshnessWidget shows, per KPI of kpis, the hours since the end of the newest day that a run published
// while it was fresh, the quantity the freshness alarm compares with the lag (the annotation).
// The newest fresh day is carried forward between publications (FILL REPEAT), so the line rises
// by one an hour and drops when the next day is published; hours before the first fresh
// publication in the range show nothing.
func (o *Observe) freshnessWidget(title string, kpis []string) awscloudwatch.IWidget {
	freshFor := int64(o.FreshFor.Seconds())
	dayEnd := int64((o.FreshFor - o.props.FreshnessLag).Seconds())
	period := duration(FreshnessPeriod)
	var lines []awscloudwatch.IMetric
	for _, k := range kpis {
		pd, fresh, last := "pd_"+k, "fresh_"+k, "last_"+k
		day := o.kpiMetric(metrics.PublishedDay, k, statMaximum, FreshnessPeriod)
		freshDays := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String(fmt.Sprintf("IF(EPOCH(%s) - %s <= %d, %s)", pd, pd, freshFor, pd)),
			UsingMetrics: &map[string]awscloudwatch.IMetric{pd: day},
			Period:       period,
		})
		newest := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String(fmt.Sprintf("FILL(%s, REPEAT)", fresh)),
			UsingMetrics: &map[string]awscloudwatch.IMetric{fresh: freshDays},
			Period:       period,
		})
		lines = append(lines, awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression:   jsii.String(fmt.Sprintf("IF(%s > 0, (EPOCH(%s) - %s - %d) / 3600)", last, pd, last, dayEnd)),
			UsingMetrics: &map[string]awscloudwatch.IMetric{pd: day, last: newest},
			Period:       period,
			Label:        jsii.String(k),
		}))
	}
	lag := o.props.FreshnessLag.Hours()
	return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
		Title:  jsii.String(title),
		Width:  jsii.Number(fullWidth),
		Height: jsii.Number(graphHeight),
		Left:   &lines,
		LeftYAxis: &awscloudwatch.YAxisProps{
			Min: jsii.Number(0), Label: jsii.String("hours"), ShowUnits: jsii.Bool(false),
		},
		LeftAnnotations: &[]*awscloudwatch.HorizontalAnnotation{{
			Value: jsii.Number(lag),
			Label: jsii.String(fmt.Sprintf("lag: alarm after %g hours", lag)),
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
