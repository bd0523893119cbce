package queue

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Bar renders progress as a live bar that redraws one terminal line.
type Bar struct {
	w     io.Writer
	width int
	bar   *progressbar.ProgressBar
}

// NewBar returns a bar of width characters (the bar itself; counts and the description follow
// it) writing to w, a terminal.
func NewBar(w io.Writer, width int) *Bar { return &Bar{w: w, width: width} }

// Update redraws the bar.
func (b *Bar) Update(p Progress) error {
	if p.Total == 0 {
		return nil // an empty queue: nothing to draw yet
	}
	if b.bar != nil && b.bar.IsFinished() && p.Done < p.Total {
		b.bar = nil // more jobs showed up after the bar filled: draw a new one
	}
	if b.bar == nil {
		b.bar = progressbar.NewOptions(p.Total,
			progressbar.OptionSetWriter(b.w),
			progressbar.OptionSetWidth(b.width),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(false), // the ETA comes from the drain rate, below
			progressbar.OptionSetElapsedTime(false),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionSetDescription(describe(p)),
		)
	} else {
		if b.bar.GetMax() != p.Total {
			b.bar.ChangeMax(p.Total)
		}
		b.bar.Describe(describe(p))
	}
	return b.bar.Set(p.Done)
}

// Finish draws the final state and ends the line.
func (b *Bar) Finish(p Progress) error {
	if p.Total == 0 {
		_, err := fmt.Fprintln(b.w, "no jobs on the queue")
		return err
	}
	if err := b.Update(p); err != nil {
		return err
	}
	_, err := fmt.Fprintln(b.w)
	return err
}

func describe(p Progress) string {
	return fmt.Sprintf("in flight %d, queued %d, failed %d, %s", p.InFlight, p.Queued, p.Failed, eta(p))
}

func eta(p Progress) string {
	switch {
	case p.Drained:
		return "took " + p.Elapsed.Round(time.Second).String()
	case p.ETA < 0:
		return "eta unknown"
	default:
		return "eta " + p.ETA.Round(time.Second).String()
	}
}

// Lines renders progress as one line per change, for logs and pipes.
type Lines struct {
	w    io.Writer
	now  func() time.Time
	last *Progress
}

// NewLines returns a renderer that writes a time-stamped line to w whenever the counts change.
// now is the clock; nil means time.Now.
func NewLines(w io.Writer, now func() time.Time) *Lines {
	if now == nil {
		now = time.Now
	}
	return &Lines{w: w, now: now}
}

// Update writes a line if the counts changed since the last one.
func (l *Lines) Update(p Progress) error {
	if l.last != nil && sameCounts(*l.last, p) {
		return nil
	}
	l.last = &p
	return l.line(p)
}

// Finish writes the final line, unless the queue was empty all along and said so already.
func (l *Lines) Finish(p Progress) error {
	if p.Total == 0 && l.last != nil && sameCounts(*l.last, p) {
		return nil
	}
	l.last = &p
	return l.line(p)
}

func (l *Lines) line(p Progress) error {
	ts := l.now().Format(time.RFC3339)
	if p.Total == 0 {
		_, err := fmt.Fprintf(l.w, "%s no jobs on the queue\n", ts)
		return err
	}
	_, err := fmt.Fprintf(l.w, "%s done %d/%d (%d%%), %s\n", ts, p.Done, p.Total, p.Done*100/p.Total, describe(p))
	return err
}

func sameCounts(a, b Progress) bool {
	return a.Total == b.Total && a.Done == b.Done && a.Queued == b.Queued && a.InFlight == b.InFlight && a.Failed == b.Failed
}
