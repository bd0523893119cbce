// Package backfill re-aggregates past days: a Job is one SQS message (one business day and the
// KPIs to rebuild for it), written by the operator CLI and worked by the backfill Lambda. A job
// that one invocation cannot finish is handed on as a continuation: the same day, the KPIs not
// yet published.
package backfill

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// Job is one message on the backfill queue.
type Job struct {
	// RequestID identifies the operator's request (one `kpilake backfill` run); every job of a
	// request carries it, so logs and traces of one backfill can be found together.
	RequestID string `json:"request_id"`
	// Date is the business day, YYYY-MM-DD.
	Date string `json:"date"`
	// KPIs to rebuild for the day. The worker runs them in dependency waves; KPIs that depend on
	// them are rebuilt too (queries.Catalog.Waves). Empty means the whole catalog.
	KPIs []string `json:"kpis,omitempty"`
	// Continuation is 0 for a job the CLI sent, n for the job that the n-th invocation of a day
	// handed on: its KPIs are those the earlier invocations had not published. A job without the
	// field (sent before continuations existed) is a first one.
	Continuation int `json:"continuation,omitempty"`
}

// MalformedError is a job no retry can fix: not JSON, unknown fields, a bad date, an unknown KPI.
// The worker sends it to the dead-letter queue at once.
type MalformedError struct{ Err error }

func (e *MalformedError) Error() string { return "malformed backfill job: " + e.Err.Error() }
func (e *MalformedError) Unwrap() error { return e.Err }

// maxRequestID bounds request ids: they go into logs, traces and message attributes.
const maxRequestID = 128

// ParseJob decodes and validates one message body against the catalog. It returns the job, its
// day and the waves to run, or a *MalformedError that names the field and the fix.
func ParseJob(body []byte, cat *queries.Catalog) (Job, layout.Day, [][]string, error) {
	var j Job
	if err := checkKeys(body); err != nil {
		return j, layout.Day{}, nil, &MalformedError{err}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return j, layout.Day{}, nil, &MalformedError{fmt.Errorf(`body is not a job {"request_id": ..., "date": "YYYY-MM-DD", "kpis": [...]}: %w`, err)}
	}
	// Decoder.More would let a trailing ']' or '}' through: only white space may follow the job.
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return j, layout.Day{}, nil, &MalformedError{errors.New("body holds more than one JSON value, or text after the job; send one job per message")}
	}
	if err := j.validateRequestID(); err != nil {
		return j, layout.Day{}, nil, &MalformedError{err}
	}
	if j.Continuation < 0 {
		return j, layout.Day{}, nil, &MalformedError{fmt.Errorf(`field "continuation" is %d; leave it out (the worker sets it when it hands a job on)`, j.Continuation)}
	}
	day, err := layout.ParseDay(j.Date)
	if err != nil {
		return j, layout.Day{}, nil, &MalformedError{fmt.Errorf(`field "date": %w`, err)}
	}
	waves, err := cat.Waves(j.KPIs)
	if err != nil {
		return j, day, nil, &MalformedError{fmt.Errorf(`field "kpis": %w`, err)}
	}
	return j, day, waves, nil
}

func (j Job) validateRequestID() error {
	switch {
	case j.RequestID == "":
		return errors.New(`field "request_id" is empty; the CLI sets one per backfill request`)
	case len(j.RequestID) > maxRequestID:
		return fmt.Errorf(`field "request_id" is %d bytes long; use at most %d`, len(j.RequestID), maxRequestID)
	case strings.IndexFunc(j.RequestID, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) >= 0:
		return fmt.Errorf(`field "request_id" %q may hold only letters, digits, '-', '_' and '.'`, j.RequestID)
	}
	return nil
}

// Body encodes the job as a message body.
func (j Job) Body() (string, error) {
	b, err := json.Marshal(j)
	if err != nil {
		return "", fmt.Errorf("encode backfill job for %s: %w", j.Date, err)
	}
	return string(b), nil
}

// jobKeys are Job's JSON keys, as the CLI writes them.
var jobKeys = []string{"request_id", "date", "kpis", "continuation"}

// checkKeys refuses what encoding/json would quietly accept: a key given twice (it keeps the last)
// and a key in another case (it matches case-insensitively). Anything that is not a JSON object is
// left to the decoder, which says what it is.
func checkKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := tok.(string)
		if seen[key] {
			return fmt.Errorf("key %q appears twice; give each field once", key)
		}
		seen[key] = true
		for _, k := range jobKeys {
			if key != k && strings.EqualFold(key, k) {
				return fmt.Errorf("key %q: write it %q (keys are case-sensitive)", key, k)
			}
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return nil
}
