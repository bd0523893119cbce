// Package lake defines the Lake construct: the S3 zones of the data lake, a KMS key for the raw
// zone and one for the derived zones, secure defaults, lifecycle rules and grants scoped to one
// zone and prefix.
package lake

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/kpilake/kpilake/infra/nag"
	"github.com/kpilake/kpilake/layout"
)

// Lifecycle defaults, in days.
const (
	DefaultRawInfrequentAccessAfterDays     = 30
	DefaultRawGlacierAfterDays              = 90
	DefaultNoncurrentVersionExpireAfterDays = 30
	DefaultQueryResultsExpireAfterDays      = 7
	DefaultAccessLogsExpireAfterDays        = 365
	// abortMultipartAfterDays cleans up uploads that an extraction abandoned.
	abortMultipartAfterDays = 7
)

// LakeProps configures a Lake. The zero value is a valid, secure lake that retains its data.
type LakeProps struct {
	// EncryptionKey encrypts the aggregated and query-results zones. Default: a new
	// customer-managed key with yearly rotation.
	EncryptionKey awskms.IKey
	// RawEncryptionKey encrypts the raw zone; it must not be EncryptionKey, so that a reader of
	// the aggregates cannot decrypt raw data. Default: a new customer-managed key with yearly
	// rotation.
	RawEncryptionKey awskms.IKey
	// RemovalPolicy applies to the buckets and the key. With RemovalPolicy_DESTROY the buckets
	// are emptied when they are deleted (autoDeleteObjects), so that `cdk destroy` removes the
	// lake and keeps no data encrypted under the key it deletes. Default:
	// awscdk.RemovalPolicy_RETAIN.
	RemovalPolicy awscdk.RemovalPolicy
	// RawInfrequentAccessAfterDays moves raw objects to Standard-IA; at least 30 (S3's minimum).
	// Default: 30.
	RawInfrequentAccessAfterDays int
	// RawGlacierAfterDays moves raw objects to Glacier Instant Retrieval; at least 30 days after
	// RawInfrequentAccessAfterDays. Default: 90.
	RawGlacierAfterDays int
	// NoncurrentVersionExpireAfterDays deletes replaced versions of raw objects. Default: 30.
	NoncurrentVersionExpireAfterDays int
	// QueryResultsExpireAfterDays deletes Athena query output. Default: 7.
	QueryResultsExpireAfterDays int
	// AccessLogsExpireAfterDays deletes server access logs. Default: 365.
	AccessLogsExpireAfterDays int
	// Protection backs up the raw zone and the access logs into a locked vault and leaves their
	// retention settings to a break-glass role; it needs RemovalPolicy_RETAIN. Default: nil, off.
	Protection *ProtectionProps
}

func (p *LakeProps) withDefaults() LakeProps {
	out := LakeProps{}
	if p != nil {
		out = *p
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&out.RawInfrequentAccessAfterDays, DefaultRawInfrequentAccessAfterDays)
	def(&out.RawGlacierAfterDays, DefaultRawGlacierAfterDays)
	def(&out.NoncurrentVersionExpireAfterDays, DefaultNoncurrentVersionExpireAfterDays)
	def(&out.QueryResultsExpireAfterDays, DefaultQueryResultsExpireAfterDays)
	def(&out.AccessLogsExpireAfterDays, DefaultAccessLogsExpireAfterDays)
	if out.RemovalPolicy == "" {
		out.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	return out
}

func (p *LakeProps) validate() error {
	var errs []error
	positive := func(name string, v int) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s is %d; give a positive number of days, or 0 for the default", name, v))
		}
	}
	positive("RawInfrequentAccessAfterDays", p.RawInfrequentAccessAfterDays)
	positive("RawGlacierAfterDays", p.RawGlacierAfterDays)
	positive("NoncurrentVersionExpireAfterDays", p.NoncurrentVersionExpireAfterDays)
	positive("QueryResultsExpireAfterDays", p.QueryResultsExpireAfterDays)
	positive("AccessLogsExpireAfterDays", p.AccessLogsExpireAfterDays)
	if p.RawInfrequentAccessAfterDays > 0 && p.RawInfrequentAccessAfterDays < 30 {
		errs = append(errs, fmt.Errorf("RawInfrequentAccessAfterDays is %d; S3 requires at least 30", p.RawInfrequentAccessAfterDays))
	}
	if p.RawGlacierAfterDays > 0 && p.RawGlacierAfterDays < p.RawInfrequentAccessAfterDays+30 {
		errs = append(errs, fmt.Errorf("RawGlacierAfterDays is %d; S3 requires at least 30 days after RawInfrequentAccessAfterDays, so %d or more",
			p.RawGlacierAfterDays, p.RawInfrequentAccessAfterDays+30))
	}
	switch p.RemovalPolicy {
	case awscdk.RemovalPolicy_RETAIN, awscdk.RemovalPolicy_DESTROY:
	default:
		errs = append(errs, fmt.Errorf("RemovalPolicy %q is not supported; use RemovalPolicy_RETAIN or RemovalPolicy_DESTROY", p.RemovalPolicy))
	}
	if p.EncryptionKey != nil && p.EncryptionKey == p.RawEncryptionKey {
		errs = append(errs, errors.New("RawEncryptionKey is EncryptionKey; give the raw zone a key of its own, or leave it nil for a new one"))
	}
	if p.Protection != nil {
		errs = append(errs, p.Protection.validate()...)
		if p.RemovalPolicy == awscdk.RemovalPolicy_DESTROY {
			errs = append(errs, errors.New("Protection needs RemovalPolicy_RETAIN: a protected bucket cannot be emptied and its backups outlive the stack"))
		}
	}
	return errors.Join(errs...)
}

// Lake is the data lake's storage: one bucket per zone, a key for the raw zone and one for the
// zones derived from it.
type Lake struct {
	constructs.Construct
	// Key encrypts the aggregated and query-results zones. Grant gives it only to the grantees
	// of those zones.
	Key awskms.IKey
	// RawKey encrypts the raw zone (and the Firehose streams that deliver into it). Grant gives it
	// only to the grantees of the raw zone, so that a reader of the aggregates cannot decrypt raw
	// data. The access logs use neither key: S3 server access logging needs SSE-S3.
	RawKey awskms.IKey
	// Raw holds extracted tables and application logs; versioned.
	Raw awss3.Bucket
	// Aggregated holds KPI tables.
	Aggregated awss3.Bucket
	// QueryResults holds Athena's query output.
	QueryResults awss3.Bucket
	// AccessLogs receives the other buckets' server access logs; versioned.
	AccessLogs awss3.Bucket
	// Backup is the second copy of Raw and AccessLogs; nil without LakeProps.Protection.
	Backup *Backup
}

// NewLake creates the lake's buckets and keys under a new construct.
func NewLake(scope constructs.Construct, id string, props *LakeProps) *Lake {
	p := props.withDefaults()
	if err := p.validate(); err != nil {
		panic(fmt.Errorf("lake.NewLake %q: %w", id, err))
	}
	l := &Lake{Construct: constructs.NewConstruct(scope, &id)}

	// The raw zone's key keeps the construct ID "Key" of the key that once encrypted every zone,
	// so that in a deployed lake it stays the same key: the raw objects written before the zones
	// had keys of their own stay readable by the raw zone's readers. The derived zones get the new
	// key; what they held before is rebuilt from the raw zone (a backfill) or expires.
	l.RawKey = p.RawEncryptionKey
	if l.RawKey == nil {
		l.RawKey = awskms.NewKey(l.Construct, jsii.String("Key"), &awskms.KeyProps{
			Description:       jsii.String("kpilake: encrypts the lake's raw zone"),
			EnableKeyRotation: jsii.Bool(true),
			RemovalPolicy:     p.RemovalPolicy,
		})
	}
	l.Key = p.EncryptionKey
	if l.Key == nil {
		l.Key = awskms.NewKey(l.Construct, jsii.String("DerivedKey"), &awskms.KeyProps{
			Description:       jsii.String("kpilake: encrypts the lake's aggregated and query-results zones"),
			EnableKeyRotation: jsii.Bool(true),
			RemovalPolicy:     p.RemovalPolicy,
		})
	}

	l.AccessLogs = awss3.NewBucket(l.Construct, jsii.String("AccessLogs"), &awss3.BucketProps{
		// S3 server access logging delivers only to SSE-S3 buckets.
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		MinimumTLSVersion: jsii.Number(1.2),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     p.RemovalPolicy,
		AutoDeleteObjects: jsii.Bool(p.RemovalPolicy == awscdk.RemovalPolicy_DESTROY),
		// Versioned like the raw zone: an overwritten or deleted log stays recoverable, and AWS
		// Backup requires it.
		Versioned: jsii.Bool(true),
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("ExpireAccessLogs"),
			Expiration:                          days(p.AccessLogsExpireAfterDays),
			NoncurrentVersionExpiration:         days(p.NoncurrentVersionExpireAfterDays),
			AbortIncompleteMultipartUploadAfter: days(abortMultipartAfterDays),
		}},
	})

	l.Raw = l.zoneBucket("Raw", layout.Raw, p, true, []*awss3.LifecycleRule{{
		Id: jsii.String("TierRawData"),
		Transitions: &[]*awss3.Transition{
			{StorageClass: awss3.StorageClass_INFREQUENT_ACCESS(), TransitionAfter: days(p.RawInfrequentAccessAfterDays)},
			{StorageClass: awss3.StorageClass_GLACIER_INSTANT_RETRIEVAL(), TransitionAfter: days(p.RawGlacierAfterDays)},
		},
		NoncurrentVersionExpiration:         days(p.NoncurrentVersionExpireAfterDays),
		AbortIncompleteMultipartUploadAfter: days(abortMultipartAfterDays),
	}})
	l.Aggregated = l.zoneBucket("Aggregated", layout.Aggregated, p, false, []*awss3.LifecycleRule{{
		Id:                                  jsii.String("AbortIncompleteUploads"),
		AbortIncompleteMultipartUploadAfter: days(abortMultipartAfterDays),
	}})
	l.QueryResults = l.zoneBucket("QueryResults", layout.QueryResults, p, false, []*awss3.LifecycleRule{{
		Id:                                  jsii.String("ExpireQueryResults"),
		Expiration:                          days(p.QueryResultsExpireAfterDays),
		AbortIncompleteMultipartUploadAfter: days(abortMultipartAfterDays),
	}})
	if p.Protection != nil {
		l.Backup = l.protect(*p.Protection, l.Raw, l.AccessLogs)
	}
	l.suppress(p)
	return l
}

// suppress records why each bucket meets the cdk-nag rules that do not fit it otherwise.
func (l *Lake) suppress(p LakeProps) {
	replication, versioning := nag.Rule("S3BucketReplicationEnabled", nag.NIST, nag.HIPAA), nag.Rule("S3BucketVersioningEnabled", nag.NIST, nag.HIPAA)
	second := "Versioning is the only protection of this bucket's data: LakeProps.Protection (cdk.json lake.protection, on by default where production is true) is off in this environment."
	if p.Protection != nil {
		second = "The second copy is AWS Backup (continuous and daily recovery points in a locked vault under its own key, LakeProps.Protection) instead of replication."
	}
	nag.Suppress(l.Raw, second, replication...)
	nag.Suppress(l.AccessLogs, second, replication...)
	nag.Suppress(l.AccessLogs, "S3 server access logging delivers only to buckets encrypted with SSE-S3, not SSE-KMS.",
		nag.Rule("S3DefaultEncryptionKMS", nag.NIST, nag.HIPAA)...)
	nag.Suppress(l.AccessLogs, "This is the server access log target of the other zones; logging it into itself would loop.", "AwsSolutions-S1")
	nag.Suppress(l.Aggregated, "Derived data: every KPI table is rebuilt from the raw zone by a backfill; the workflow deletes superseded KPI runs on purpose, which versions would keep.",
		append(replication, versioning...)...)
	nag.Suppress(l.QueryResults, fmt.Sprintf("Athena's transient query output, expired after %d days; never the only copy of anything.", p.QueryResultsExpireAfterDays),
		append(replication, versioning...)...)
}

func (l *Lake) zoneBucket(id string, zone layout.Zone, p LakeProps, versioned bool, rules []*awss3.LifecycleRule) awss3.Bucket {
	return awss3.NewBucket(l.Construct, jsii.String(id), &awss3.BucketProps{
		Encryption:             awss3.BucketEncryption_KMS,
		EncryptionKey:          l.ZoneKey(zone),
		BucketKeyEnabled:       jsii.Bool(true),
		EnforceSSL:             jsii.Bool(true),
		MinimumTLSVersion:      jsii.Number(1.2),
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		Versioned:              jsii.Bool(versioned),
		ServerAccessLogsBucket: l.AccessLogs,
		ServerAccessLogsPrefix: jsii.String(string(zone) + "/"),
		LifecycleRules:         &rules,
		RemovalPolicy:          p.RemovalPolicy,
		AutoDeleteObjects:      jsii.Bool(p.RemovalPolicy == awscdk.RemovalPolicy_DESTROY),
	})
}

func days(n int) awscdk.Duration { return awscdk.Duration_Days(jsii.Number(n)) }

// ZoneKey returns the key that encrypts a zone: RawKey for the raw zone, Key for the aggregated
// and query-results zones, nil for the access logs (SSE-S3).
func (l *Lake) ZoneKey(zone layout.Zone) awskms.IKey {
	switch zone {
	case layout.Raw:
		return l.RawKey
	case layout.Aggregated, layout.QueryResults:
		return l.Key
	case layout.AccessLogs:
		return nil
	}
	panic(fmt.Errorf("lake: unknown zone %q; use one of %v", zone, layout.Zones))
}

// Bucket returns the bucket of a zone.
func (l *Lake) Bucket(zone layout.Zone) awss3.Bucket {
	switch zone {
	case layout.Raw:
		return l.Raw
	case layout.Aggregated:
		return l.Aggregated
	case layout.QueryResults:
		return l.QueryResults
	case layout.AccessLogs:
		return l.AccessLogs
	}
	panic(fmt.Errorf("lake: unknown zone %q; use one of %v", zone, layout.Zones))
}

// Actions granted by the zone grants; exported so that tests and reviewers see one list.
var (
	ReadObjectActions  = []string{"s3:GetObject"}
	ListActions        = []string{"s3:ListBucket"}
	WriteObjectActions = []string{"s3:PutObject", "s3:AbortMultipartUpload"}
	// DeleteObjectActions lets a writer replace what it wrote (old KPI runs, failed uploads).
	DeleteObjectActions = []string{"s3:DeleteObject"}
	KeyReadActions      = []string{"kms:Decrypt"}
	// KeyWriteActions covers SSE-KMS puts, including multipart uploads (which decrypt parts).
	KeyWriteActions = []string{"kms:Decrypt", "kms:GenerateDataKey"}
)

// Access says what a grant allows under its prefix.
type Access int

// Access levels; each includes listing the prefix.
const (
	Read Access = 1 << iota
	Write
	Delete
)

// Grant gives grantee access to the objects under prefix in zone (prefix "" means the whole
// zone), to list that prefix, and to use the zone's key (ZoneKey) as needed. Every statement is
// scoped to the prefix; nothing else in the bucket is reachable, and no other zone's key.
func (l *Lake) Grant(grantee awsiam.IGrantable, zone layout.Zone, prefix string, access Access) awsiam.Grant {
	if access == 0 {
		panic(fmt.Errorf("lake.Grant on %s/%s: give Read, Write and/or Delete", zone, prefix))
	}
	b := l.Bucket(zone)
	var objectActions, keyActions []string
	if access&Read != 0 {
		objectActions = append(objectActions, ReadObjectActions...)
		keyActions = KeyReadActions
	}
	if access&Write != 0 {
		objectActions = append(objectActions, WriteObjectActions...)
		keyActions = KeyWriteActions
	}
	if access&Delete != 0 {
		objectActions = append(objectActions, DeleteObjectActions...)
	}
	g := awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings(objectActions...),
		ResourceArns: jsii.Strings(*b.ArnForObjects(jsii.String(prefix + "*"))),
	})
	list := &awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings(ListActions...),
		ResourceArns: jsii.Strings(*b.BucketArn()),
	}
	if prefix != "" {
		list.Conditions = &map[string]*map[string]any{
			"StringLike": {"s3:prefix": []string{prefix + "*"}},
		}
	}
	g = g.Combine(awsiam.Grant_AddToPrincipal(list))
	if key := l.ZoneKey(zone); key != nil && len(keyActions) > 0 {
		g = g.Combine(key.Grant(grantee, *jsii.Strings(keyActions...)...))
	}
	return g
}

// GrantReadSource lets grantee read one source's raw tables (objects and the key).
func (l *Lake) GrantReadSource(grantee awsiam.IGrantable, source string) awsiam.Grant {
	return l.Grant(grantee, layout.Raw, layout.SourcePrefix(source), Read)
}

// GrantWriteSource lets grantee write one source's raw tables, as the extraction does.
func (l *Lake) GrantWriteSource(grantee awsiam.IGrantable, source string) awsiam.Grant {
	return l.Grant(grantee, layout.Raw, layout.SourcePrefix(source), Write)
}

// GrantReadKPI lets grantee read one KPI's aggregates.
func (l *Lake) GrantReadKPI(grantee awsiam.IGrantable, kpi string) awsiam.Grant {
	return l.Grant(grantee, layout.Aggregated, layout.KPIPrefix(kpi), Read)
}

// GrantWriteKPIs lets grantee write every KPI's aggregates and delete their superseded runs: the
// aggregated zone under layout.KPIsPrefix, in statements that do not grow with the KPIs.
func (l *Lake) GrantWriteKPIs(grantee awsiam.IGrantable) awsiam.Grant {
	return l.Grant(grantee, layout.Aggregated, layout.KPIsPrefix, Read|Write|Delete)
}

// GrantWriteKPI lets grantee write one KPI's aggregates and delete its superseded runs.
func (l *Lake) GrantWriteKPI(grantee awsiam.IGrantable, kpi string) awsiam.Grant {
	return l.Grant(grantee, layout.Aggregated, layout.KPIPrefix(kpi), Read|Write|Delete)
}
