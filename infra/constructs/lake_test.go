//go:build !unit

package constructs

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"
	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/infra/internal/cdktest"
	"github.com/kpilake/kpilake/infra/lake"
	"github.com/kpilake/kpilake/layout"
)

// lakeStack is one synthesized lake with a role per grant under test.
type lakeStack struct {
	tmpl *cdktest.Template
	lake *lake.Lake
	// key and the buckets' logical IDs.
	key, rawKey, raw, aggregated, queryResults, accessLogs string
	// roles maps a grant's name to the logical ID of the role that received it.
	roles map[string]string
}

// buckets are the logical IDs of the zones' buckets, by zone.
func (s *lakeStack) buckets() map[layout.Zone]string {
	return map[layout.Zone]string{
		layout.Raw: s.raw, layout.Aggregated: s.aggregated,
		layout.QueryResults: s.queryResults, layout.AccessLogs: s.accessLogs,
	}
}

// encryptedZones are the zones that the lake's keys encrypt.
var encryptedZones = []layout.Zone{layout.Raw, layout.Aggregated, layout.QueryResults}

func synthLake(props *lake.LakeProps, grants map[string]func(*lake.Lake, awsiam.IGrantable)) (*lakeStack, error) {
	var s *lakeStack
	err := cdktest.Recover(func() {
		stack := cdktest.NewStack("Test")
		l := lake.NewLake(stack, "Lake", props)
		roles := map[string]awsiam.Role{}
		for name, grant := range grants {
			role := awsiam.NewRole(stack, jsii.String(name), &awsiam.RoleProps{
				AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
			})
			grant(l, role)
			roles[name] = role
		}
		tmpl, err := cdktest.Synth(stack)
		if err != nil {
			panic(err)
		}
		s = &lakeStack{
			tmpl:         tmpl,
			lake:         l,
			key:          tmpl.LogicalID(l.Key.KeyId()),
			rawKey:       tmpl.LogicalID(l.RawKey.KeyId()),
			raw:          tmpl.LogicalID(l.Raw.BucketName()),
			aggregated:   tmpl.LogicalID(l.Aggregated.BucketName()),
			queryResults: tmpl.LogicalID(l.QueryResults.BucketName()),
			accessLogs:   tmpl.LogicalID(l.AccessLogs.BucketName()),
			roles:        map[string]string{},
		}
		for name, role := range roles {
			s.roles[name] = tmpl.LogicalID(role.RoleName())
		}
	})
	return s, err
}

// The grants under test, each on its own role of the default lake.
const (
	readSource  = "ReadSource"
	writeSource = "WriteSource"
	readKPI     = "ReadKPI"
	writeKPI    = "WriteKPI"
	readLogs    = "ReadAccessLogs"
	writeRaw    = "WriteWholeRaw"
)

var defaultLake = sync.OnceValues(func() (*lakeStack, error) {
	return synthLake(nil, map[string]func(*lake.Lake, awsiam.IGrantable){
		readSource:  func(l *lake.Lake, g awsiam.IGrantable) { l.GrantReadSource(g, "social") },
		writeSource: func(l *lake.Lake, g awsiam.IGrantable) { l.GrantWriteSource(g, "social") },
		readKPI:     func(l *lake.Lake, g awsiam.IGrantable) { l.GrantReadKPI(g, "daily_active_users") },
		writeKPI:    func(l *lake.Lake, g awsiam.IGrantable) { l.GrantWriteKPI(g, "daily_active_users") },
		readLogs:    func(l *lake.Lake, g awsiam.IGrantable) { l.Grant(g, layout.AccessLogs, "", lake.Read) },
		writeRaw:    func(l *lake.Lake, g awsiam.IGrantable) { l.Grant(g, layout.Raw, "", lake.Write) },
	})
})

// customLake sets every lifecycle to a non-default value and asks for DESTROY.
var customLake = sync.OnceValues(func() (*lakeStack, error) {
	return synthLake(&lake.LakeProps{
		RemovalPolicy:                    awscdk.RemovalPolicy_DESTROY,
		RawInfrequentAccessAfterDays:     45,
		RawGlacierAfterDays:              120,
		NoncurrentVersionExpireAfterDays: 10,
		QueryResultsExpireAfterDays:      3,
		AccessLogsExpireAfterDays:        30,
	}, nil)
})

func mustLake(t *testing.T, get func() (*lakeStack, error)) *lakeStack {
	t.Helper()
	s, err := get()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// arn is the ARN of resource logicalID as the template writes it.
func arn(logicalID string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{logicalID, "Arn"}}
}

// objectsArn is the ARN pattern of the objects under prefix of a bucket: <bucket arn>/<prefix>*.
func objectsArn(logicalID, prefix string) map[string]any {
	return map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Fn::GetAtt": []any{logicalID, "Arn"}}, "/" + prefix + "*"}}}
}

func TestNewLake_CreatesARawKeyAndADerivedZonesKeyWithRotation(t *testing.T) {
	s := mustLake(t, defaultLake)
	cdktest.Check(t, "key count", func() { s.tmpl.Assert.ResourceCountIs(jsii.String("AWS::KMS::Key"), jsii.Number(2)) })
	if s.key == s.rawKey {
		t.Errorf("Key and RawKey are both %s; the raw zone needs a key of its own", s.key)
	}
	s.tmpl.HasProperties(t, s.key, map[string]any{"EnableKeyRotation": true})
	s.tmpl.HasProperties(t, s.rawKey, map[string]any{"EnableKeyRotation": true})
}

func TestNewLake_FailsIfTheRawZoneSharesTheKey(t *testing.T) {
	err := cdktest.Recover(func() {
		stack := cdktest.NewStack("Test")
		key := awskms.NewKey(stack, jsii.String("Shared"), nil)
		lake.NewLake(stack, "Lake", &lake.LakeProps{EncryptionKey: key, RawEncryptionKey: key})
	})
	if err == nil || !strings.Contains(err.Error(), "RawEncryptionKey is EncryptionKey") || !strings.Contains(err.Error(), "a key of its own") {
		t.Errorf("NewLake with one key for every zone: got %v, want an error naming RawEncryptionKey and the fix", err)
	}
}

func TestNewLake_CreatesOneBucketPerZone(t *testing.T) {
	s := mustLake(t, defaultLake)
	cdktest.Check(t, "bucket count", func() {
		s.tmpl.Assert.ResourceCountIs(jsii.String("AWS::S3::Bucket"), jsii.Number(len(layout.Zones)))
	})
	seen := map[string]layout.Zone{}
	for zone, id := range s.buckets() {
		if other, ok := seen[id]; ok {
			t.Errorf("zones %s and %s share bucket %s", other, zone, id)
		}
		seen[id] = zone
		cdktest.Check(t, "Bucket("+string(zone)+")", func() {
			if got := s.tmpl.LogicalID(s.lake.Bucket(zone).BucketName()); got != id {
				t.Errorf("Bucket(%s) is %s, want %s", zone, got, id)
			}
		})
	}
}

func TestNewLake_EncryptsTheRawZoneWithItsOwnKey(t *testing.T) {
	s := mustLake(t, defaultLake)
	for _, zone := range encryptedZones {
		key := s.key
		if zone == layout.Raw {
			key = s.rawKey
		}
		cdktest.Check(t, "ZoneKey("+string(zone)+")", func() {
			if got := s.tmpl.LogicalID(s.lake.ZoneKey(zone).KeyId()); got != key {
				t.Errorf("ZoneKey(%s) is %s, want %s", zone, got, key)
			}
		})
		s.tmpl.HasProperties(t, s.buckets()[zone], map[string]any{
			"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{map[string]any{
				"BucketKeyEnabled": true,
				"ServerSideEncryptionByDefault": assertions.Match_ObjectEquals(&map[string]any{
					"SSEAlgorithm":   "aws:kms",
					"KMSMasterKeyID": arn(key),
				}),
			}}},
		})
	}
}

func TestNewLake_EncryptsAccessLogsWithS3ManagedKeys(t *testing.T) {
	s := mustLake(t, defaultLake)
	s.tmpl.HasProperties(t, s.accessLogs, map[string]any{
		"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{map[string]any{
			"ServerSideEncryptionByDefault": assertions.Match_ObjectEquals(&map[string]any{"SSEAlgorithm": "AES256"}),
		}}},
	})
}

func TestNewLake_BlocksPublicAccessAndACLsOnEveryBucket(t *testing.T) {
	s := mustLake(t, defaultLake)
	for zone, id := range s.buckets() {
		t.Run(string(zone), func(t *testing.T) {
			s.tmpl.HasProperties(t, id, map[string]any{
				"PublicAccessBlockConfiguration": map[string]any{
					"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
				},
				"OwnershipControls": map[string]any{"Rules": []any{map[string]any{"ObjectOwnership": "BucketOwnerEnforced"}}},
			})
		})
	}
}

func TestNewLake_DeniesInsecureTransportOnEveryBucket(t *testing.T) {
	s := mustLake(t, defaultLake)
	for zone, id := range s.buckets() {
		t.Run(string(zone), func(t *testing.T) {
			bucketAndObjects := []any{arn(id), objectsArn(id, "")}
			deny := func(condition map[string]any) any {
				return assertions.Match_ObjectLike(&map[string]any{
					"Effect": "Deny", "Action": "s3:*", "Principal": map[string]any{"AWS": "*"},
					"Resource": bucketAndObjects, "Condition": condition,
				})
			}
			cdktest.Check(t, "bucket policy", func() {
				s.tmpl.Assert.HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), map[string]any{
					"Bucket": map[string]any{"Ref": id},
					"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
						deny(map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}),
						deny(map[string]any{"NumericLessThan": map[string]any{"s3:TlsVersion": 1.2}}),
					})},
				})
			})
		})
	}
}

func TestNewLake_LogsZonesIntoAccessLogBucketUnderZonePrefix(t *testing.T) {
	s := mustLake(t, defaultLake)
	for _, zone := range encryptedZones {
		s.tmpl.HasProperties(t, s.buckets()[zone], map[string]any{
			"LoggingConfiguration": assertions.Match_ObjectEquals(&map[string]any{
				"DestinationBucketName": map[string]any{"Ref": s.accessLogs},
				"LogFilePrefix":         string(zone) + "/",
			}),
		})
	}
	// Logging the log bucket into itself would loop.
	s.tmpl.HasProperties(t, s.accessLogs, map[string]any{"LoggingConfiguration": assertions.Match_Absent()})
}

// The raw zone and the access logs are the lake's records: an overwritten or deleted object stays
// recoverable. The others are rebuilt (KPIs) or disposable (query results).
func TestNewLake_VersionsRawAndAccessLogs(t *testing.T) {
	s := mustLake(t, defaultLake)
	for _, id := range []string{s.raw, s.accessLogs} {
		s.tmpl.HasProperties(t, id, map[string]any{"VersioningConfiguration": map[string]any{"Status": "Enabled"}})
	}
	for _, id := range []string{s.aggregated, s.queryResults} {
		s.tmpl.HasProperties(t, id, map[string]any{"VersioningConfiguration": assertions.Match_Absent()})
	}
}

// rule is the lifecycle rule CloudFormation receives; a zero field must be absent.
type rule struct {
	iaDays, glacierDays, noncurrentDays, expireDays int
}

func (r rule) pattern() map[string]any {
	opt := func(days int, v func() any) any {
		if days == 0 {
			return assertions.Match_Absent()
		}
		return v()
	}
	var transitions any = assertions.Match_Absent()
	if r.iaDays != 0 {
		transitions = []any{
			map[string]any{"StorageClass": "STANDARD_IA", "TransitionInDays": r.iaDays},
			map[string]any{"StorageClass": "GLACIER_IR", "TransitionInDays": r.glacierDays},
		}
	}
	return map[string]any{"LifecycleConfiguration": map[string]any{"Rules": []any{map[string]any{
		"Status":                         "Enabled",
		"Transitions":                    transitions,
		"NoncurrentVersionExpiration":    opt(r.noncurrentDays, func() any { return map[string]any{"NoncurrentDays": r.noncurrentDays} }),
		"ExpirationInDays":               opt(r.expireDays, func() any { return r.expireDays }),
		"AbortIncompleteMultipartUpload": map[string]any{"DaysAfterInitiation": 7},
	}}}}
}

func TestNewLake_DefaultLifecycle(t *testing.T) {
	s := mustLake(t, defaultLake)
	for zone, want := range map[layout.Zone]rule{
		layout.Raw:          {iaDays: 30, glacierDays: 90, noncurrentDays: 30},
		layout.Aggregated:   {},
		layout.QueryResults: {expireDays: 7},
		layout.AccessLogs:   {expireDays: 365, noncurrentDays: 30},
	} {
		t.Run(string(zone), func(t *testing.T) { s.tmpl.HasProperties(t, s.buckets()[zone], want.pattern()) })
	}
}

func TestNewLake_HonoursCustomLifecycleDays(t *testing.T) {
	s := mustLake(t, customLake)
	for zone, want := range map[layout.Zone]rule{
		layout.Raw:          {iaDays: 45, glacierDays: 120, noncurrentDays: 10},
		layout.Aggregated:   {},
		layout.QueryResults: {expireDays: 3},
		layout.AccessLogs:   {expireDays: 30, noncurrentDays: 10},
	} {
		t.Run(string(zone), func(t *testing.T) { s.tmpl.HasProperties(t, s.buckets()[zone], want.pattern()) })
	}
}

func TestNewLake_RetainsBucketsAndKeyByDefault(t *testing.T) {
	s := mustLake(t, defaultLake)
	for _, id := range []string{s.key, s.raw, s.aggregated, s.queryResults, s.accessLogs} {
		s.tmpl.HasResource(t, id, map[string]any{"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
	}
}

func TestNewLake_DestroysBucketsAndKeyWhenAsked(t *testing.T) {
	s := mustLake(t, customLake)
	for _, id := range []string{s.key, s.raw, s.aggregated, s.queryResults, s.accessLogs} {
		s.tmpl.HasResource(t, id, map[string]any{"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"})
	}
}

// checkPermissions compares everything role name may do with want, and checks that none of it
// reaches a bucket other than zone's.
func checkPermissions(t *testing.T, s *lakeStack, name string, zone layout.Zone, want []string) {
	t.Helper()
	got := s.tmpl.Permissions(s.roles[name])
	if diff := cmp.Diff(slices.Sorted(slices.Values(want)), got); diff != "" {
		t.Errorf("%s permissions (-want +got):\n%s", name, diff)
	}
	for other, id := range s.buckets() {
		if other == zone {
			continue
		}
		for _, line := range got {
			if strings.Contains(line, `"`+id+`"`) {
				t.Errorf("%s reaches the %s bucket: %s", name, other, line)
			}
		}
	}
}

func listPrefix(bucket, prefix string) string {
	return cdktest.Permission("Allow", "s3:ListBucket", arn(bucket),
		map[string]any{"StringLike": map[string]any{"s3:prefix": prefix + "*"}})
}

func allow(action string, resource any) string {
	return cdktest.Permission("Allow", action, resource, nil)
}

func TestGrantReadSource_ReadsOnlyThatSourcesPrefix(t *testing.T) {
	s := mustLake(t, defaultLake)
	checkPermissions(t, s, readSource, layout.Raw, []string{
		allow("s3:GetObject", objectsArn(s.raw, "social/")),
		listPrefix(s.raw, "social/"),
		allow("kms:Decrypt", arn(s.rawKey)),
	})
}

func TestGrantWriteSource_WritesWithoutReadingOrDeleting(t *testing.T) {
	s := mustLake(t, defaultLake)
	checkPermissions(t, s, writeSource, layout.Raw, []string{
		allow("s3:PutObject", objectsArn(s.raw, "social/")),
		allow("s3:AbortMultipartUpload", objectsArn(s.raw, "social/")),
		listPrefix(s.raw, "social/"),
		allow("kms:Decrypt", arn(s.rawKey)),
		allow("kms:GenerateDataKey", arn(s.rawKey)),
	})
}

func TestGrantReadKPI_ReadsOnlyThatKPIsPrefix(t *testing.T) {
	s := mustLake(t, defaultLake)
	checkPermissions(t, s, readKPI, layout.Aggregated, []string{
		allow("s3:GetObject", objectsArn(s.aggregated, "daily_active_users/")),
		listPrefix(s.aggregated, "daily_active_users/"),
		allow("kms:Decrypt", arn(s.key)),
	})
}

func TestGrantWriteKPI_ReadsWritesAndDeletesOnlyThatKPIsPrefix(t *testing.T) {
	s := mustLake(t, defaultLake)
	objects := objectsArn(s.aggregated, "daily_active_users/")
	checkPermissions(t, s, writeKPI, layout.Aggregated, []string{
		allow("s3:GetObject", objects),
		allow("s3:PutObject", objects),
		allow("s3:AbortMultipartUpload", objects),
		allow("s3:DeleteObject", objects),
		listPrefix(s.aggregated, "daily_active_users/"),
		allow("kms:Decrypt", arn(s.key)),
		allow("kms:GenerateDataKey", arn(s.key)),
	})
}

func TestGrant_WholeZoneListsWithoutCondition(t *testing.T) {
	s := mustLake(t, defaultLake)
	checkPermissions(t, s, writeRaw, layout.Raw, []string{
		allow("s3:PutObject", objectsArn(s.raw, "")),
		allow("s3:AbortMultipartUpload", objectsArn(s.raw, "")),
		allow("s3:ListBucket", arn(s.raw)),
		allow("kms:Decrypt", arn(s.rawKey)),
		allow("kms:GenerateDataKey", arn(s.rawKey)),
	})
}

func TestGrant_AccessLogsNeedNoKey(t *testing.T) {
	s := mustLake(t, defaultLake)
	checkPermissions(t, s, readLogs, layout.AccessLogs, []string{
		allow("s3:GetObject", objectsArn(s.accessLogs, "")),
		allow("s3:ListBucket", arn(s.accessLogs)),
	})
}

func TestGrant_FailsWithoutAccess(t *testing.T) {
	stack := cdktest.TestStack(t)
	var l *lake.Lake
	var role awsiam.Role
	cdktest.Setup(t, func() {
		l = lake.NewLake(stack, "Lake", nil)
		role = awsiam.NewRole(stack, jsii.String("NoAccess"), &awsiam.RoleProps{
			AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		})
	})
	err := cdktest.Recover(func() { l.Grant(role, layout.Raw, "social/", 0) })
	if err == nil || !strings.Contains(err.Error(), "give Read, Write and/or Delete") {
		t.Errorf("Grant with no access: got %v, want an error asking for Read, Write and/or Delete", err)
	}
}

func TestNewLake_FailsIf(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props lake.LakeProps
		// want are substrings of the error: the field, the value and the fix.
		want []string
	}{{
		name:  "infrequent access before S3's 30 days",
		props: lake.LakeProps{RawInfrequentAccessAfterDays: 10},
		want:  []string{"RawInfrequentAccessAfterDays is 10", "at least 30"},
	}, {
		name:  "glacier less than 30 days after infrequent access",
		props: lake.LakeProps{RawInfrequentAccessAfterDays: 30, RawGlacierAfterDays: 40},
		want:  []string{"RawGlacierAfterDays is 40", "60 or more"},
	}, {
		name:  "glacier less than 30 days after the default infrequent access",
		props: lake.LakeProps{RawGlacierAfterDays: 59},
		want:  []string{"RawGlacierAfterDays is 59", "60 or more"},
	}, {
		name:  "negative noncurrent version expiry",
		props: lake.LakeProps{NoncurrentVersionExpireAfterDays: -1},
		want:  []string{"NoncurrentVersionExpireAfterDays is -1", "positive number of days"},
	}, {
		name:  "negative query results expiry",
		props: lake.LakeProps{QueryResultsExpireAfterDays: -7},
		want:  []string{"QueryResultsExpireAfterDays is -7", "positive number of days"},
	}, {
		name:  "negative access logs expiry",
		props: lake.LakeProps{AccessLogsExpireAfterDays: -365},
		want:  []string{"AccessLogsExpireAfterDays is -365", "positive number of days"},
	}, {
		name:  "removal policy SNAPSHOT",
		props: lake.LakeProps{RemovalPolicy: awscdk.RemovalPolicy_SNAPSHOT},
		want:  []string{"RemovalPolicy", "SNAPSHOT", "RemovalPolicy_RETAIN or RemovalPolicy_DESTROY"},
	}, {
		name:  "backups kept less than the continuous window",
		props: lake.LakeProps{Protection: &lake.ProtectionProps{BackupRetentionDays: 20}},
		want:  []string{"Protection.BackupRetentionDays is 20", "at least 35"},
	}, {
		name:  "break-glass principal not a role",
		props: lake.LakeProps{Protection: &lake.ProtectionProps{BreakGlassRoleArn: "arn:aws:iam::123456789012:user/admin"}},
		want:  []string{"Protection.BreakGlassRoleArn", "is not an IAM role ARN"},
	}, {
		name:  "protection of a lake that is destroyed",
		props: lake.LakeProps{RemovalPolicy: awscdk.RemovalPolicy_DESTROY, Protection: &lake.ProtectionProps{}},
		want:  []string{"Protection needs RemovalPolicy_RETAIN"},
	}, {
		name: "several problems, all reported",
		props: lake.LakeProps{
			RawInfrequentAccessAfterDays:     10,
			NoncurrentVersionExpireAfterDays: -1,
			RemovalPolicy:                    awscdk.RemovalPolicy_SNAPSHOT,
		},
		want: []string{"RawInfrequentAccessAfterDays is 10", "NoncurrentVersionExpireAfterDays is -1", "RemovalPolicy"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			stack := cdktest.TestStack(t)
			err := cdktest.Recover(func() { lake.NewLake(stack, "Lake", &tc.props) })
			cdktest.WantError(t, fmt.Sprintf("NewLake(%+v)", tc.props), err, append([]string{`lake.NewLake "Lake"`}, tc.want...)...)
		})
	}
}

func TestNewLake_AcceptsTheLimits(t *testing.T) {
	for name, props := range map[string]lake.LakeProps{
		"glacier 30 days after infrequent access": {RawInfrequentAccessAfterDays: 30, RawGlacierAfterDays: 60},
		"late tiering and destroy":                {RawInfrequentAccessAfterDays: 100, RawGlacierAfterDays: 130, RemovalPolicy: awscdk.RemovalPolicy_DESTROY},
		"one-day expiries":                        {NoncurrentVersionExpireAfterDays: 1, QueryResultsExpireAfterDays: 1, AccessLogsExpireAfterDays: 1},
	} {
		t.Run(name, func(t *testing.T) {
			stack := cdktest.TestStack(t)
			if err := cdktest.Recover(func() { lake.NewLake(stack, "Lake", &props) }); err != nil {
				t.Errorf("NewLake(%+v): %v", props, err)
			}
		})
	}
}

// The lake suppresses the findings of its own resources, protected or not: alone in a stack, it
// leaves no AwsSolutions finding.
func TestNewLake_PassesAwsSolutionsAlone(t *testing.T) {
	for name, props := range map[string]*lake.LakeProps{
		"default":   nil,
		"protected": {Protection: &lake.ProtectionProps{BreakGlassRoleArn: "arn:aws:iam::123456789012:role/admin"}},
	} {
		t.Run(name, func(t *testing.T) {
			stack := cdktest.TestStack(t)
			cdktest.Setup(t, func() { lake.NewLake(stack, "Lake", props) })
			for _, f := range cdktest.AwsSolutionsFindings(t, stack, "/Lake/") {
				t.Error(f)
			}
		})
	}
}
