package sample

import (
	"bufio"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"time"

	"github.com/kpilake/kpilake/layout"
)

// AccessLog is one request record of the web servers, as the Firehose stream delivers it: one
// JSON object per line (the stream compresses the files; the records themselves are plain JSON):
//
//	{"timestamp":"2025-04-28T00:12:34.567Z","user_id":42,"department_id":5,"method":"GET","path":"/api/timeline?page=1","status":200,"latency_ms":37,"user_agent":"Mozilla/5.0 ..."}
//
//	timestamp      string  when the request arrived: RFC 3339, UTC ("Z"), always three fraction digits
//	user_id        number  the signed-in user (users.id); absent for anonymous requests
//	department_id  number  that user's department (users.department_id); absent with user_id
//	method         string  GET, POST, PATCH or DELETE
//	path           string  path and query string as sent, URL-encoded (/api/search?q=%E4%BC%9A...)
//	status         number  HTTP status (200, 201, 204, 304, 401, 403, 404, 422, 500)
//	latency_ms     number  server time in whole milliseconds
//	user_agent     string  the User-Agent header
//
// Keys appear in this order. Anonymous requests are health checks (GET /healthz from the load
// balancer, every 15 minutes on every day, holidays included) and sign-ins (GET /login,
// POST /api/sessions). Every post, comment and reaction of the dataset has its request here,
// stamped with the row's created_at (POST), and its edit (PATCH) or soft deletion (DELETE) with
// the row's updated_at or deleted_at.
type AccessLog struct {
	Timestamp    time.Time
	UserID       int64 // 0: anonymous
	DepartmentID int64 // 0 when UserID is 0
	Method       string
	Path         string
	Status       int
	LatencyMS    int
	UserAgent    string
	// Arrived, when set, is when the record reached the stream (a hand-built record that lands
	// late), from Timestamp to ArrivalBound after it; zero lets Arrival derive it. It is not part
	// of the delivered record.
	Arrived time.Time
}

// AccessLogTimeLayout formats AccessLog timestamps (in UTC).
const AccessLogTimeLayout = "2006-01-02T15:04:05.000Z07:00"

type accessLogJSON struct {
	Timestamp    string `json:"timestamp"`
	UserID       int64  `json:"user_id,omitempty"`
	DepartmentID int64  `json:"department_id,omitempty"`
	Method       string `json:"method"`
	Path         string `json:"path"`
	Status       int    `json:"status"`
	LatencyMS    int    `json:"latency_ms"`
	UserAgent    string `json:"user_agent"`
}

// MarshalJSON encodes the record in its delivered shape (see AccessLog).
func (a AccessLog) MarshalJSON() ([]byte, error) {
	return json.Marshal(accessLogJSON{
		Timestamp: a.Timestamp.UTC().Format(AccessLogTimeLayout), UserID: a.UserID, DepartmentID: a.DepartmentID,
		Method: a.Method, Path: a.Path, Status: a.Status, LatencyMS: a.LatencyMS, UserAgent: a.UserAgent,
	})
}

// UnmarshalJSON decodes a record in its delivered shape.
func (a *AccessLog) UnmarshalJSON(b []byte) error {
	var w accessLogJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	t, err := time.Parse(AccessLogTimeLayout, w.Timestamp)
	if err != nil {
		return fmt.Errorf("access log timestamp: %w", err)
	}
	*a = AccessLog{Timestamp: t.UTC(), UserID: w.UserID, DepartmentID: w.DepartmentID, Method: w.Method,
		Path: w.Path, Status: w.Status, LatencyMS: w.LatencyMS, UserAgent: w.UserAgent}
	return nil
}

// MaxArrivalDelay bounds how long after its timestamp a generated record reaches the delivery
// stream; ArrivalBound bounds it for any record, Arrived included.
const (
	MaxArrivalDelay = 4 * time.Minute
	ArrivalBound    = 48 * time.Hour
)

// Arrival is when the record reaches the log stream: its timestamp plus the log shipper's delay,
// under 2 s for most records and up to MaxArrivalDelay for one in eight (a batch sent again after
// a timeout), or Arrived when set. The delay is derived from the record's own fields, so a dataset always arrives the
// same way. Firehose files a record by its arrival, not its timestamp: one stamped a moment before
// midnight can land in the next day's partition.
func (a AccessLog) Arrival() time.Time {
	if !a.Arrived.IsZero() {
		return a.Arrived
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|%d|%s|%s", a.Timestamp.UnixMilli(), a.UserID, a.Method, a.Path)
	v := h.Sum64()
	if v%8 == 0 {
		return a.Timestamp.Add(time.Duration((v>>3)%uint64(MaxArrivalDelay/time.Millisecond)) * time.Millisecond)
	}
	return a.Timestamp.Add(time.Duration((v>>3)%2000) * time.Millisecond)
}

// AccessLogsOn returns the records whose timestamp falls on day in the business time zone, in
// the order of ds.AccessLogs (timestamp order, in a generated dataset).
func (ds *Dataset) AccessLogsOn(day layout.Day) []AccessLog {
	start, end := ds.bounds(day)
	var out []AccessLog
	for _, a := range ds.AccessLogs {
		if on(a.Timestamp, start, end) {
			out = append(out, a)
		}
	}
	return out
}

// WriteAccessLogs writes the access-log records of one business day as JSON lines (see
// AccessLog), in timestamp order: the content of the day's partition app_logs/<stream>/dt=D/ as
// if every record arrived without delay. (Firehose files a record by its arrival time, so in
// production a record stamped a moment before midnight can land in the next day's partition.)
func WriteAccessLogs(w io.Writer, ds *Dataset, day layout.Day) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, rec := range ds.AccessLogsOn(day) {
		if err := enc.Encode(rec); err != nil {
			return fmt.Errorf("access logs of %s: %w", day, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("access logs of %s: %w", day, err)
	}
	return nil
}

// accessLogs generates the request records: the requests behind every row change, the browsing
// sessions of each day's active users, sign-ins and health checks.
func (g *generator) accessLogs() {
	r := g.rng(streamLogs)
	var out []AccessLog
	user := func(id int64, t time.Time) AccessLog {
		u := g.ds.Users[id-1]
		return AccessLog{Timestamp: t, UserID: u.ID, DepartmentID: u.DepartmentID, UserAgent: g.agent(r, int(id-1), t)}
	}
	write := func(id int64, t time.Time, method, path string, status int) {
		a := user(id, t)
		a.Method, a.Path, a.Status, a.LatencyMS = method, path, status, latency(r, 80)
		out = append(out, a)
	}
	changes := func(id int64, created, updated time.Time, deleted *time.Time, create, edit, del string) {
		write(id, created, "POST", create, 201)
		switch {
		case deleted != nil:
			write(id, *deleted, "DELETE", del, 204)
		case updated.After(created):
			write(id, updated, "PATCH", edit, 200)
		}
	}
	for _, p := range g.ds.Posts {
		self := fmt.Sprintf("/api/posts/%d", p.ID)
		changes(p.UserID, p.CreatedAt, p.UpdatedAt, p.DeletedAt, "/api/posts", self, self)
	}
	for _, c := range g.ds.Comments {
		self := fmt.Sprintf("/api/comments/%d", c.ID)
		changes(c.UserID, c.CreatedAt, c.UpdatedAt, c.DeletedAt, fmt.Sprintf("/api/posts/%d/comments", c.PostID), self, self)
	}
	for _, x := range g.ds.Reactions {
		changes(x.UserID, x.CreatedAt, x.UpdatedAt, x.DeletedAt, fmt.Sprintf("/api/posts/%d/reactions", x.PostID), "", fmt.Sprintf("/api/reactions/%d", x.ID))
	}

	liveDepts := make([]int64, 0, len(g.ds.Departments))
	for _, d := range g.ds.Departments {
		if d.DeletedAt == nil {
			liveDepts = append(liveDepts, d.ID)
		}
	}
	for di := range g.days {
		d := &g.days[di]
		for t := d.start; t.Before(d.end); t = t.Add(15 * time.Minute) {
			ts := t.Add(time.Duration(r.IntN(1000)) * time.Millisecond)
			out = append(out, AccessLog{Timestamp: ts, Method: "GET", Path: "/healthz", Status: 200, LatencyMS: 1 + r.IntN(3), UserAgent: healthCheckAgent})
		}
		for _, u := range d.active {
			for range 1 + poisson(r, 0.8) {
				start := g.timeOn(di, r)
				ua := g.agent(r, u, start)
				if signIn := start.Add(-3 * time.Second); r.Float64() < 0.25 && !signIn.Before(d.start) {
					out = append(out, AccessLog{Timestamp: signIn, Method: "GET", Path: "/login", Status: 200, LatencyMS: latency(r, 20), UserAgent: ua})
					if r.Float64() < 0.05 { // a mistyped password first
						out = append(out, AccessLog{Timestamp: signIn.Add(time.Second), Method: "POST", Path: "/api/sessions", Status: 401, LatencyMS: latency(r, 150), UserAgent: ua})
					}
					out = append(out, AccessLog{Timestamp: signIn.Add(2 * time.Second), Method: "POST", Path: "/api/sessions", Status: 201, LatencyMS: latency(r, 150), UserAgent: ua})
				}
				t := start
				for range 2 + poisson(r, 6) {
					if !t.Before(d.end) {
						break // the rest of the session belongs to the next day; it is not generated
					}
					a := user(int64(u+1), t)
					a.UserAgent = ua
					a.Method, a.Path, a.Status = "GET", g.browsePath(r, t, liveDepts), browseStatus(r)
					a.LatencyMS = latency(r, 35)
					if a.Path == "" { // a rejected post: an empty body
						a.Method, a.Path, a.Status, a.LatencyMS = "POST", "/api/posts", 422, latency(r, 40)
					}
					if a.Status == 500 {
						a.LatencyMS = 1000 + r.IntN(4000)
					}
					out = append(out, a)
					t = t.Add(100*time.Millisecond + time.Duration(r.ExpFloat64()*float64(40*time.Second))).Truncate(time.Millisecond)
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b AccessLog) int { return a.Timestamp.Compare(b.Timestamp) })
	g.ds.AccessLogs = out
}

// agent is user u's User-Agent at t: the mobile app more often outside office hours.
func (g *generator) agent(r *rand.Rand, u int, t time.Time) string {
	share := 0.15
	if h := t.In(g.loc).Hour(); h < 9 || h >= 19 {
		share = 0.6
	}
	if r.Float64() < share {
		return g.people[u].mobile
	}
	return g.people[u].desktop
}

// browsePath is what a signed-in user reads at t; "" stands for a rejected POST.
func (g *generator) browsePath(r *rand.Rand, t time.Time, depts []int64) string {
	switch u := r.Float64(); {
	case u < 0.45:
		return fmt.Sprintf("/api/timeline?page=%d", 1+int(r.ExpFloat64()*0.7))
	case u < 0.65:
		n := sort.Search(len(g.ds.Posts), func(i int) bool { return g.ds.Posts[i].CreatedAt.After(t) })
		if n == 0 {
			return "/api/timeline?page=1"
		}
		back := min(n-1, int(r.ExpFloat64()*20))
		return fmt.Sprintf("/api/posts/%d", g.ds.Posts[n-1-back].ID)
	case u < 0.75:
		return "/api/notifications"
	case u < 0.83:
		n := sort.Search(len(g.ds.Users), func(i int) bool { return g.ds.Users[i].CreatedAt.After(t) })
		return fmt.Sprintf("/api/users/%d", 1+r.IntN(max(n, 1)))
	case u < 0.87 && len(depts) > 0:
		return fmt.Sprintf("/api/departments/%d/members", depts[r.IntN(len(depts))])
	case u < 0.92:
		return "/api/search?q=" + url.QueryEscape(searchTerms[r.IntN(len(searchTerms))])
	case u < 0.995:
		return "/api/timeline?page=1"
	default:
		return ""
	}
}

func browseStatus(r *rand.Rand) int {
	switch u := r.Float64(); {
	case u < 0.975:
		return 200
	case u < 0.985:
		return 304
	case u < 0.993:
		return 404
	case u < 0.997:
		return 403
	default:
		return 500
	}
}

// latency is a server time in milliseconds around median.
func latency(r *rand.Rand, median float64) int {
	return max(1, int(median*math.Exp(0.6*r.NormFloat64())))
}
