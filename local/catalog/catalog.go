// Package catalog is the Glue Data Catalog of a local run: one database's tables and partitions,
// kept in a JSON file, behind the Glue calls that the Lambdas' ports make (the CTAS runner, the
// sweep, the plan). It answers with Glue's error types (EntityNotFoundException,
// AlreadyExistsException), so the runner's error handling takes the same paths as on AWS.
//
// What it does not model: other databases, table versions, column statistics, and concurrent
// writers in other processes (one local run owns a lake directory at a time). Every write is
// saved before the call returns, atomically (write a temporary file, then rename), so a run that
// is killed leaves the catalog as of its last completed call, as Glue would.
package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gtypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
)

// Catalog is one database of a local Data Catalog. It is safe for concurrent use.
type Catalog struct {
	path     string
	database string
	now      func() time.Time

	mu      sync.Mutex
	state   state
	version int64
}

// state is the file's content.
type state struct {
	Database string            `json:"database"`
	Tables   map[string]*table `json:"tables"`
}

// table is a catalog table and its partitions, by their values joined with "/".
type table struct {
	Name          string                `json:"name"`
	Description   string                `json:"description,omitempty"`
	TableType     string                `json:"table_type,omitempty"`
	Parameters    map[string]string     `json:"parameters,omitempty"`
	PartitionKeys []column              `json:"partition_keys,omitempty"`
	Storage       storage               `json:"storage"`
	CreateTime    time.Time             `json:"create_time"`
	UpdateTime    time.Time             `json:"update_time"`
	Partitions    map[string]*partition `json:"partitions,omitempty"`
	// rev is the catalog version of the table's last change (in memory only).
	rev int64
}

type partition struct {
	Values []string `json:"values"`
	// Storage is the partition's own; when Inherits, only its Location is kept and the rest is
	// the table's (the crawlers' and the runner's partitions), which keeps the file small.
	Storage    storage   `json:"storage"`
	Inherits   bool      `json:"inherits,omitempty"`
	CreateTime time.Time `json:"create_time"`
	UpdateTime time.Time `json:"update_time"`
}

type column struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Comment string `json:"comment,omitempty"`
}

type storage struct {
	Location     string            `json:"location"`
	Columns      []column          `json:"columns"`
	InputFormat  string            `json:"input_format,omitempty"`
	OutputFormat string            `json:"output_format,omitempty"`
	SerDe        string            `json:"serde,omitempty"`
	SerDeParams  map[string]string `json:"serde_params,omitempty"`
}

// FileName is the catalog's file inside a lake directory.
const FileName = "_catalog.json"

// Open opens the catalog of database kept in the file path, creating an empty one if the file
// does not exist. A file of another database is an error, so that two environments' lakes are
// not mixed up.
func Open(path, database string) (*Catalog, error) {
	if database == "" {
		return nil, errors.New("catalog: the database name is empty")
	}
	c := &Catalog{path: path, database: database, now: time.Now,
		state: state{Database: database, Tables: map[string]*table{}}}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return c, nil
	case err != nil:
		return nil, fmt.Errorf("catalog: read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &c.state); err != nil {
		return nil, fmt.Errorf("catalog: %s is not a kpilake local catalog (%w); delete it to start from an empty catalog", path, err)
	}
	if c.state.Database != database {
		return nil, fmt.Errorf("catalog: %s holds database %q, not %q; use another lake directory for another environment",
			path, c.state.Database, database)
	}
	if c.state.Tables == nil {
		c.state.Tables = map[string]*table{}
	}
	// Every table loaded is at revision 1; changes from here on count up from there.
	c.version = 1
	for _, t := range c.state.Tables {
		t.rev = 1
	}
	return c, nil
}

// Database is the catalog's database name.
func (c *Catalog) Database() string { return c.database }

// save writes the state; c.mu is held.
func (c *Catalog) save() error {
	c.version++
	b, err := json.Marshal(&c.state)
	if err != nil {
		return fmt.Errorf("catalog: encode: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), "."+filepath.Base(c.path)+".*")
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("catalog: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("catalog: write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), c.path); err != nil {
		return fmt.Errorf("catalog: save %s: %w", c.path, err)
	}
	return nil
}

func (c *Catalog) checkDatabase(name *string) error {
	if got := aws.ToString(name); got != c.database {
		return &gtypes.EntityNotFoundException{Message: aws.String(fmt.Sprintf("Database %s not found.", got))}
	}
	return nil
}

func tableNotFound(name string) error {
	return &gtypes.EntityNotFoundException{Message: aws.String(fmt.Sprintf("Table %s not found.", name))}
}

// lookup returns the table (c.mu is held); Glue's names are case-insensitive and stored lowercase.
func (c *Catalog) lookup(db, name *string) (*table, error) {
	if err := c.checkDatabase(db); err != nil {
		return nil, err
	}
	t, ok := c.state.Tables[strings.ToLower(aws.ToString(name))]
	if !ok {
		return nil, tableNotFound(aws.ToString(name))
	}
	return t, nil
}

// GetTable is glue:GetTable.
func (c *Catalog) GetTable(_ context.Context, in *glue.GetTableInput, _ ...func(*glue.Options)) (*glue.GetTableOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.lookup(in.DatabaseName, in.Name)
	if err != nil {
		return nil, err
	}
	return &glue.GetTableOutput{Table: t.toGlue(c.database)}, nil
}

// GetTables is glue:GetTables; Expression is a regular expression that the whole name must match,
// as Glue reads it. Every table is on one page.
func (c *Catalog) GetTables(_ context.Context, in *glue.GetTablesInput, _ ...func(*glue.Options)) (*glue.GetTablesOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkDatabase(in.DatabaseName); err != nil {
		return nil, err
	}
	var re *regexp.Regexp
	if e := aws.ToString(in.Expression); e != "" {
		var err error
		if re, err = regexp.Compile("^(?:" + e + ")$"); err != nil {
			return nil, &gtypes.InvalidInputException{Message: aws.String(fmt.Sprintf("Expression %q: %v", e, err))}
		}
	}
	out := &glue.GetTablesOutput{}
	for _, name := range slices.Sorted(maps.Keys(c.state.Tables)) {
		if re == nil || re.MatchString(name) {
			out.TableList = append(out.TableList, *c.state.Tables[name].toGlue(c.database))
		}
	}
	return out, nil
}

// CreateTable is glue:CreateTable.
func (c *Catalog) CreateTable(_ context.Context, in *glue.CreateTableInput, _ ...func(*glue.Options)) (*glue.CreateTableOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkDatabase(in.DatabaseName); err != nil {
		return nil, err
	}
	if in.TableInput == nil || aws.ToString(in.TableInput.Name) == "" {
		return nil, &gtypes.InvalidInputException{Message: aws.String("TableInput.Name is required")}
	}
	name := strings.ToLower(aws.ToString(in.TableInput.Name))
	if _, ok := c.state.Tables[name]; ok {
		return nil, &gtypes.AlreadyExistsException{Message: aws.String(fmt.Sprintf("Table %s already exists.", name))}
	}
	now := c.now().UTC()
	t := tableFromInput(in.TableInput)
	t.Name, t.CreateTime, t.UpdateTime = name, now, now
	t.rev = c.version + 1
	c.state.Tables[name] = t
	return &glue.CreateTableOutput{}, c.save()
}

// DeleteTable is glue:DeleteTable (with its partitions; the data stays, as Glue leaves it).
func (c *Catalog) DeleteTable(_ context.Context, in *glue.DeleteTableInput, _ ...func(*glue.Options)) (*glue.DeleteTableOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.lookup(in.DatabaseName, in.Name); err != nil {
		return nil, err
	}
	delete(c.state.Tables, strings.ToLower(aws.ToString(in.Name)))
	return &glue.DeleteTableOutput{}, c.save()
}

// GetPartition is glue:GetPartition.
func (c *Catalog) GetPartition(_ context.Context, in *glue.GetPartitionInput, _ ...func(*glue.Options)) (*glue.GetPartitionOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.lookup(in.DatabaseName, in.TableName)
	if err != nil {
		return nil, err
	}
	p, ok := t.Partitions[key(in.PartitionValues)]
	if !ok {
		return nil, &gtypes.EntityNotFoundException{Message: aws.String("Cannot find partition.")}
	}
	return &glue.GetPartitionOutput{Partition: p.toGlue(c.database, t)}, nil
}

// partitionExpr is the one form of GetPartitions' Expression that the kpilake code sends: a range of
// one string partition key, both ends included.
var partitionExpr = regexp.MustCompile(`^\s*(\w+)\s*>=\s*'([^']*)'\s+AND\s+(\w+)\s*<=\s*'([^']*)'\s*$`)

// GetPartitions is glue:GetPartitions, ordered by value, every partition on one page. Expression
// may be empty or "key >= 'a' AND key <= 'b'" on the table's one partition key.
func (c *Catalog) GetPartitions(_ context.Context, in *glue.GetPartitionsInput, _ ...func(*glue.Options)) (*glue.GetPartitionsOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.lookup(in.DatabaseName, in.TableName)
	if err != nil {
		return nil, err
	}
	keep := func([]string) bool { return true }
	if e := aws.ToString(in.Expression); e != "" {
		m := partitionExpr.FindStringSubmatch(e)
		if m == nil || m[1] != m[3] || len(t.PartitionKeys) != 1 || !strings.EqualFold(m[1], t.PartitionKeys[0].Name) {
			return nil, &gtypes.InvalidInputException{Message: aws.String(fmt.Sprintf(
				"Expression %q: the local catalog reads only \"<key> >= 'a' AND <key> <= 'b'\" on the table's one partition key", e))}
		}
		from, to := m[2], m[4]
		keep = func(v []string) bool { return v[0] >= from && v[0] <= to }
	}
	out := &glue.GetPartitionsOutput{}
	for _, k := range slices.Sorted(maps.Keys(t.Partitions)) {
		if p := t.Partitions[k]; keep(p.Values) {
			out.Partitions = append(out.Partitions, *p.toGlue(c.database, t))
		}
	}
	return out, nil
}

// CreatePartition is glue:CreatePartition.
func (c *Catalog) CreatePartition(_ context.Context, in *glue.CreatePartitionInput, _ ...func(*glue.Options)) (*glue.CreatePartitionOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.lookup(in.DatabaseName, in.TableName)
	if err != nil {
		return nil, err
	}
	if err := t.putPartition(in.PartitionInput, false, c.now().UTC()); err != nil {
		return nil, err
	}
	t.rev = c.version + 1
	return &glue.CreatePartitionOutput{}, c.save()
}

// UpdatePartition is glue:UpdatePartition; the values of PartitionValueList name the partition.
func (c *Catalog) UpdatePartition(_ context.Context, in *glue.UpdatePartitionInput, _ ...func(*glue.Options)) (*glue.UpdatePartitionOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.lookup(in.DatabaseName, in.TableName)
	if err != nil {
		return nil, err
	}
	if in.PartitionInput == nil || key(in.PartitionInput.Values) != key(in.PartitionValueList) {
		return nil, &gtypes.InvalidInputException{Message: aws.String("PartitionInput.Values must equal PartitionValueList")}
	}
	if _, ok := t.Partitions[key(in.PartitionValueList)]; !ok {
		return nil, &gtypes.EntityNotFoundException{Message: aws.String("Cannot find partition.")}
	}
	if err := t.putPartition(in.PartitionInput, true, c.now().UTC()); err != nil {
		return nil, err
	}
	t.rev = c.version + 1
	return &glue.UpdatePartitionOutput{}, c.save()
}

// key joins partition values.
func key(values []string) string { return strings.Join(values, "/") }

func (t *table) putPartition(in *gtypes.PartitionInput, replace bool, now time.Time) error {
	if in == nil || len(in.Values) != len(t.PartitionKeys) {
		return &gtypes.InvalidInputException{Message: aws.String(fmt.Sprintf(
			"table %s has %d partition keys; give as many values", t.Name, len(t.PartitionKeys)))}
	}
	k := key(in.Values)
	old, exists := t.Partitions[k]
	if exists && !replace {
		return &gtypes.AlreadyExistsException{Message: aws.String("Partition already exists.")}
	}
	p := &partition{Values: slices.Clone(in.Values), CreateTime: now, UpdateTime: now}
	if exists {
		p.CreateTime = old.CreateTime
	}
	if in.StorageDescriptor != nil {
		p.Storage = storageFrom(in.StorageDescriptor)
		if own := p.Storage; own.sameSchema(t.Storage) {
			p.Storage, p.Inherits = storage{Location: own.Location}, true
		}
	}
	if t.Partitions == nil {
		t.Partitions = map[string]*partition{}
	}
	t.Partitions[k] = p
	return nil
}

// PutTable creates the table or replaces its definition, keeping its partitions: what a crawler
// does when it finds a table or a new column.
func (c *Catalog) PutTable(in *gtypes.TableInput) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	name := strings.ToLower(aws.ToString(in.Name))
	t := tableFromInput(in)
	t.Name, t.UpdateTime = name, c.now().UTC()
	t.CreateTime = t.UpdateTime
	if old, ok := c.state.Tables[name]; ok {
		t.CreateTime, t.Partitions = old.CreateTime, old.Partitions
	}
	t.rev = c.version + 1
	c.state.Tables[name] = t
	return c.save()
}

// PutPartitions adds or replaces partitions of a table in one save (a crawler's batch).
func (c *Catalog) PutPartitions(tableName string, parts []gtypes.PartitionInput) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.state.Tables[strings.ToLower(tableName)]
	if !ok {
		return tableNotFound(tableName)
	}
	now := c.now().UTC()
	for i := range parts {
		if err := t.putPartition(&parts[i], true, now); err != nil {
			return err
		}
	}
	t.rev = c.version + 1
	return c.save()
}

func tableFromInput(in *gtypes.TableInput) *table {
	t := &table{
		Description:   aws.ToString(in.Description),
		TableType:     aws.ToString(in.TableType),
		Parameters:    maps.Clone(in.Parameters),
		PartitionKeys: columnsFrom(in.PartitionKeys),
	}
	if in.StorageDescriptor != nil {
		t.Storage = storageFrom(in.StorageDescriptor)
	}
	return t
}

func columnsFrom(cs []gtypes.Column) []column {
	out := make([]column, len(cs))
	for i, c := range cs {
		out[i] = column{Name: strings.ToLower(aws.ToString(c.Name)), Type: aws.ToString(c.Type), Comment: aws.ToString(c.Comment)}
	}
	return out
}

func columnsTo(cs []column) []gtypes.Column {
	out := make([]gtypes.Column, len(cs))
	for i, c := range cs {
		out[i] = gtypes.Column{Name: aws.String(c.Name), Type: aws.String(c.Type)}
		if c.Comment != "" {
			out[i].Comment = aws.String(c.Comment)
		}
	}
	return out
}

func storageFrom(sd *gtypes.StorageDescriptor) storage {
	s := storage{
		Location:     aws.ToString(sd.Location),
		Columns:      columnsFrom(sd.Columns),
		InputFormat:  aws.ToString(sd.InputFormat),
		OutputFormat: aws.ToString(sd.OutputFormat),
	}
	if sd.SerdeInfo != nil {
		s.SerDe = aws.ToString(sd.SerdeInfo.SerializationLibrary)
		s.SerDeParams = maps.Clone(sd.SerdeInfo.Parameters)
	}
	return s
}

// sameSchema reports whether s has t's columns, formats and SerDe (its location aside).
func (s storage) sameSchema(t storage) bool {
	return slices.Equal(s.Columns, t.Columns) && s.InputFormat == t.InputFormat && s.OutputFormat == t.OutputFormat &&
		s.SerDe == t.SerDe && maps.Equal(s.SerDeParams, t.SerDeParams)
}

func (s storage) toGlue() *gtypes.StorageDescriptor {
	sd := &gtypes.StorageDescriptor{
		Location: aws.String(s.Location),
		Columns:  columnsTo(s.Columns),
	}
	if s.InputFormat != "" {
		sd.InputFormat = aws.String(s.InputFormat)
	}
	if s.OutputFormat != "" {
		sd.OutputFormat = aws.String(s.OutputFormat)
	}
	if s.SerDe != "" || s.SerDeParams != nil {
		sd.SerdeInfo = &gtypes.SerDeInfo{SerializationLibrary: aws.String(s.SerDe), Parameters: maps.Clone(s.SerDeParams)}
	}
	return sd
}

func (t *table) toGlue(database string) *gtypes.Table {
	return &gtypes.Table{
		Name:              aws.String(t.Name),
		DatabaseName:      aws.String(database),
		Description:       aws.String(t.Description),
		TableType:         aws.String(t.TableType),
		Parameters:        maps.Clone(t.Parameters),
		PartitionKeys:     columnsTo(t.PartitionKeys),
		StorageDescriptor: t.Storage.toGlue(),
		CreateTime:        aws.Time(t.CreateTime),
		UpdateTime:        aws.Time(t.UpdateTime),
	}
}

func (p *partition) toGlue(database string, t *table) *gtypes.Partition {
	sd := p.Storage
	if p.Inherits {
		sd = t.Storage
		sd.Location = p.Storage.Location
	}
	return &gtypes.Partition{
		DatabaseName:      aws.String(database),
		TableName:         aws.String(t.Name),
		Values:            slices.Clone(p.Values),
		StorageDescriptor: sd.toGlue(),
		CreationTime:      aws.Time(p.CreateTime),
		LastAccessTime:    aws.Time(p.UpdateTime),
	}
}

// Snapshot is a consistent copy of every table with its partitions, for a reader (the local
// engine) that builds on all of them at once.
func (c *Catalog) Snapshot() (version int64, tables []Table) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, name := range slices.Sorted(maps.Keys(c.state.Tables)) {
		t := c.state.Tables[name]
		out := Table{Name: t.Name, Rev: t.rev, Location: t.Storage.Location, Classification: t.Parameters["classification"]}
		for _, col := range t.Storage.Columns {
			out.Columns = append(out.Columns, Column{Name: col.Name, Type: col.Type})
		}
		for _, col := range t.PartitionKeys {
			out.PartitionKeys = append(out.PartitionKeys, Column{Name: col.Name, Type: col.Type})
		}
		for _, k := range slices.Sorted(maps.Keys(t.Partitions)) {
			p := t.Partitions[k]
			out.Partitions = append(out.Partitions, Partition{Values: slices.Clone(p.Values), Location: p.Storage.Location})
		}
		tables = append(tables, out)
	}
	return c.version, tables
}

// Table is a catalog table as a query engine reads it.
type Table struct {
	Name string
	// Rev changes whenever the table or one of its partitions does (within one Catalog value;
	// a catalog opened from its file starts every table at 1).
	Rev            int64
	Location       string
	Classification string // parquet or json
	Columns        []Column
	PartitionKeys  []Column
	Partitions     []Partition // ordered by value
}

// Column is a column and its Hive type name, as Glue holds it (bigint, string, decimal(18,4)).
type Column struct{ Name, Type string }

// Partition is one partition's values and location.
type Partition struct {
	Values   []string
	Location string
}
