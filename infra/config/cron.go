package config

import (
	"fmt"
	"strconv"
	"strings"
)

// cronField is one field of an EventBridge (Scheduler) cron expression: its range and the
// special characters it allows besides the digits, names, ',', '-', '*' and '/'.
type cronField struct {
	name    string
	lo, hi  int
	names   []string // names[i] stands for lo+i (JAN..DEC, SUN..SAT)
	special string   // extra characters allowed: "?", "L", "W", "#"
}

var cronFields = [6]cronField{
	{name: "minutes", lo: 0, hi: 59},
	{name: "hours", lo: 0, hi: 23},
	{name: "day-of-month", lo: 1, hi: 31, special: "?LW"},
	{name: "month", lo: 1, hi: 12, names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
	{name: "day-of-week", lo: 1, hi: 7, names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}, special: "?L#"},
	{name: "year", lo: 1970, hi: 2199},
}

// checkCron validates an EventBridge Scheduler cron expression, cron(min hour dom month dow
// year), field by field as the service does at deploy time: each value within its range, only
// the wildcards its field allows, and '?' in exactly one of day-of-month and day-of-week.
func checkCron(expr string) error {
	inner, ok := strings.CutPrefix(expr, "cron(")
	if ok {
		inner, ok = strings.CutSuffix(inner, ")")
	}
	fields := strings.Fields(inner)
	if !ok || len(fields) != 6 {
		return fmt.Errorf("is not cron(minutes hours day-of-month month day-of-week year)")
	}
	for i, f := range fields {
		if err := cronFields[i].check(f); err != nil {
			return fmt.Errorf("%s field %q: %w", cronFields[i].name, f, err)
		}
	}
	dom, dow := fields[2] == "?", fields[4] == "?"
	if dom == dow {
		return fmt.Errorf("put '?' in exactly one of day-of-month (%q) and day-of-week (%q)", fields[2], fields[4])
	}
	return nil
}

func (c cronField) check(f string) error {
	if f == "?" {
		if !strings.Contains(c.special, "?") {
			return fmt.Errorf("'?' is allowed only in day-of-month and day-of-week")
		}
		return nil
	}
	for _, item := range strings.Split(f, ",") {
		if err := c.checkItem(item); err != nil {
			return err
		}
	}
	return nil
}

// checkItem checks one comma-separated part: *, a value, a range, any of them with /step, or
// the L, W and # forms of the day fields.
func (c cronField) checkItem(item string) error {
	if item == "" {
		return fmt.Errorf("has an empty list item")
	}
	base, step, hasStep := strings.Cut(item, "/")
	if hasStep {
		n, err := strconv.Atoi(step)
		if err != nil || n < 1 || n > c.hi {
			return fmt.Errorf("step %q must be a number from 1 to %d", step, c.hi)
		}
	}
	switch {
	case base == "*":
		return nil
	case base == "L" && strings.Contains(c.special, "L") && !hasStep:
		return nil
	case c.name == "day-of-month" && base == "LW" && !hasStep:
		return nil
	case strings.HasSuffix(base, "W") && strings.Contains(c.special, "W") && !hasStep:
		return c.value(strings.TrimSuffix(base, "W"))
	case strings.HasSuffix(base, "L") && c.name == "day-of-week" && !hasStep:
		return c.value(strings.TrimSuffix(base, "L"))
	case strings.Contains(base, "#") && strings.Contains(c.special, "#") && !hasStep:
		day, nth, _ := strings.Cut(base, "#")
		if n, err := strconv.Atoi(nth); err != nil || n < 1 || n > 5 {
			return fmt.Errorf("%q: the n of day#n must be 1 to 5", base)
		}
		return c.value(day)
	}
	if lo, hi, isRange := strings.Cut(base, "-"); isRange {
		if err := c.value(lo); err != nil {
			return err
		}
		return c.value(hi)
	}
	return c.value(base)
}

// value checks a single number or name against the field's range.
func (c cronField) value(v string) error {
	for _, n := range c.names {
		if strings.EqualFold(v, n) {
			return nil
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		if len(c.names) > 0 {
			return fmt.Errorf("%q is not a number from %d to %d or a name %s-%s", v, c.lo, c.hi, c.names[0], c.names[len(c.names)-1])
		}
		return fmt.Errorf("%q is not a number from %d to %d", v, c.lo, c.hi)
	}
	if n < c.lo || n > c.hi {
		return fmt.Errorf("%d is out of range %d-%d", n, c.lo, c.hi)
	}
	return nil
}
