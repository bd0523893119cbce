// Package sample is the sample source of kpilake: an enterprise social network (departments,
// users, posts, comments, reactions) in MySQL or PostgreSQL, and the web servers' access logs as
// Firehose delivers them. The ingest tests extract it; the KPI tests check their SQL against the
// expected aggregates computed here; `go run ./sample/cmd/seed` loads it into a local database.
//
// Generate builds a Dataset deterministically from a Config (same Config, same Dataset); Load
// creates the schema (schema/mysql.sql or schema/postgresql.sql) and inserts the rows;
// WriteAccessLogs writes one business day of access-log records as JSON lines. The aggregate
// methods of Dataset (ActiveUsersByDepartment, PostsByDepartment, CommentsByDepartment,
// ReactionsByDepartment, ReactionsGivenReceived, RowsUpdatedOn, RowsChangedSince) are the reference the KPI SQL is
// checked against; their doc comments are the definitions.
//
// Conventions every table follows:
//   - ids are positive and dense from 1, in created_at order (as AUTO_INCREMENT would give them);
//   - timestamps are UTC instants truncated to the millisecond;
//   - a soft-deleted row has DeletedAt set and UpdatedAt equal to it; otherwise UpdatedAt is the
//     last edit, or CreatedAt;
//   - the Dataset is the state of the database at the end of the last generated day: a snapshot
//     extraction run after the period sees exactly these rows. AsOf gives its state at any
//     instant of the period, for an extraction run during it.
package sample

import (
	"time"

	"github.com/kpilake/kpilake/layout"
)

// Engines accepted by Load, Drop and Schema; the same names as the source config's engine.
const (
	MySQL      = "mysql"      // MySQL 8, Aurora MySQL, MariaDB 10.6+
	PostgreSQL = "postgresql" // PostgreSQL 13+, Aurora PostgreSQL
)

// Table names of the sample source.
const (
	TableDepartments = "departments"
	TableUsers       = "users"
	TablePosts       = "posts"
	TableComments    = "comments"
	TableReactions   = "reactions"
)

// Tables lists the sample tables in foreign-key order: every table refers only to tables before it.
func Tables() []string {
	return []string{TableDepartments, TableUsers, TablePosts, TableComments, TableReactions}
}

// Role is users.role.
type Role string

// Roles.
const (
	RoleMember  Role = "member"
	RoleManager Role = "manager"
	RoleAdmin   Role = "admin"
)

// Visibility is posts.visibility.
type Visibility string

// Visibilities.
const (
	VisibilityPublic     Visibility = "public"     // the whole company
	VisibilityDepartment Visibility = "department" // the author's department
	VisibilityPrivate    Visibility = "private"    // the author only (a draft)
)

// ReactionKind is reactions.kind. "Thanks" are the reactions of kind ReactionThanks.
type ReactionKind string

// Reaction kinds.
const (
	ReactionLike       ReactionKind = "like"
	ReactionThanks     ReactionKind = "thanks"
	ReactionCelebrate  ReactionKind = "celebrate"
	ReactionInsightful ReactionKind = "insightful"
)

// Department is a row of departments. Departments form a tree through ParentID; a parent always
// has a smaller id than its children.
type Department struct {
	ID        int64
	Name      string
	ParentID  *int64 // nil for a top-level department
	CreatedAt time.Time
	UpdatedAt time.Time
	DeletedAt *time.Time
}

// User is a row of users: an employee. A soft-deleted user has left the company; their posts,
// comments and reactions stay.
type User struct {
	ID           int64
	DepartmentID int64
	EmployeeCode string // E followed by six digits, unique
	DisplayName  string // family and given name in Japanese, separated by a space
	Email        string // unique
	Role         Role
	JoinedOn     layout.Day // the day the employee joined the company (a DATE column)
	CreatedAt    time.Time
	UpdatedAt    time.Time
	DeletedAt    *time.Time
}

// Post is a row of posts.
type Post struct {
	ID         int64
	UserID     int64 // the author
	Body       string
	Visibility Visibility
	CreatedAt  time.Time
	UpdatedAt  time.Time
	DeletedAt  *time.Time
}

// Comment is a row of comments.
type Comment struct {
	ID        int64
	PostID    int64
	UserID    int64 // the commenter
	Body      string
	CreatedAt time.Time
	UpdatedAt time.Time
	DeletedAt *time.Time
}

// Reaction is a row of reactions: UserID gives a reaction of Kind to the author of PostID. Nobody
// reacts to their own post, and a user gives each kind at most once per post.
type Reaction struct {
	ID        int64
	PostID    int64
	UserID    int64 // the giver
	Kind      ReactionKind
	CreatedAt time.Time
	UpdatedAt time.Time
	DeletedAt *time.Time
}

// Dataset is a generated sample: the source tables and the access logs of the same users and days.
// The aggregate methods only read it, so a hand-built Dataset (a literal) works with them too.
type Dataset struct {
	// Config is the configuration the dataset was generated from, with defaults filled in.
	Config Config

	Departments []Department
	Users       []User
	Posts       []Post
	Comments    []Comment
	Reactions   []Reaction
	// AccessLogs are the web servers' request records over the whole period, by timestamp.
	AccessLogs []AccessLog
	// Earlier holds, for each row that changed during the period (an edit, a soft deletion, a
	// promotion, a rename), its version before that change; a row changes at most once within
	// the period. AsOf reads it. Generate fills it; a hand-built Dataset may leave it empty.
	Earlier Versions
}

// Versions are earlier versions of rows, by table and id.
type Versions struct {
	Departments map[int64]Department
	Users       map[int64]User
	Posts       map[int64]Post
	Comments    map[int64]Comment
	Reactions   map[int64]Reaction
}

// Days lists the business days of the dataset, from Config.Start.
func (ds *Dataset) Days() []layout.Day {
	days := make([]layout.Day, ds.Config.Days)
	for i := range days {
		days[i] = ds.Config.Start.AddDays(i)
	}
	return days
}

// TableCount is the number of rows of one table, and how many of them are soft-deleted.
type TableCount struct {
	Rows        int
	SoftDeleted int
}

// Counts returns the rows of each sample table, keyed by table name.
func (ds *Dataset) Counts() map[string]TableCount {
	count := func(n int, deleted func(i int) bool) TableCount {
		c := TableCount{Rows: n}
		for i := range n {
			if deleted(i) {
				c.SoftDeleted++
			}
		}
		return c
	}
	return map[string]TableCount{
		TableDepartments: count(len(ds.Departments), func(i int) bool { return ds.Departments[i].DeletedAt != nil }),
		TableUsers:       count(len(ds.Users), func(i int) bool { return ds.Users[i].DeletedAt != nil }),
		TablePosts:       count(len(ds.Posts), func(i int) bool { return ds.Posts[i].DeletedAt != nil }),
		TableComments:    count(len(ds.Comments), func(i int) bool { return ds.Comments[i].DeletedAt != nil }),
		TableReactions:   count(len(ds.Reactions), func(i int) bool { return ds.Reactions[i].DeletedAt != nil }),
	}
}
