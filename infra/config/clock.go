package config

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// TimeOfDay is a wall-clock time, to the minute, in the business time zone.
type TimeOfDay struct{ Hour, Minute int }

var timeOfDayRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)

// ParseTimeOfDay parses "HH:MM" on a 24-hour clock, 00:00 to 23:59.
func ParseTimeOfDay(s string) (TimeOfDay, error) {
	m := timeOfDayRE.FindStringSubmatch(s)
	if m == nil {
		return TimeOfDay{}, fmt.Errorf("%q is not a time of day; write it HH:MM on a 24-hour clock, such as %q", s, DefaultLogCrawlTime)
	}
	h, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	return TimeOfDay{Hour: h, Minute: mi}, nil
}

// String formats the time as HH:MM.
func (t TimeOfDay) String() string { return fmt.Sprintf("%02d:%02d", t.Hour, t.Minute) }

// Cron is the EventBridge Scheduler expression that fires every day at t (in the schedule's
// time zone).
func (t TimeOfDay) Cron() string { return fmt.Sprintf("cron(%d %d * * ? *)", t.Minute, t.Hour) }

// minutes counts the minutes since midnight.
func (t TimeOfDay) minutes() int { return t.Hour*60 + t.Minute }

// The app_logs crawler's daily start. Firehose files a record under the business day on which it
// arrived but delivers it up to its buffering interval later (at most 900 s), so the day before
// is complete in the raw zone only some minutes after midnight. The aggregation that the crawl
// starts works on the business day before the crawl's end, so the crawl must also end before
// midnight.
const (
	// DefaultLogCrawlTime leaves twice Firehose's longest buffering interval for the day
	// before's last objects to land.
	DefaultLogCrawlTime = "00:30"
	// MinLogCrawlTime is Firehose's longest buffering interval after midnight.
	MinLogCrawlTime = "00:15"
	// MaxLogCrawlTime leaves an hour for the crawl to end on the same business day.
	MaxLogCrawlTime = "23:00"
)

func parseLogCrawlTime(o *object, hasStreams bool) string {
	_, given := o.m["logCrawlTime"]
	s := o.str("logCrawlTime", DefaultLogCrawlTime)
	if given && o.m["logCrawlTime"] != nil && !hasStreams {
		o.errs.add(o.key("logCrawlTime"), `starts the crawler of the log streams, and there are none; remove it or add a log stream to "logStreams"`)
		return s
	}
	t, err := ParseTimeOfDay(s)
	if err != nil {
		o.errs.add(o.key("logCrawlTime"), "%v", err)
		return s
	}
	lo, _ := ParseTimeOfDay(MinLogCrawlTime)
	hi, _ := ParseTimeOfDay(MaxLogCrawlTime)
	switch {
	case t.minutes() < lo.minutes():
		o.errs.add(o.key("logCrawlTime"), "%q is too early: Firehose may still be delivering the day before's records (its buffer holds them up to 15 minutes); set %s or later, such as %s",
			s, MinLogCrawlTime, DefaultLogCrawlTime)
	case t.minutes() > hi.minutes():
		o.errs.add(o.key("logCrawlTime"), "%q is too late: the crawl must end before midnight, or the aggregation it starts works on the wrong day; set %s or earlier",
			s, MaxLogCrawlTime)
	}
	return s
}

// LogLateness is how long after a business day ends its log records may still land and count
// in the day's figure: the log crawl starts then (logCrawlTime, in minutes after midnight), and
// the KPIs that read the logs by event time publish the day with what landed by that time
// (lambdas/plan, EnvLogLateness). 0 without log streams.
func (e *Environment) LogLateness() time.Duration {
	if len(e.LogStreams) == 0 {
		return 0
	}
	t, err := ParseTimeOfDay(e.LogCrawlTime)
	if err != nil {
		return 0 // Parse rejected it already
	}
	return time.Duration(t.minutes()) * time.Minute
}
