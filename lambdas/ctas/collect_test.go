package ctas

import (
	"slices"
	"testing"
	"time"
)

func TestDeletable_KeepsTheServingAndNewestReadyRunsAndCountsTheGraceFromSupersession(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	const grace = 6 * time.Hour
	at := func(d time.Duration) time.Time { return now.Add(-d) }
	const (
		a = "20261124T010000000Z-0000000a"
		b = "20261124T020000000Z-0000000b"
		c = "20261124T030000000Z-0000000c"
	)
	ready := func(d time.Duration) *runState { return &runState{ready: true, data: true, readyAt: at(d)} }
	for _, tc := range []struct {
		name    string
		runs    map[string]*runState
		serving string
		want    []string
	}{
		{name: "superseded exactly the grace ago", runs: map[string]*runState{a: ready(8 * time.Hour), b: ready(grace)}, serving: b, want: []string{a}},
		{name: "superseded just within the grace", runs: map[string]*runState{a: ready(8 * time.Hour), b: ready(grace - time.Second)}, serving: b},
		{name: "the serving run stays, however old its successor", runs: map[string]*runState{a: ready(9 * time.Hour), b: ready(8 * time.Hour)}, serving: a},
		{name: "the newest ready run stays while the partition is elsewhere", runs: map[string]*runState{a: ready(9 * time.Hour), b: ready(8 * time.Hour)}, serving: "", want: []string{a}},
		{name: "a move off a run restarts its grace", runs: map[string]*runState{
			a: {ready: true, data: true, readyAt: at(9 * time.Hour), supersededAt: at(time.Minute)}, b: ready(8 * time.Hour)}, serving: b},
		{name: "the first newer ready marker counts, not the newest", runs: map[string]*runState{
			a: ready(20 * time.Hour), b: ready(7 * time.Hour), c: ready(time.Hour)}, serving: c, want: []string{a}},
		{name: "a crashed run goes by its start", runs: map[string]*runState{
			"20261125T070000000Z-0000000d": {data: true}, a: {data: true}, c: ready(time.Hour)}, serving: c, want: []string{a}},
		{name: "a folder that is no run id stays", runs: map[string]*runState{"manual": {data: true}, c: ready(time.Hour)}, serving: c},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := deletable(tc.runs, tc.serving, now, grace); !slices.Equal(got, tc.want) {
				t.Errorf("deletable = %v, want %v", got, tc.want)
			}
		})
	}
}
