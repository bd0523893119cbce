//go:build !unit

package constructs

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/infra/catalog"
	"github.com/kpilake/kpilake/infra/internal/cdktest"
	"github.com/kpilake/kpilake/infra/lake"
	"github.com/kpilake/kpilake/infra/logkey"
)

// catalogStack is one synthesized lake, catalog and crawler, with the logical IDs the tests need.
type catalogStack struct {
	tmpl    *cdktest.Template
	catalog *catalog.Catalog
	crawler *catalog.Crawler

	// Logical IDs of the lake's resources,
	key, rawKey, raw, queryResults string
	// of the logs key,
	logKey string
	// of the catalog's,
	database, securityConfiguration, wg, aggregationWG string
	// and of the crawler's.
	crawlerID, crawlerRole, crawlerLogGroup string
}

// synthCatalog synthesizes a lake, a catalog and a crawler; with stackLogKey, the stack's logs key
// is made first and given to the catalog (CatalogProps.LogKey), as the stack does.
func synthCatalog(lakeProps *lake.LakeProps, props catalog.CatalogProps, crawler catalog.CrawlerProps, stackLogKey bool) (*catalogStack, error) {
	var s *catalogStack
	err := cdktest.Recover(func() {
		stack := cdktest.NewStack("Test")
		l := lake.NewLake(stack, "Lake", lakeProps)
		props.Lake = l
		if stackLogKey {
			props.LogKey = logkey.New(stack, "LogKey", nil)
		}
		c := catalog.NewCatalog(stack, "Catalog", &props)
		crawler.Catalog = c
		cr := catalog.NewCrawler(stack, "Crawler", &crawler)
		tmpl, err := cdktest.Synth(stack)
		if err != nil {
			panic(err)
		}
		s = &catalogStack{
			tmpl:                  tmpl,
			catalog:               c,
			crawler:               cr,
			key:                   tmpl.LogicalID(l.Key.KeyId()),
			rawKey:                tmpl.LogicalID(l.RawKey.KeyId()),
			logKey:                tmpl.LogicalID(c.LogKey.KeyId()),
			raw:                   tmpl.LogicalID(l.Raw.BucketName()),
			queryResults:          tmpl.LogicalID(l.QueryResults.BucketName()),
			database:              tmpl.LogicalID(c.Database.Ref()),
			securityConfiguration: tmpl.LogicalID(c.SecurityConfiguration.Ref()),
			wg:                    tmpl.LogicalID(c.Workgroup.Ref()),
			aggregationWG:         tmpl.LogicalID(c.AggregationWorkgroup.Ref()),
			crawlerID:             tmpl.LogicalID(cr.Crawler.Ref()),
			crawlerRole:           tmpl.LogicalID(cr.Role.RoleName()),
			crawlerLogGroup:       tmpl.LogicalID(cr.LogGroup.LogGroupName()),
		}
	})
	return s, err
}

// defaultCatalog uses every default and crawls one source.
var defaultCatalog = sync.OnceValues(func() (*catalogStack, error) {
	return synthCatalog(nil, catalog.CatalogProps{}, catalog.CrawlerProps{
		Prefixes:    []string{"social/"},
		TablePrefix: "social_",
	}, false)
})

// customCatalog sets every option and crawls two prefixes.
var customCatalog = sync.OnceValues(func() (*catalogStack, error) {
	return synthCatalog(&lake.LakeProps{RemovalPolicy: awscdk.RemovalPolicy_DESTROY}, catalog.CatalogProps{
		BytesScannedCutoffPerQuery: 10 << 30,
		RemovalPolicy:              awscdk.RemovalPolicy_DESTROY,
		LogRetention:               awslogs.RetentionDays_ONE_MONTH,
	}, catalog.CrawlerProps{
		Prefixes:    []string{"app_logs/web_access/", "app_logs/api/"},
		TablePrefix: "app_logs_",
		Description: "application logs",
	}, true)
})

func mustCatalog(t *testing.T, get func() (*catalogStack, error)) *catalogStack {
	t.Helper()
	s, err := get()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func join(parts ...any) map[string]any { return map[string]any{"Fn::Join": []any{"", parts}} }

var glueNameRE = regexp.MustCompile(`^[a-z0-9_]+$`)

func TestNewCatalog_CreatesDatabaseWithLowercaseName(t *testing.T) {
	s := mustCatalog(t, defaultCatalog)
	cdktest.Check(t, "database count", func() {
		s.tmpl.Assert.ResourceCountIs(jsii.String("AWS::Glue::Database"), jsii.Number(1))
	})
	s.tmpl.HasProperties(t, s.database, map[string]any{
		"CatalogId": cdktest.Account,
		"DatabaseInput": map[string]any{
			"Name": assertions.Match_StringLikeRegexp(jsii.String(glueNameRE.String())),
		},
	})
	input, _ := s.tmpl.Properties(t, s.database)["DatabaseInput"].(map[string]any)
	if name := input["Name"]; name != s.catalog.DatabaseName {
		t.Errorf("database name is %v, Catalog.DatabaseName is %q", name, s.catalog.DatabaseName)
	}
	if n := s.catalog.DatabaseName; !glueNameRE.MatchString(n) || len(n) > 64 {
		t.Errorf("DatabaseName %q: want lowercase letters, digits and _, at most 64 characters", n)
	}
}

func TestNewCatalog_EncryptsCrawlerLogsWithTheLogsKeyAndBookmarksAndOutputWithTheRawKey(t *testing.T) {
	for name, get := range map[string]func() (*catalogStack, error){"own logs key": defaultCatalog, "stack's logs key": customCatalog} {
		t.Run(name, func(t *testing.T) {
			s := mustCatalog(t, get)
			raw := getAtt(s.rawKey, "Arn")
			s.tmpl.HasProperties(t, s.securityConfiguration, map[string]any{
				"EncryptionConfiguration": assertions.Match_ObjectEquals(&map[string]any{
					"CloudWatchEncryption":   map[string]any{"CloudWatchEncryptionMode": "SSE-KMS", "KmsKeyArn": getAtt(s.logKey, "Arn")},
					"JobBookmarksEncryption": map[string]any{"JobBookmarksEncryptionMode": "CSE-KMS", "KmsKeyArn": raw},
					"S3Encryptions":          []any{map[string]any{"S3EncryptionMode": "SSE-KMS", "KmsKeyArn": raw}},
				}),
			})
			// The lake's two keys and one logs key: the catalog makes its own only when given none.
			cdktest.Check(t, "key count", func() { s.tmpl.Assert.ResourceCountIs(jsii.String("AWS::KMS::Key"), jsii.Number(3)) })
			for _, key := range []string{s.key, s.rawKey} {
				if key == s.logKey {
					t.Errorf("crawler logs are encrypted with the lake's key %s", key)
				}
			}
		})
	}
}

func TestNewCatalog_LeavesTheLakeKeysToTheLake(t *testing.T) {
	s := mustCatalog(t, defaultCatalog)
	for _, key := range []string{s.key, s.rawKey} {
		policy, _ := json.Marshal(s.tmpl.Resource(t, key)["Properties"])
		if strings.Contains(string(policy), "logs.") {
			t.Errorf("key %s lets CloudWatch Logs use it: %s", key, policy)
		}
	}
}

// workgroup is the workgroup every test expects, with its name, whether it enforces its settings,
// the cutoff and recursiveDelete varying.
func workgroup(s *catalogStack, name string, enforce bool, cutoff float64, recursiveDelete bool) map[string]any {
	return map[string]any{
		"Name":                  name,
		"State":                 "ENABLED",
		"RecursiveDeleteOption": recursiveDelete,
		"WorkGroupConfiguration": map[string]any{
			"EngineVersion":                   map[string]any{"SelectedEngineVersion": "Athena engine version 3"},
			"EnforceWorkGroupConfiguration":   enforce,
			"PublishCloudWatchMetricsEnabled": true,
			"BytesScannedCutoffPerQuery":      cutoff,
			"ResultConfiguration": map[string]any{
				"OutputLocation": join("s3://", ref(s.queryResults), "/athena/"),
				"EncryptionConfiguration": assertions.Match_ObjectEquals(&map[string]any{
					"EncryptionOption": "SSE_KMS",
					"KmsKey":           getAtt(s.key, "Arn"),
				}),
				"ExpectedBucketOwner": cdktest.Account,
			},
		},
	}
}

func TestNewCatalog_WorkgroupsPinEngineCutoffMetricsAndEncryptedResults(t *testing.T) {
	if catalog.DefaultBytesScannedCutoffPerQuery != 100*1024*1024*1024 {
		t.Errorf("DefaultBytesScannedCutoffPerQuery is %d, want 100 GiB", catalog.DefaultBytesScannedCutoffPerQuery)
	}
	for name, tc := range map[string]struct {
		get             func() (*catalogStack, error)
		cutoff          float64
		recursiveDelete bool
	}{
		"defaults":           {defaultCatalog, 107374182400, false},
		"cutoff and destroy": {customCatalog, 10737418240, true},
	} {
		t.Run(name, func(t *testing.T) {
			s := mustCatalog(t, tc.get)
			// Analysts cannot override the results location, its encryption or the cutoff.
			s.tmpl.HasProperties(t, s.wg, workgroup(s, s.catalog.WorkgroupName, true, tc.cutoff, tc.recursiveDelete))
			// Athena fails a CTAS with external_location in a workgroup that enforces its settings.
			s.tmpl.HasProperties(t, s.aggregationWG, workgroup(s, s.catalog.AggregationWorkgroupName, false, tc.cutoff, tc.recursiveDelete))
		})
	}
}

func TestNewCatalog_WorkgroupsHaveDistinctNamesAndTheAggregationOneItsArn(t *testing.T) {
	s := mustCatalog(t, defaultCatalog)
	c := s.catalog
	if c.WorkgroupName == c.AggregationWorkgroupName || c.AggregationWorkgroupName == "" || len(c.AggregationWorkgroupName) > 128 {
		t.Errorf("workgroup names %q and %q: want two distinct names of at most 128 characters", c.WorkgroupName, c.AggregationWorkgroupName)
	}
	want := "arn:aws:athena:" + cdktest.Region + ":" + cdktest.Account + ":workgroup/" + c.AggregationWorkgroupName
	if got := s.tmpl.Resolve(c.AggregationWorkgroupArn()); got != want {
		t.Errorf("AggregationWorkgroupArn() is %v, want %s", got, want)
	}
	if got, want := s.tmpl.Resolve(c.ResultsLocation), join("s3://", ref(s.queryResults), "/athena/"); !cmp.Equal(got, want) {
		t.Errorf("ResultsLocation is %v, want %v", got, want)
	}
}

func TestNewCrawler_CrawlsNewFoldersOfItsPrefixesOnly(t *testing.T) {
	for name, tc := range map[string]struct {
		get         func() (*catalogStack, error)
		tablePrefix string
		prefixes    []string
		description string
	}{
		"one prefix":   {defaultCatalog, "social_", []string{"social/"}, "kpilake: crawls raw social/"},
		"two prefixes": {customCatalog, "app_logs_", []string{"app_logs/web_access/", "app_logs/api/"}, "application logs"},
	} {
		t.Run(name, func(t *testing.T) {
			s := mustCatalog(t, tc.get)
			var targets []any
			for _, p := range tc.prefixes {
				targets = append(targets, map[string]any{"Path": join("s3://", ref(s.raw), "/"+p)})
			}
			s.tmpl.HasProperties(t, s.crawlerID, map[string]any{
				"Role":                         getAtt(s.crawlerRole, "Arn"),
				"DatabaseName":                 s.catalog.DatabaseName,
				"Description":                  tc.description,
				"TablePrefix":                  tc.tablePrefix,
				"Targets":                      assertions.Match_ObjectEquals(&map[string]any{"S3Targets": targets}),
				"CrawlerSecurityConfiguration": ref(s.securityConfiguration),
				"RecrawlPolicy":                map[string]any{"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"},
				"SchemaChangePolicy":           assertions.Match_ObjectEquals(&map[string]any{"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"}),
				"Schedule":                     assertions.Match_Absent(),
			})
		})
	}
}

func TestNewCrawler_PartitionsInheritTheTableSchema(t *testing.T) {
	s := mustCatalog(t, defaultCatalog)
	raw, ok := s.tmpl.Properties(t, s.crawlerID)["Configuration"].(string)
	if !ok {
		t.Fatalf("crawler Configuration is not a JSON string: %v", s.tmpl.Properties(t, s.crawlerID)["Configuration"])
	}
	var conf struct {
		Version       float64
		CrawlerOutput struct {
			Partitions struct{ AddOrUpdateBehavior string }
		}
		Grouping struct {
			TableGroupingPolicy     string
			TableLevelConfiguration int
		}
	}
	if err := json.Unmarshal([]byte(raw), &conf); err != nil {
		t.Fatalf("crawler Configuration %q: %v", raw, err)
	}
	if conf.Version != 1 {
		t.Errorf("Version is %v, want 1", conf.Version)
	}
	if got := conf.CrawlerOutput.Partitions.AddOrUpdateBehavior; got != "InheritFromTable" {
		t.Errorf("CrawlerOutput.Partitions.AddOrUpdateBehavior is %q, want InheritFromTable", got)
	}
	if got := conf.Grouping.TableGroupingPolicy; got != "CombineCompatibleSchemas" {
		t.Errorf("Grouping.TableGroupingPolicy is %q, want CombineCompatibleSchemas", got)
	}
	// Glue counts the bucket as level 1: s3://bucket/<source>/<table>/ is level 3.
	if got := conf.Grouping.TableLevelConfiguration; got != 3 {
		t.Errorf("Grouping.TableLevelConfiguration is %d, want 3 (tables at <bucket>/<source>/<table>/)", got)
	}
}

func TestNewCatalog_DatabaseAndWorkgroupFollowTheRemovalPolicy(t *testing.T) {
	for name, tc := range map[string]struct {
		get  func() (*catalogStack, error)
		want string
	}{"default retains": {defaultCatalog, "Retain"}, "destroy": {customCatalog, "Delete"}} {
		t.Run(name, func(t *testing.T) {
			s := mustCatalog(t, tc.get)
			for _, id := range []string{s.database, s.wg, s.aggregationWG} {
				if got := s.tmpl.Resource(t, id)["DeletionPolicy"]; got != tc.want {
					t.Errorf("%s DeletionPolicy is %v, want %s", id, got, tc.want)
				}
			}
		})
	}
}

func TestNewCrawler_RoleTrustsGlueAndHasNoManagedPolicies(t *testing.T) {
	s := mustCatalog(t, defaultCatalog)
	s.tmpl.HasProperties(t, s.crawlerRole, map[string]any{
		"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
			"Effect":    "Allow",
			"Action":    "sts:AssumeRole",
			"Principal": assertions.Match_ObjectEquals(&map[string]any{"Service": "glue.amazonaws.com"}),
		}}},
		"ManagedPolicyArns": assertions.Match_Absent(),
	})
}

func TestNewCrawler_RoleReachesOnlyItsPrefixesTablesAndLogGroup(t *testing.T) {
	for name, tc := range map[string]struct {
		get         func() (*catalogStack, error)
		tablePrefix string
		prefixes    []string
	}{
		"one prefix":   {defaultCatalog, "social_", []string{"social/"}},
		"two prefixes": {customCatalog, "app_logs_", []string{"app_logs/web_access/", "app_logs/api/"}},
	} {
		t.Run(name, func(t *testing.T) {
			s := mustCatalog(t, tc.get)
			allow := func(action string, resource any) string {
				return cdktest.Permission("Allow", action, resource, nil)
			}
			glueARN := "arn:aws:glue:" + cdktest.Region + ":" + cdktest.Account + ":"
			var want []string
			for _, a := range catalog.CrawlerGlueActions {
				want = append(want,
					allow(a, glueARN+"catalog"),
					allow(a, glueARN+"database/"+s.catalog.DatabaseName),
					allow(a, glueARN+"table/"+s.catalog.DatabaseName+"/"+tc.tablePrefix+"*"))
			}
			for _, p := range tc.prefixes {
				want = append(want,
					allow("s3:GetObject", join(getAtt(s.raw, "Arn"), "/"+p+"*")),
					cdktest.Permission("Allow", "s3:ListBucket", getAtt(s.raw, "Arn"),
						map[string]any{"StringLike": map[string]any{"s3:prefix": p + "*"}}))
			}
			logGroup := getAtt(s.crawlerLogGroup, "Arn")
			for _, a := range []string{"logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"} {
				want = append(want, allow(a, logGroup), allow(a, join(logGroup, ":log-stream:*")))
			}
			want = append(want,
				allow("kms:Decrypt", getAtt(s.rawKey, "Arn")),
				allow("kms:GenerateDataKey", getAtt(s.rawKey, "Arn")),
				// GetSecurityConfiguration has no resource-level permissions.
				allow("glue:GetSecurityConfiguration", "*"),
			)
			slices.Sort(want)
			want = slices.Compact(want)
			if diff := cmp.Diff(want, s.tmpl.Permissions(s.crawlerRole)); diff != "" {
				t.Errorf("crawler role permissions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewCrawler_GlueActionsOnlyReadAndAdd(t *testing.T) {
	for _, a := range catalog.CrawlerGlueActions {
		if !strings.HasPrefix(a, "glue:") || strings.Contains(a, "*") || strings.Contains(a, "Delete") {
			t.Errorf("CrawlerGlueActions has %q; a crawler that only logs schema changes needs no wildcard or delete", a)
		}
	}
}

func TestNewCrawler_LogGroupIsEncryptedRetainedAndNamedAsGlueWritesIt(t *testing.T) {
	for name, tc := range map[string]struct {
		get       func() (*catalogStack, error)
		retention float64
		deletion  string
	}{
		"defaults":          {defaultCatalog, 90, "Retain"},
		"one month destroy": {customCatalog, 30, "Delete"},
	} {
		t.Run(name, func(t *testing.T) {
			s := mustCatalog(t, tc.get)
			s.tmpl.HasResource(t, s.crawlerLogGroup, map[string]any{
				"DeletionPolicy": tc.deletion,
				"Properties": map[string]any{
					"RetentionInDays": tc.retention,
					"KmsKeyId":        getAtt(s.logKey, "Arn"),
					// Glue writes to /aws-glue/crawlers-role/<role>-<security configuration>.
					"LogGroupName": join("/aws-glue/crawlers-role/", ref(s.crawlerRole), "-", ref(s.securityConfiguration)),
				},
			})
			// The log group must exist (with its retention and key) before Glue first writes to it.
			deps, _ := s.tmpl.Resource(t, s.crawlerID)["DependsOn"].([]any)
			for _, id := range []string{s.crawlerLogGroup, s.database} {
				if !slices.Contains(deps, any(id)) {
					t.Errorf("crawler DependsOn %v, want it to include %s", deps, id)
				}
			}
		})
	}
}

func TestNewCrawler_ExposesNameAndArn(t *testing.T) {
	s := mustCatalog(t, defaultCatalog)
	cdktest.Check(t, "Name and Arn", func() {
		if got, want := s.tmpl.Resolve(s.crawler.Name()), any(ref(s.crawlerID)); !cmp.Equal(got, want) {
			t.Errorf("Name() resolves to %v, want %v", got, want)
		}
		wantArn := join("arn:aws:glue:"+cdktest.Region+":"+cdktest.Account+":crawler/", ref(s.crawlerID))
		if got := s.tmpl.Resolve(s.crawler.Arn()); !cmp.Equal(got, any(wantArn)) {
			t.Errorf("Arn() resolves to %v, want %v", got, wantArn)
		}
	})
}

// failure is one invalid set of props and the substrings its error must contain.
type failure[P any] struct {
	name  string
	props P
	want  []string
}

func TestNewCatalog_FailsIf(t *testing.T) {
	for _, tc := range []failure[catalog.CatalogProps]{{
		name: "no lake",
		want: []string{"Lake is required", "*lake.Lake"},
	}, {
		name:  "snapshot removal policy",
		props: catalog.CatalogProps{RemovalPolicy: awscdk.RemovalPolicy_SNAPSHOT},
		want:  []string{`RemovalPolicy "SNAPSHOT" is not supported`, "RemovalPolicy_RETAIN"},
	}, {
		name:  "cutoff below 10 MB",
		props: catalog.CatalogProps{BytesScannedCutoffPerQuery: 9_999_999},
		want:  []string{"BytesScannedCutoffPerQuery is 9999999", "at least 10000000 (10 MB)", "0 for the default"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			stack := cdktest.TestStack(t)
			if tc.name != "no lake" {
				cdktest.Setup(t, func() { tc.props.Lake = lake.NewLake(stack, "Lake", nil) })
			}
			err := cdktest.Recover(func() { catalog.NewCatalog(stack, "Catalog", &tc.props) })
			cdktest.WantError(t, "NewCatalog", err, append([]string{`catalog.NewCatalog "Catalog"`}, tc.want...)...)
		})
	}
	t.Run("both problems, all reported", func(t *testing.T) {
		stack := cdktest.TestStack(t)
		err := cdktest.Recover(func() {
			catalog.NewCatalog(stack, "Catalog", &catalog.CatalogProps{BytesScannedCutoffPerQuery: 1})
		})
		cdktest.WantError(t, "NewCatalog", err, "Lake is required", "BytesScannedCutoffPerQuery is 1")
	})
	t.Run("nil props", func(t *testing.T) {
		stack := cdktest.TestStack(t)
		err := cdktest.Recover(func() { catalog.NewCatalog(stack, "Catalog", nil) })
		cdktest.WantError(t, "NewCatalog", err, "Lake is required")
	})
}

func TestNewCatalog_AcceptsTheSmallestCutoff(t *testing.T) {
	stack := cdktest.TestStack(t)
	err := cdktest.Recover(func() {
		catalog.NewCatalog(stack, "Catalog", &catalog.CatalogProps{
			Lake: lake.NewLake(stack, "Lake", nil), BytesScannedCutoffPerQuery: 10_000_000,
		})
	})
	if err != nil {
		t.Errorf("NewCatalog with a 10 MB cutoff: %v", err)
	}
}

func TestNewCrawler_FailsIf(t *testing.T) {
	valid := catalog.CrawlerProps{Prefixes: []string{"social/"}, TablePrefix: "social_"}
	with := func(change func(*catalog.CrawlerProps)) catalog.CrawlerProps {
		p := valid
		p.Prefixes = slices.Clone(valid.Prefixes)
		change(&p)
		return p
	}
	for _, tc := range []failure[catalog.CrawlerProps]{{
		name:  "no catalog",
		props: with(func(p *catalog.CrawlerProps) {}),
		want:  []string{"Catalog is required", "*catalog.Catalog"},
	}, {
		name:  "no prefixes",
		props: with(func(p *catalog.CrawlerProps) { p.Prefixes = nil }),
		want:  []string{"Prefixes: give at least one raw prefix", `layout.SourcePrefix("sales_db")`},
	}, {
		name:  "prefix without trailing slash",
		props: with(func(p *catalog.CrawlerProps) { p.Prefixes = []string{"social/", "app_logs"} }),
		want:  []string{`Prefixes[1] "app_logs"`, `ending in "/"`},
	}, {
		name:  "prefix with leading slash",
		props: with(func(p *catalog.CrawlerProps) { p.Prefixes = []string{"/social/"} }),
		want:  []string{`Prefixes[0] "/social/"`, "relative to the raw zone"},
	}, {
		name:  "empty prefix",
		props: with(func(p *catalog.CrawlerProps) { p.Prefixes = []string{""} }),
		want:  []string{`Prefixes[0] ""`},
	}, {
		name:  "prefix with empty folder",
		props: with(func(p *catalog.CrawlerProps) { p.Prefixes = []string{"social//"} }),
		want:  []string{`Prefixes[0] "social//"`},
	}, {
		name:  "no table prefix",
		props: with(func(p *catalog.CrawlerProps) { p.TablePrefix = "" }),
		want:  []string{"TablePrefix is required", "layout.CrawlerTablePrefix(source)"},
	}, {
		name:  "table prefix without trailing underscore",
		props: with(func(p *catalog.CrawlerProps) { p.TablePrefix = "social" }),
		want:  []string{`TablePrefix "social"`, `ending in "_"`},
	}, {
		name:  "table prefix in upper case",
		props: with(func(p *catalog.CrawlerProps) { p.TablePrefix = "Social_" }),
		want:  []string{`TablePrefix "Social_"`, "snake_case"},
	}, {
		name:  "table prefix starting with a digit",
		props: with(func(p *catalog.CrawlerProps) { p.TablePrefix = "1social_" }),
		want:  []string{`TablePrefix "1social_"`},
	}, {
		name:  "table prefix with a hyphen",
		props: with(func(p *catalog.CrawlerProps) { p.TablePrefix = "sales-db_" }),
		want:  []string{`TablePrefix "sales-db_"`},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			stack := cdktest.TestStack(t)
			if tc.name != "no catalog" {
				cdktest.Setup(t, func() {
					l := lake.NewLake(stack, "Lake", nil)
					tc.props.Catalog = catalog.NewCatalog(stack, "Catalog", &catalog.CatalogProps{Lake: l})
				})
			}
			err := cdktest.Recover(func() { catalog.NewCrawler(stack, "Crawler", &tc.props) })
			cdktest.WantError(t, "NewCrawler", err, append([]string{`catalog.NewCrawler "Crawler"`}, tc.want...)...)
		})
	}
	t.Run("every problem, all reported", func(t *testing.T) {
		stack := cdktest.TestStack(t)
		err := cdktest.Recover(func() {
			catalog.NewCrawler(stack, "Crawler", &catalog.CrawlerProps{Prefixes: []string{"a", "/b/"}, TablePrefix: "B"})
		})
		cdktest.WantError(t, "NewCrawler", err, "Catalog is required", `Prefixes[0] "a"`, `Prefixes[1] "/b/"`, `TablePrefix "B"`)
	})
	t.Run("nil props", func(t *testing.T) {
		stack := cdktest.TestStack(t)
		err := cdktest.Recover(func() { catalog.NewCrawler(stack, "Crawler", nil) })
		cdktest.WantError(t, "NewCrawler", err, "Catalog is required", "Prefixes: give at least one", "TablePrefix is required")
	})
}

// The catalog and the crawler each suppress the findings of their own resources: alone in a
// stack, they leave no AwsSolutions finding.
func TestNewCatalogAndCrawler_PassAwsSolutionsAlone(t *testing.T) {
	for _, under := range []string{"/Catalog/", "/Crawler/"} {
		t.Run(under, func(t *testing.T) {
			stack := cdktest.TestStack(t)
			cdktest.Setup(t, func() {
				c := catalog.NewCatalog(stack, "Catalog", &catalog.CatalogProps{Lake: lake.NewLake(stack, "Lake", nil)})
				if under == "/Crawler/" {
					catalog.NewCrawler(stack, "Crawler", &catalog.CrawlerProps{
						Catalog: c, Prefixes: []string{"sales_db/", "app_logs/"}, TablePrefix: "sales_db_",
					})
				}
			})
			for _, f := range cdktest.AwsSolutionsFindings(t, stack, under) {
				t.Error(f)
			}
		})
	}
}
