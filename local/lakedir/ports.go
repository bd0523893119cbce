package lakedir

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kpilake/kpilake/lambdas/extract"
)

// The ports of lambdas/ctas (s3API) and lambdas/plan (objectLister) are unexported; these are
// their method sets, written out so that a change there fails to compile here only if the
// Lake lacks the new call. lambdas/extract's S3API is exported and checked directly.
type (
	ctasS3 interface {
		ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
		PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
		DeleteObjects(context.Context, *s3.DeleteObjectsInput, ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
	}
	objectReader interface {
		GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
		HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	}
)

var (
	_ extract.S3API = (*Lake)(nil)
	_ ctasS3        = (*Lake)(nil)
	_ objectReader  = (*Lake)(nil)
	// The same calls as the SDK's client, so the Lake stands in wherever an *s3.Client does.
	_ ctasS3       = (*s3.Client)(nil)
	_ objectReader = (*s3.Client)(nil)
)
