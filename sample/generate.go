package sample

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kpilake/kpilake/layout"
)

// Generate builds the dataset cfg describes. It is deterministic: the same Config gives the same
// Dataset, field by field, on every run. It panics if cfg is invalid; check user input with
// Config.Validate first.
//
// What the generated company looks like:
//   - a department tree (top-level divisions with sub-departments); the last department was
//     abolished before the period: soft-deleted and empty;
//   - users with Japanese names (one with 𠮷, outside the BMP), most hired before the period;
//     with Users >= 5, some left before the period (soft-deleted, no activity), some leave during
//     it (soft-deleted at the end of a working day, no activity from that day on) and some join
//     during it (active from the day after they join);
//   - on each day every eligible user is active with their own probability (lower at weekends);
//     only active users post, comment, react and appear in the access logs, and every post,
//     comment and reaction has its request in the access logs at the same instant;
//   - activity follows the business day in Config.Location: mostly 09:00-19:00, with early
//     mornings and late nights (which fall on the previous UTC date), and on every active day a
//     post at exactly 00:00:00.000 and one at 23:59:59.999, followed by a thanks at exactly
//     00:00:00.000 of the next day, so that a KPI that buckets by UTC date or uses an inclusive
//     end of day is visibly wrong;
//   - Config.Holidays have no activity at all: nothing is created, updated or deleted, and the
//     access logs hold only anonymous health checks;
//   - comments and reactions arrive minutes to days after their post; some posts and comments are
//     edited (UpdatedAt moves) and a few percent of posts, comments and reactions are soft-deleted,
//     by their author, on a day the author is active; comments and reactions on a soft-deleted post
//     keep DeletedAt nil;
//   - private posts (drafts) get no comments or reactions; department posts only from the
//     author's department.
func Generate(cfg Config) *Dataset {
	if err := cfg.Validate(); err != nil {
		panic(fmt.Errorf("sample.Generate: invalid Config: %w", err))
	}
	g := newGenerator(cfg.withDefaults())
	g.departments()
	g.users()
	g.activity()
	g.posts()
	g.comments()
	g.reactions()
	g.accessLogs()
	return g.ds
}

// Random streams: each part of the dataset draws from its own, so that changing how one table is
// generated does not reshuffle the others.
const (
	streamDepartments uint64 = iota + 1
	streamUsers
	streamActivity
	streamPosts
	streamComments
	streamReactions
	streamLogs
)

// Rates of the generated behaviour.
const (
	weekendFactor      = 0.1
	postDeleteRate     = 0.04
	postEditRate       = 0.08
	commentDeleteRate  = 0.05
	commentEditRate    = 0.05
	reactionDeleteRate = 0.06
	sameDepartmentRate = 0.55 // share of reactions given from within the author's department
)

// hourWeights is the relative activity of each local hour of the day.
var hourWeights = []float64{2, 0.5, 0.2, 0.1, 0.1, 0.2, 0.8, 3, 8, 12, 14, 13, 7, 12, 13, 13, 12, 10, 7, 4, 3, 2.5, 2, 1.5}

type generator struct {
	cfg    Config
	loc    *time.Location
	ds     *Dataset
	days   []dayState
	launch time.Time // the SNS went live: six years before the period, 1 April 10:00 local

	people []persona // by user index (ID-1)
	pops   []float64 // popularity by post index
	pinned []bool    // by post index: boundary posts, never edited or deleted
}

type dayState struct {
	start, end time.Time // [start, end) in UTC
	factor     float64   // 1 working day, weekendFactor at weekends, 0 on holidays
	workday    bool      // Monday to Friday and not a holiday

	active   []int  // user indexes active that day, ascending
	isActive []bool // by user index
	posters  picker
	talkers  picker           // commenters
	reactors picker           // reaction givers
	byDept   map[int64]picker // reaction givers and commenters of one department
}

// persona is how one user behaves.
type persona struct {
	first, last int // day indexes on which the user may be active (first > last: never)
	pActive     float64
	wPost       float64
	wComment    float64
	wReact      float64
	family      string
	desktop     string
	mobile      string
}

func newGenerator(cfg Config) *generator {
	g := &generator{cfg: cfg, loc: cfg.Location, ds: &Dataset{Config: cfg, Earlier: Versions{
		Departments: map[int64]Department{}, Users: map[int64]User{}, Posts: map[int64]Post{},
		Comments: map[int64]Comment{}, Reactions: map[int64]Reaction{},
	}}}
	holiday := map[string]bool{}
	for _, h := range cfg.Holidays {
		holiday[h.String()] = true
	}
	for i := range cfg.Days {
		d := cfg.Start.AddDays(i)
		s := dayState{start: d.Start(g.loc).UTC(), end: d.AddDays(1).Start(g.loc).UTC()}
		wd := d.Start(g.loc).Weekday()
		switch {
		case holiday[d.String()]:
			s.factor = 0
		case wd == time.Saturday || wd == time.Sunday:
			s.factor = weekendFactor
		default:
			s.factor, s.workday = 1, true
		}
		g.days = append(g.days, s)
	}
	y, _, _ := cfg.Start.Start(g.loc).Date()
	g.launch = time.Date(y-6, time.April, 1, 10, 0, 0, 0, g.loc).UTC()
	return g
}

func (g *generator) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(g.cfg.Seed), stream))
}

func (g *generator) periodStart() time.Time { return g.days[0].start }

// dayIndex is the index of the generated day t falls on, or -1 outside the period.
func (g *generator) dayIndex(t time.Time) int {
	i := sort.Search(len(g.days), func(i int) bool { return g.days[i].end.After(t) })
	if i == len(g.days) || t.Before(g.days[i].start) {
		return -1
	}
	return i
}

// activeAt reports whether user index u is active on the day of t (which lies in the period and
// is not a holiday), returning that day's index.
func (g *generator) activeAt(u int, t time.Time) (int, bool) {
	di := g.dayIndex(t)
	if di < 0 || g.days[di].factor == 0 {
		return di, false
	}
	return di, u < 0 || g.days[di].isActive[u]
}

// at is day index di at local clock time h:m, plus a random offset of up to spread.
func (g *generator) at(di, h, m int, spread time.Duration, r *rand.Rand) time.Time {
	y, mo, d := g.days[di].start.In(g.loc).Date()
	t := time.Date(y, mo, d, h, m, 0, 0, g.loc)
	if spread > 0 {
		t = t.Add(time.Duration(r.Int64N(int64(spread))))
	}
	return t.UTC().Truncate(time.Millisecond)
}

// timeOn is a random instant of day di, following hourWeights.
func (g *generator) timeOn(di int, r *rand.Rand) time.Time {
	h := pickWeighted(r, hourWeights)
	t := g.at(di, h, 0, time.Hour, r)
	if !t.Before(g.days[di].end) { // only on a day that skips an hour (daylight saving)
		t = g.days[di].end.Add(-time.Millisecond)
	}
	return t
}

// followUp is when something happens after t: mostly within the hour, sometimes hours or days later.
func followUp(r *rand.Rand, t time.Time) time.Time {
	var d time.Duration
	switch u := r.Float64(); {
	case u < 0.7:
		d = time.Duration(r.ExpFloat64() * float64(25*time.Minute))
	case u < 0.95:
		d = time.Duration(r.ExpFloat64() * float64(4*time.Hour))
	default:
		d = 24*time.Hour + time.Duration(r.Float64()*float64(48*time.Hour))
	}
	return t.Add(max(d, time.Second)).Truncate(time.Millisecond)
}

// workdays lists the indexes of working days from index from on.
func (g *generator) workdays(from int) []int {
	var out []int
	for i := from; i < len(g.days); i++ {
		if g.days[i].workday {
			out = append(out, i)
		}
	}
	return out
}

func (g *generator) departments() {
	r := g.rng(streamDepartments)
	n := g.cfg.Departments
	live := n
	if n >= 2 {
		live = n - 1
	}
	for i := range live {
		spec := departmentSpec{fmt.Sprintf("第%d営業部", i-len(departmentChart)+3), salesHeadquarters, 5}
		if i < len(departmentChart) {
			spec = departmentChart[i]
		}
		d := Department{ID: int64(i + 1), Name: spec.name}
		if spec.parent >= 0 {
			d.ParentID = ptr(int64(spec.parent + 1))
		}
		d.CreatedAt = g.launch.Add(time.Duration(i) * time.Second)
		d.UpdatedAt = d.CreatedAt
		if r.Float64() < 0.3 { // renamed or moved since
			d.UpdatedAt = between(r, d.CreatedAt, g.periodStart().Add(-24*time.Hour))
		}
		g.ds.Departments = append(g.ds.Departments, d)
	}
	// One department changes during the period (a rename): an update for incremental extraction.
	if wds := g.workdays(1); len(wds) > 0 && live >= 2 {
		d := &g.ds.Departments[r.IntN(live)]
		g.ds.Earlier.Departments[d.ID] = *d
		d.UpdatedAt = g.at(wds[r.IntN(len(wds))], 10, 0, 2*time.Hour, r)
	}
	if n >= 2 {
		deleted := g.periodStart().AddDate(0, 0, -30-r.IntN(300))
		deleted = g.at0(deleted, 18, r)
		d := Department{ID: int64(n), Name: deletedDepartment, CreatedAt: deleted.AddDate(-2, 0, 0), UpdatedAt: deleted, DeletedAt: ptr(deleted)}
		g.ds.Departments = append(g.ds.Departments, d)
	}
}

// at0 is the local day of t at hour h plus up to two random hours.
func (g *generator) at0(t time.Time, h int, r *rand.Rand) time.Time {
	y, m, d := t.In(g.loc).Date()
	return time.Date(y, m, d, h, 0, 0, 0, g.loc).Add(time.Duration(r.Int64N(int64(2 * time.Hour)))).UTC().Truncate(time.Millisecond)
}

// userPlan is a user before ids are assigned.
type userPlan struct {
	dept             int64
	joined           time.Time // local midnight of joined_on
	created, updated time.Time
	deleted          *time.Time
	first, last      int
	// leaves: the user leaves during the period; before is their UpdatedAt until then.
	leaves bool
	before time.Time
}

func (g *generator) users() {
	r := g.rng(streamUsers)
	n := g.cfg.Users
	nDays := len(g.days)
	liveDepts := g.ds.Departments
	if len(liveDepts) >= 2 {
		liveDepts = liveDepts[:len(liveDepts)-1]
	}
	deptWeights := make([]float64, len(liveDepts))
	for i := range liveDepts {
		deptWeights[i] = 5
		if i < len(departmentChart) {
			deptWeights[i] = departmentChart[i].weight
		}
	}
	nNew, nLeave, nLeft := 0, 0, 0
	if n >= 5 {
		nNew, nLeave, nLeft = max(1, n*3/100), max(1, n*3/100), max(1, n*4/100)
	}
	joinDays, leaveDays := g.workdays(0), g.workdays(1)
	if len(joinDays) == 0 {
		nNew = 0
	}
	if len(leaveDays) == 0 {
		nLeave = 0
	}
	start := g.periodStart()
	startY, _, _ := start.In(g.loc).Date()
	plans := make([]userPlan, n)
	for i := range plans {
		p := &plans[i]
		p.dept = liveDepts[pickWeighted(r, deptWeights)].ID
		p.first, p.last = 0, nDays-1
		if i >= n-nNew { // new hires: the last ids, created on the morning they join
			di := joinDays[r.IntN(len(joinDays))]
			p.joined = g.days[di].start
			p.created = g.at(di, 8, 30, 30*time.Minute, r)
			p.updated = p.created
			p.first = di + 1
			continue
		}
		// Japanese companies hire new graduates on 1 April; the rest join any day.
		if r.Float64() < 0.6 {
			p.joined = time.Date(startY-1-r.IntN(15), time.April, 1, 0, 0, 0, 0, g.loc)
		} else {
			p.joined = between(r, start.AddDate(-15, 0, 0), start.AddDate(0, 0, -14)).In(g.loc)
			y, m, d := p.joined.Date()
			p.joined = time.Date(y, m, d, 0, 0, 0, 0, g.loc)
		}
		if p.joined.Before(g.launch) { // imported when the SNS went live
			p.created = g.launch.Add(time.Duration(i)*2*time.Second + time.Duration(r.IntN(2000))*time.Millisecond)
		} else {
			p.created = p.joined.Add(8*time.Hour + 30*time.Minute + time.Duration(r.Int64N(int64(time.Hour)))).UTC().Truncate(time.Millisecond)
		}
		p.updated = p.created
		if r.Float64() < 0.5 {
			p.updated = between(r, p.created, start.Add(-24*time.Hour))
		}
	}
	// Leavers, among the users hired before the period.
	order := r.Perm(n - nNew)
	for _, i := range order {
		p := &plans[i]
		switch {
		case nLeft > 0:
			lo, hi := p.created.Add(24*time.Hour), start.Add(-24*time.Hour)
			if !lo.Before(hi) {
				continue
			}
			t := g.at0(between(r, lo, hi), 18, r)
			p.deleted, p.updated = &t, t
			p.first, p.last = 1, 0
			nLeft--
		case nLeave > 0:
			di := leaveDays[r.IntN(len(leaveDays))]
			t := g.at(di, 18, 0, 2*time.Hour, r)
			p.leaves, p.before = true, p.updated
			p.deleted, p.updated = &t, t
			p.last = di - 1
			nLeave--
		}
	}
	// ids in created_at order, as AUTO_INCREMENT gives them
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return plans[a].created.Compare(plans[b].created) })

	emails := map[string]int{}
	g.people = make([]persona, n)
	leavers := map[int64]time.Time{} // id: UpdatedAt before leaving
	for id0, i := range idx {
		p := plans[i]
		family := familyNames[r.IntN(len(familyNames))]
		if id0 >= 1 && id0 <= len(rareFamilyNames) {
			family = rareFamilyNames[id0-1]
		}
		given := givenNames[r.IntN(len(givenNames))]
		local := given.romaji + "." + family.romaji
		emails[local]++
		if k := emails[local]; k > 1 {
			local = fmt.Sprintf("%s%d", local, k)
		}
		u := User{
			ID:           int64(id0 + 1),
			DepartmentID: p.dept,
			EmployeeCode: fmt.Sprintf("E%06d", 100000+id0*3+r.IntN(3)),
			DisplayName:  family.kanji + " " + given.kanji,
			Email:        local + "@example.co.jp",
			Role:         RoleMember,
			JoinedOn:     layout.DayOf(p.joined, g.loc),
			CreatedAt:    p.created,
			UpdatedAt:    p.updated,
			DeletedAt:    p.deleted,
		}
		g.ds.Users = append(g.ds.Users, u)
		if p.leaves {
			leavers[u.ID] = p.before
		}
		g.people[id0] = persona{
			first: p.first, last: p.last,
			pActive: 0.55 + 0.43*r.Float64(),
			wPost:   lognormal(r, 1.2), wComment: lognormal(r, 0.8), wReact: lognormal(r, 0.8),
			family:  family.kanji,
			desktop: desktopAgents[r.IntN(len(desktopAgents))],
			mobile:  mobileAgents[r.IntN(len(mobileAgents))],
		}
	}
	g.roles(r, leavers)
}

// roles makes the first member of every department of three or more a manager and the first two
// other members of the IT department (or user 1) administrators; then promotes a few members to
// manager during the period (an update of the users table).
func (g *generator) roles(r *rand.Rand, leavers map[int64]time.Time) {
	members := map[int64][]int{}
	for i, u := range g.ds.Users {
		if !u.CreatedAt.Before(g.periodStart()) {
			continue
		}
		members[u.DepartmentID] = append(members[u.DepartmentID], i)
	}
	for _, d := range g.ds.Departments {
		m := members[d.ID]
		if len(m) >= 3 {
			g.ds.Users[m[0]].Role = RoleManager
			m = m[1:]
		}
		if d.Name == itDepartment {
			for _, i := range m[:min(2, len(m))] {
				g.ds.Users[i].Role = RoleAdmin
			}
		}
	}
	if !slices.ContainsFunc(g.ds.Users, func(u User) bool { return u.Role == RoleAdmin }) && len(g.ds.Users) > 0 {
		g.ds.Users[0].Role = RoleAdmin
	}
	// The roles above were theirs from the start; a leaver's version before leaving has them.
	for id, before := range leavers {
		u := g.ds.Users[id-1]
		u.DeletedAt, u.UpdatedAt = nil, before
		g.ds.Earlier.Users[id] = u
	}
	wds := g.workdays(1)
	if len(wds) == 0 {
		return
	}
	for range max(1, len(g.ds.Users)/50) {
		i := r.IntN(len(g.ds.Users))
		u := &g.ds.Users[i]
		if u.Role != RoleMember || u.DeletedAt != nil || !u.CreatedAt.Before(g.periodStart()) {
			continue
		}
		g.ds.Earlier.Users[u.ID] = *u
		u.Role = RoleManager
		u.UpdatedAt = g.at(wds[r.IntN(len(wds))], 10, 0, 7*time.Hour, r)
	}
}

// activity decides who is active on each day and builds the pickers for that day.
func (g *generator) activity() {
	r := g.rng(streamActivity)
	for di := range g.days {
		d := &g.days[di]
		d.isActive = make([]bool, len(g.ds.Users))
		if d.factor > 0 {
			for u, p := range g.people {
				if di >= p.first && di <= p.last && r.Float64() < p.pActive*d.factor {
					d.active = append(d.active, u)
					d.isActive[u] = true
				}
			}
		}
		d.posters = newPicker(d.active, func(u int) float64 { return g.people[u].wPost })
		d.talkers = newPicker(d.active, func(u int) float64 { return g.people[u].wComment })
		d.reactors = newPicker(d.active, func(u int) float64 { return g.people[u].wReact })
		byDept := map[int64][]int{}
		for _, u := range d.active {
			dept := g.ds.Users[u].DepartmentID
			byDept[dept] = append(byDept[dept], u)
		}
		d.byDept = map[int64]picker{}
		for dept, us := range byDept {
			d.byDept[dept] = newPicker(us, func(u int) float64 { return g.people[u].wReact })
		}
	}
}

type postPlan struct {
	post   Post
	author int
	pinned bool
}

func (g *generator) posts() {
	r := g.rng(streamPosts)
	var plans []postPlan
	add := func(u int, t time.Time, body string, pinned bool) {
		plans = append(plans, postPlan{Post{UserID: int64(u + 1), Body: body, CreatedAt: t, UpdatedAt: t}, u, pinned})
	}
	for di := range g.days {
		d := &g.days[di]
		if d.factor == 0 || len(d.active) == 0 {
			continue
		}
		for range poisson(r, g.cfg.PostsPerDay*d.factor) {
			u, _ := d.posters.pick(r)
			add(u, g.timeOn(di, r), "", false)
		}
		add(d.active[r.IntN(len(d.active))], d.start, midnightBody, true)
		add(d.active[r.IntN(len(d.active))], d.end.Add(-time.Millisecond), lastMinuteBody, true)
		for _, u := range d.active {
			if g.people[u].first == di && di > 0 && !g.ds.Users[u].CreatedAt.Before(g.periodStart()) {
				add(u, g.at(di, 9, 30, time.Hour, r), newHireBody, false)
			}
		}
	}
	slices.SortStableFunc(plans, func(a, b postPlan) int { return a.post.CreatedAt.Compare(b.post.CreatedAt) })

	special := []string{edgeCaseBody, strings.Repeat(longBodyParagraph, 40)}
	g.pops = make([]float64, len(plans))
	g.pinned = make([]bool, len(plans))
	for i := range plans {
		pl := &plans[i]
		p := &pl.post
		p.ID = int64(i + 1)
		g.pops[i] = lognormal(r, 0.7)
		g.pinned[i] = pl.pinned
		if p.Body == "" {
			if len(special) > 0 {
				p.Body, special = special[0], special[1:]
			} else {
				p.Body = g.postBody(r)
			}
		}
		switch u := r.Float64(); {
		case u < 0.75 || pl.pinned:
			p.Visibility = VisibilityPublic
		case u < 0.95:
			p.Visibility = VisibilityDepartment
		default:
			p.Visibility = VisibilityPrivate
		}
		if pl.pinned {
			continue
		}
		switch u := r.Float64(); {
		case u < postDeleteRate:
			t := followUp(r, p.CreatedAt)
			if _, ok := g.activeAt(pl.author, t); ok {
				g.ds.Earlier.Posts[p.ID] = *p
				p.DeletedAt, p.UpdatedAt = &t, t
			}
		case u < postDeleteRate+postEditRate:
			t := followUp(r, p.CreatedAt)
			if _, ok := g.activeAt(pl.author, t); ok {
				g.ds.Earlier.Posts[p.ID] = *p
				p.UpdatedAt = t
				p.Body += editSuffix
			}
		}
	}
	for _, pl := range plans {
		g.ds.Posts = append(g.ds.Posts, pl.post)
	}
}

func (g *generator) postBody(r *rand.Rand) string {
	fill := strings.NewReplacer("{topic}", topics[r.IntN(len(topics))], "{name}", g.people[r.IntN(len(g.people))].family)
	var b strings.Builder
	b.WriteString(fill.Replace(postTemplates[r.IntN(len(postTemplates))]))
	if r.Float64() < 0.4 {
		b.WriteString("\n" + fill.Replace(postTemplates[r.IntN(len(postTemplates))]))
	}
	if r.Float64() < 0.5 {
		b.WriteString(" " + emoji[r.IntN(len(emoji))])
	}
	if r.Float64() < 0.3 {
		b.WriteString(" " + hashtags[r.IntN(len(hashtags))])
	}
	return b.String()
}

// canRespond reports whether anyone but the author could respond to post p at t: the post is not
// private and not yet deleted.
func (g *generator) canRespond(p *Post, t time.Time) bool {
	return p.Visibility != VisibilityPrivate && (p.DeletedAt == nil || t.Before(*p.DeletedAt))
}

// responder picks who responds to post p on day di: anyone active, or, for a department post or
// by chance, someone from the author's department; never the author. ok is false if nobody can.
func (g *generator) responder(r *rand.Rand, di int, p *Post, all picker, sameDeptRate float64) (int, bool) {
	d := &g.days[di]
	author := int(p.UserID - 1)
	dept := g.ds.Users[author].DepartmentID
	from := all
	if p.Visibility == VisibilityDepartment || r.Float64() < sameDeptRate {
		from = d.byDept[dept]
	}
	for range 4 {
		u, ok := from.pick(r)
		if ok && u != author {
			return u, true
		}
	}
	return 0, false
}

func (g *generator) comments() {
	r := g.rng(streamComments)
	var cs []Comment
	for i := range g.ds.Posts {
		p := &g.ds.Posts[i]
		for range poisson(r, g.cfg.CommentsPerPost*g.pops[i]) {
			t := followUp(r, p.CreatedAt)
			di, ok := g.activeAt(-1, t)
			if !ok || !g.canRespond(p, t) {
				continue
			}
			u, ok := g.responder(r, di, p, g.days[di].talkers, 0.3)
			if r.Float64() < 0.1 { // the author answers
				u, ok = int(p.UserID-1), g.days[di].isActive[p.UserID-1]
			}
			if !ok {
				continue
			}
			body := strings.ReplaceAll(commentTemplates[r.IntN(len(commentTemplates))], "{name}", g.people[p.UserID-1].family)
			cs = append(cs, Comment{PostID: p.ID, UserID: int64(u + 1), Body: body, CreatedAt: t, UpdatedAt: t})
		}
	}
	slices.SortStableFunc(cs, func(a, b Comment) int { return a.CreatedAt.Compare(b.CreatedAt) })
	for i := range cs {
		c := &cs[i]
		c.ID = int64(i + 1)
		p := &g.ds.Posts[c.PostID-1]
		switch u := r.Float64(); {
		case u < commentDeleteRate:
			t := followUp(r, c.CreatedAt)
			if _, ok := g.activeAt(int(c.UserID-1), t); ok && g.canRespond(p, t) {
				g.ds.Earlier.Comments[c.ID] = *c
				c.DeletedAt, c.UpdatedAt = &t, t
			}
		case u < commentDeleteRate+commentEditRate:
			t := followUp(r, c.CreatedAt)
			if _, ok := g.activeAt(int(c.UserID-1), t); ok && g.canRespond(p, t) {
				g.ds.Earlier.Comments[c.ID] = *c
				c.UpdatedAt = t
				c.Body += "（編集済み）"
			}
		}
	}
	g.ds.Comments = cs
}

var reactionKinds = []ReactionKind{ReactionLike, ReactionThanks, ReactionCelebrate, ReactionInsightful}
var reactionWeights = []float64{55, 20, 10, 15}

type reactionKey struct {
	post, user int64
	kind       ReactionKind
}

func (g *generator) reactions() {
	r := g.rng(streamReactions)
	type plan struct {
		Reaction
		pinned bool
	}
	var rs []plan
	seen := map[reactionKey]bool{}
	add := func(p *Post, u int, kind ReactionKind, t time.Time, pinned bool) {
		k := reactionKey{p.ID, int64(u + 1), kind}
		if seen[k] {
			return
		}
		seen[k] = true
		rs = append(rs, plan{Reaction{PostID: p.ID, UserID: int64(u + 1), Kind: kind, CreatedAt: t, UpdatedAt: t}, pinned})
	}
	for i := range g.ds.Posts {
		p := &g.ds.Posts[i]
		for range poisson(r, g.cfg.ReactionsPerPost*g.pops[i]) {
			t := followUp(r, p.CreatedAt)
			di, ok := g.activeAt(-1, t)
			if !ok || !g.canRespond(p, t) {
				continue
			}
			if u, ok := g.responder(r, di, p, g.days[di].reactors, sameDepartmentRate); ok {
				add(p, u, reactionKinds[pickWeighted(r, reactionWeights)], t, false)
			}
		}
		// The last post of a day is thanked at exactly midnight: a reaction on the next day.
		if g.pinned[i] && p.CreatedAt.Add(time.Millisecond).Equal(g.days[g.dayIndex(p.CreatedAt)].end) {
			t := p.CreatedAt.Add(time.Millisecond)
			if di, ok := g.activeAt(-1, t); ok {
				if u, ok := g.responder(r, di, p, g.days[di].reactors, 0); ok {
					add(p, u, ReactionThanks, t, true)
				}
			}
		}
	}
	slices.SortStableFunc(rs, func(a, b plan) int { return a.CreatedAt.Compare(b.CreatedAt) })
	g.ds.Reactions = make([]Reaction, len(rs))
	for i := range rs {
		x := rs[i].Reaction
		x.ID = int64(i + 1)
		if !rs[i].pinned && r.Float64() < reactionDeleteRate { // taken back
			t := x.CreatedAt.Add(time.Second + time.Duration(r.ExpFloat64()*float64(10*time.Minute))).Truncate(time.Millisecond)
			if _, ok := g.activeAt(int(x.UserID-1), t); ok && g.canRespond(&g.ds.Posts[x.PostID-1], t) {
				g.ds.Earlier.Reactions[x.ID] = x
				x.DeletedAt, x.UpdatedAt = &t, t
			}
		}
		g.ds.Reactions[i] = x
	}
}

// picker draws items with probability proportional to their weights.
type picker struct {
	items []int
	cum   []float64
}

func newPicker(items []int, weight func(int) float64) picker {
	p := picker{items: items, cum: make([]float64, len(items))}
	total := 0.0
	for i, it := range items {
		total += max(weight(it), 1e-6)
		p.cum[i] = total
	}
	return p
}

func (p picker) pick(r *rand.Rand) (int, bool) {
	if len(p.items) == 0 {
		return 0, false
	}
	x := r.Float64() * p.cum[len(p.cum)-1]
	i := sort.Search(len(p.cum), func(i int) bool { return p.cum[i] > x })
	return p.items[min(i, len(p.items)-1)], true
}

func pickWeighted(r *rand.Rand, w []float64) int {
	total := 0.0
	for _, x := range w {
		total += x
	}
	x := r.Float64() * total
	for i, v := range w {
		if x < v {
			return i
		}
		x -= v
	}
	return len(w) - 1
}

// poisson draws from a Poisson distribution with mean lambda.
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 { // normal approximation
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64())))
	}
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// lognormal draws a positive weight with median 1 and mean 1 (sigma is the spread).
func lognormal(r *rand.Rand, sigma float64) float64 {
	return math.Exp(sigma*r.NormFloat64() - sigma*sigma/2)
}

// between is a random instant in [lo, hi), to the millisecond.
func between(r *rand.Rand, lo, hi time.Time) time.Time {
	if !lo.Before(hi) {
		return lo
	}
	return lo.Add(time.Duration(r.Int64N(int64(hi.Sub(lo))))).UTC().Truncate(time.Millisecond)
}

func ptr[T any](v T) *T { return &v }
