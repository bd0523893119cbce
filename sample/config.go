package sample

import (
	"errors"
	"fmt"
	"time"

	"github.com/kpilake/kpilake/layout"
)

// Config sizes and places a generated dataset. The zero value means the defaults: a week of a
// 60-person company in Tokyo, starting on Monday 2025-04-28 with Shōwa Day (2025-04-29) as its
// quiet holiday.
type Config struct {
	// Seed selects the dataset: the same Config always generates the same Dataset, and another
	// seed a different one. Any value, 0 included, is a seed. Default: 0.
	Seed int64
	// Start is the first business day generated. Default: 2025-04-28.
	Start layout.Day
	// Days is the number of business days generated, from Start. Default: 7.
	Days int
	// Location is the business time zone: days start at midnight here. Default: Asia/Tokyo.
	Location *time.Location
	// Holidays are days of the period without any activity: no row is created, updated or
	// deleted, and the access logs hold only anonymous health checks. Each must lie within the
	// period. nil means the second day (with the default Start, 2025-04-29, Shōwa Day) when
	// Days >= 2; an empty, non-nil slice means none.
	// Default: nil.
	Holidays []layout.Day
	// Departments is the number of departments, the last of which is soft-deleted and has no
	// users. Default: 12.
	Departments int
	// Users is the number of users, including those who left before or during the period and the
	// new hires who join during it. Default: 60.
	Users int
	// PostsPerDay is the mean number of posts on a working day; weekends see about a tenth.
	// Default: 25.
	PostsPerDay float64
	// CommentsPerPost is the mean number of comments a post receives. Default: 1.5.
	CommentsPerPost float64
	// ReactionsPerPost is the mean number of reactions a post receives. Default: 4.
	ReactionsPerPost float64
}

// Defaults of Config.
const (
	DefaultStart            = "2025-04-28"
	DefaultDays             = 7
	DefaultTimeZone         = "Asia/Tokyo"
	DefaultDepartments      = 12
	DefaultUsers            = 60
	DefaultPostsPerDay      = 25.0
	DefaultCommentsPerPost  = 1.5
	DefaultReactionsPerPost = 4.0
)

// Limits of Config, which keep generated names and ids within the schema's columns.
const (
	MaxDays  = 366
	MaxUsers = 300_000
)

// Validate reports every problem of the configuration at once; the zero value is valid.
func (c Config) Validate() error {
	var errs []error
	if c.Days < 0 || c.Days > MaxDays {
		errs = append(errs, fmt.Errorf("Days is %d; give 1 to %d (0 means %d)", c.Days, MaxDays, DefaultDays))
	}
	if c.Departments < 0 {
		errs = append(errs, fmt.Errorf("Departments is %d; give a positive number (0 means %d)", c.Departments, DefaultDepartments))
	}
	if c.Users < 0 || c.Users > MaxUsers {
		errs = append(errs, fmt.Errorf("Users is %d; give 1 to %d (0 means %d)", c.Users, MaxUsers, DefaultUsers))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"PostsPerDay", c.PostsPerDay}, {"CommentsPerPost", c.CommentsPerPost}, {"ReactionsPerPost", c.ReactionsPerPost}} {
		if f.v < 0 || f.v != f.v {
			errs = append(errs, fmt.Errorf("%s is %v; give a positive mean (0 means the default)", f.name, f.v))
		}
	}
	if len(errs) == 0 {
		n := c.withDefaults()
		last := n.Start.AddDays(n.Days - 1)
		for _, h := range c.Holidays {
			if h.IsZero() || h.Before(n.Start) || last.Before(h) {
				errs = append(errs, fmt.Errorf("Holidays: %s is outside the period %s to %s; give days within it", h, n.Start, last))
			}
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns c with every zero field replaced by its default.
func (c Config) withDefaults() Config {
	if c.Start.IsZero() {
		c.Start, _ = layout.ParseDay(DefaultStart)
	}
	if c.Days == 0 {
		c.Days = DefaultDays
	}
	if c.Location == nil {
		c.Location = tokyo()
	}
	if c.Holidays == nil {
		c.Holidays = []layout.Day{}
		if c.Days >= 2 {
			c.Holidays = []layout.Day{c.Start.AddDays(1)}
		}
	} else {
		c.Holidays = append([]layout.Day{}, c.Holidays...)
	}
	if c.Departments == 0 {
		c.Departments = DefaultDepartments
	}
	if c.Users == 0 {
		c.Users = DefaultUsers
	}
	if c.PostsPerDay == 0 {
		c.PostsPerDay = DefaultPostsPerDay
	}
	if c.CommentsPerPost == 0 {
		c.CommentsPerPost = DefaultCommentsPerPost
	}
	if c.ReactionsPerPost == 0 {
		c.ReactionsPerPost = DefaultReactionsPerPost
	}
	return c
}

// tokyo is Asia/Tokyo from the system's zone database, or its fixed equivalent (Japan has kept
// UTC+9 without daylight saving since 1951) where the database is missing.
func tokyo() *time.Location {
	if loc, err := time.LoadLocation(DefaultTimeZone); err == nil {
		return loc
	}
	return time.FixedZone("JST", 9*60*60)
}
