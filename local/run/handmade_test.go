package run_test

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/sample"
)

// handmade is a small dataset made by hand, independent of the sample generator, for the days
// D1 = 2026-11-24 to D3 = 2026-11-26 in Asia/Tokyo. testdata/handmade/expected.txt holds what
// each KPI must publish for it, worked out from the KPIs' descriptions alone; this comment is
// the dataset's story, which that file's reasoning cites:
//
//   - departments: 1 営業部; 2 開発部, renamed 技術部 on D2 at 10:00.
//   - users: 1 (dept 1); 2 (dept 2); 3 (dept 1, moves to dept 2 on D2 at 10:00); 4 (dept 2,
//     leaves on D1 at 18:00). User 99 is in no users snapshot; user 7 only browses.
//   - posts: P1 by 1 at D1 00:00:00.000; P2 by 2, private, at D1 23:59:59.999; P3 by 3 at D1
//     12:00; P4 by 1 at D1 15:00, soft-deleted on D2 at 00:30 (before D1's extraction at 01:30);
//     P5 by 2 at D1 16:00, soft-deleted at D1 20:00; P6 by 3 at D2 11:00 (after the move); P7 by
//     1 at D1 09:00, edited on D2 at 01:00 (between midnight and the extraction); P8 by 99 at D2
//     09:00; P9 by 2 on 2026-08-01, unchanged since (older than the lake: only the posts' initial
//     load on D1 holds it).
//   - comments: C1 by 2 on P1 at D1 10:00; C2 by 1 on P5 at D1 17:00; C3 by 3 on P4 at D1 16:00;
//     C4 by 4 on P1 at D1 11:00.
//   - reactions: R1 by 2 on P1, like, D1 10:30; R2 by 1 on P2, thanks, D1 23:59:59.999; R3 by 3
//     on their own P3, celebrate, D1 13:00; R4 by 99 on P3, thanks, D2 09:30; R5 by 1 on P4,
//     like, D2 00:10 (the post is deleted 20 minutes later); R6 by 2 on P1, thanks, D2
//     00:00:00.000, soft-deleted on D3 at 09:00; R7 by 1 on the old P9, like, D3 10:00.
//   - access logs (the record's own department): 7 (dept 1) stamped D0 23:59:59.999, landed on
//     D1 at 00:01; 2 (dept 2) at D1 00:00:00.000; 3 (dept 1) D1 12:00; 99 (dept 1) D1 13:00; 4
//     (dept 2) D1 17:00; 1 (dept 1) stamped D1 23:59:59.999, landed on D2 at 00:03 (late, before
//     the 00:30 log crawl); an anonymous health check D1 04:00; 3 (dept 1) D2 09:00 and (dept 2)
//     D2 11:00; 1 (dept 1) D2 10:00; 2 (dept 2) stamped D2 23:59:00.000, landed on D3 at 01:00
//     (after the log crawl: past the lateness); 2 (dept 2) and 1 (dept 1) D3 10:00.
func handmade(t *testing.T) *sample.Dataset {
	t.Helper()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04:05.000", s, tokyo)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	ptr := func(s string) *time.Time { v := at(s); return &v }
	d1, err := layout.ParseDay("2026-11-24")
	if err != nil {
		t.Fatal(err)
	}
	long := at("2020-04-01 10:00:00.000")
	dept := func(id int64, name string, updated time.Time) sample.Department {
		return sample.Department{ID: id, Name: name, CreatedAt: long, UpdatedAt: updated}
	}
	user := func(id, dept int64, updated time.Time, deleted *time.Time) sample.User {
		return sample.User{ID: id, DepartmentID: dept, EmployeeCode: "E00000" + string(rune('0'+id)), DisplayName: "社員 " + string(rune('0'+id)),
			Email: "user" + string(rune('0'+id)) + "@example.com", Role: sample.RoleMember, JoinedOn: d1.AddDays(-1000),
			CreatedAt: long, UpdatedAt: updated, DeletedAt: deleted}
	}
	post := func(id, author int64, vis sample.Visibility, created, updated string, deleted *time.Time) sample.Post {
		return sample.Post{ID: id, UserID: author, Body: "post", Visibility: vis, CreatedAt: at(created), UpdatedAt: at(updated), DeletedAt: deleted}
	}
	comment := func(id, postID, author int64, created string) sample.Comment {
		return sample.Comment{ID: id, PostID: postID, UserID: author, Body: "comment", CreatedAt: at(created), UpdatedAt: at(created)}
	}
	reaction := func(id, postID, giver int64, kind sample.ReactionKind, created, updated string, deleted *time.Time) sample.Reaction {
		return sample.Reaction{ID: id, PostID: postID, UserID: giver, Kind: kind, CreatedAt: at(created), UpdatedAt: at(updated), DeletedAt: deleted}
	}
	hit := func(stamp string, userID, deptID int64, arrived string) sample.AccessLog {
		a := sample.AccessLog{Timestamp: at(stamp), UserID: userID, DepartmentID: deptID, Method: "GET", Path: "/", Status: 200, LatencyMS: 30, UserAgent: "Mozilla/5.0"}
		if userID == 0 {
			a.Path = "/healthz"
		}
		if arrived != "" {
			a.Arrived = at(arrived)
		} else {
			a.Arrived = a.Timestamp
		}
		return a
	}
	ds := &sample.Dataset{
		Config: sample.Config{Start: d1, Days: 3, Location: tokyo},
		Departments: []sample.Department{
			dept(1, "営業部", long),
			dept(2, "技術部", at("2026-11-25 10:00:00.000")),
		},
		Users: []sample.User{
			user(1, 1, long, nil),
			user(2, 2, long, nil),
			user(3, 2, at("2026-11-25 10:00:00.000"), nil),
			user(4, 2, at("2026-11-24 18:00:00.000"), ptr("2026-11-24 18:00:00.000")),
		},
		Posts: []sample.Post{
			post(9, 2, sample.VisibilityPublic, "2026-08-01 09:00:00.000", "2026-08-01 09:00:00.000", nil),
			post(1, 1, sample.VisibilityPublic, "2026-11-24 00:00:00.000", "2026-11-24 00:00:00.000", nil),
			post(2, 2, sample.VisibilityPrivate, "2026-11-24 23:59:59.999", "2026-11-24 23:59:59.999", nil),
			post(3, 3, sample.VisibilityPublic, "2026-11-24 12:00:00.000", "2026-11-24 12:00:00.000", nil),
			post(4, 1, sample.VisibilityDepartment, "2026-11-24 15:00:00.000", "2026-11-25 00:30:00.000", ptr("2026-11-25 00:30:00.000")),
			post(5, 2, sample.VisibilityPublic, "2026-11-24 16:00:00.000", "2026-11-24 20:00:00.000", ptr("2026-11-24 20:00:00.000")),
			post(6, 3, sample.VisibilityPublic, "2026-11-25 11:00:00.000", "2026-11-25 11:00:00.000", nil),
			post(7, 1, sample.VisibilityPublic, "2026-11-24 09:00:00.000", "2026-11-25 01:00:00.000", nil),
			post(8, 99, sample.VisibilityPublic, "2026-11-25 09:00:00.000", "2026-11-25 09:00:00.000", nil),
		},
		Comments: []sample.Comment{
			comment(1, 1, 2, "2026-11-24 10:00:00.000"),
			comment(2, 5, 1, "2026-11-24 17:00:00.000"),
			comment(3, 4, 3, "2026-11-24 16:00:00.000"),
			comment(4, 1, 4, "2026-11-24 11:00:00.000"),
		},
		Reactions: []sample.Reaction{
			reaction(1, 1, 2, sample.ReactionLike, "2026-11-24 10:30:00.000", "2026-11-24 10:30:00.000", nil),
			reaction(2, 2, 1, sample.ReactionThanks, "2026-11-24 23:59:59.999", "2026-11-24 23:59:59.999", nil),
			reaction(3, 3, 3, sample.ReactionCelebrate, "2026-11-24 13:00:00.000", "2026-11-24 13:00:00.000", nil),
			reaction(4, 3, 99, sample.ReactionThanks, "2026-11-25 09:30:00.000", "2026-11-25 09:30:00.000", nil),
			reaction(5, 4, 1, sample.ReactionLike, "2026-11-25 00:10:00.000", "2026-11-25 00:10:00.000", nil),
			reaction(6, 1, 2, sample.ReactionThanks, "2026-11-25 00:00:00.000", "2026-11-26 09:00:00.000", ptr("2026-11-26 09:00:00.000")),
			reaction(7, 9, 1, sample.ReactionLike, "2026-11-26 10:00:00.000", "2026-11-26 10:00:00.000", nil),
		},
		AccessLogs: []sample.AccessLog{
			hit("2026-11-23 23:59:59.999", 7, 1, "2026-11-24 00:01:00.000"),
			hit("2026-11-24 00:00:00.000", 2, 2, ""),
			hit("2026-11-24 04:00:00.000", 0, 0, ""),
			hit("2026-11-24 12:00:00.000", 3, 1, ""),
			hit("2026-11-24 13:00:00.000", 99, 1, ""),
			hit("2026-11-24 17:00:00.000", 4, 2, ""),
			hit("2026-11-24 23:59:59.999", 1, 1, "2026-11-25 00:03:00.000"),
			hit("2026-11-25 09:00:00.000", 3, 1, ""),
			hit("2026-11-25 10:00:00.000", 1, 1, ""),
			hit("2026-11-25 11:00:00.000", 3, 2, ""),
			hit("2026-11-25 23:59:00.000", 2, 2, "2026-11-26 01:00:00.000"),
			hit("2026-11-26 10:00:00.000", 1, 1, ""),
			hit("2026-11-26 10:00:00.000", 2, 2, ""),
		},
		Earlier: sample.Versions{
			Departments: map[int64]sample.Department{2: dept(2, "開発部", long)},
			Users:       map[int64]sample.User{3: user(3, 1, long, nil), 4: user(4, 2, long, nil)},
			Posts: map[int64]sample.Post{
				4: post(4, 1, sample.VisibilityDepartment, "2026-11-24 15:00:00.000", "2026-11-24 15:00:00.000", nil),
				5: post(5, 2, sample.VisibilityPublic, "2026-11-24 16:00:00.000", "2026-11-24 16:00:00.000", nil),
				7: post(7, 1, sample.VisibilityPublic, "2026-11-24 09:00:00.000", "2026-11-24 09:00:00.000", nil),
			},
			Reactions: map[int64]sample.Reaction{
				6: reaction(6, 1, 2, sample.ReactionThanks, "2026-11-25 00:00:00.000", "2026-11-25 00:00:00.000", nil),
			},
		},
	}
	return ds
}

// Each KPI on the hand-made dataset, through `local run` (the real extraction at 01:30 of each
// next day, the log streams landing by arrival, the crawlers, the plan and the CTAS runner),
// equals the values worked out by hand from its description (testdata/handmade/expected.txt):
// events at 00:00:00.000 and 23:59:59.999, a soft delete the next day before the extraction, an
// edit between midnight and the extraction, a department move and a rename, a user who left, an
// unknown user, a reaction on one's own post and one on a post older than the lake, a log
// record that lands after midnight and one that lands after the log crawl.
func TestLocalRun_HandMadeDatasetGivesTheValuesItsDescriptionsPromise(t *testing.T) {
	ds := handmade(t)
	rep := sampleRun(t, t.TempDir(), ds, "America/Los_Angeles")
	got := published(t, rep)
	want := expectedLines(t, "testdata/handmade/expected.txt")
	for _, kpi := range slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	}) {
		if diff := cmp.Diff(want[kpi], got[kpi]); diff != "" {
			t.Errorf("%s (-expected by hand +published):\n%s", kpi, diff)
		}
	}
	for kpi := range got {
		if _, ok := want[kpi]; !ok {
			t.Errorf("%s published %v, and expected.txt has no section for it", kpi, got[kpi])
		}
	}
}

// expectedLines reads "[kpi]" sections of "<day> column=value ..." lines, # comments aside.
func expectedLines(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	kpi := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			kpi = strings.Trim(line, "[]")
			out[kpi] = []string{}
		case kpi == "":
			t.Fatalf("%s: %q comes before any [kpi] section", path, line)
		default:
			out[kpi] = append(out[kpi], line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}
