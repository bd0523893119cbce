package extract

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3API is the subset of S3 that the extractor uses: the multipart upload, through which a day's
// object appears (or replaces the previous one) only when CompleteMultipartUpload succeeds, and a
// listing of the table's folder, which says whether an incremental table has an earlier day.
type S3API interface {
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	CreateMultipartUpload(context.Context, *s3.CreateMultipartUploadInput, ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(context.Context, *s3.UploadPartInput, ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	CompleteMultipartUpload(context.Context, *s3.CompleteMultipartUploadInput, ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
}

var _ S3API = (*s3.Client)(nil)

const (
	// minPartSize is S3's smallest part (but the last).
	minPartSize = 5 << 20
	// maxParts is S3's limit on parts per upload.
	maxParts = 10000
	// abortTimeout bounds the cleanup that runs after the run's context has ended.
	abortTimeout = 30 * time.Second
)

// uploader streams one object into a multipart upload.
type uploader struct {
	api         S3API
	bucket, key string
	partSize    int
	concurrency int
}

// uploadError is the reason an upload was aborted, and whether the abort itself failed.
type uploadError struct {
	err      error
	abortErr error
}

func (e *uploadError) Error() string {
	msg := e.err.Error()
	if e.abortErr != nil {
		msg += fmt.Sprintf(" (and aborting the multipart upload failed: %v; a bucket lifecycle rule removes it later)", e.abortErr)
	}
	return msg
}

func (e *uploadError) Unwrap() error { return e.err }

// upload reads r to its end into parts of partSize, uploading up to concurrency parts at once,
// and completes the upload. If reading r fails, a part fails or ctx ends, it aborts the upload,
// so the key keeps its previous object, and returns the first error. onFail runs as soon as the
// upload has failed, so that the producer of r can stop.
func (u *uploader) upload(ctx context.Context, r io.Reader, onFail func(error)) (size int64, parts int, err error) {
	created, err := u.api.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:            &u.bucket,
		Key:               &u.key,
		ContentType:       aws.String("application/vnd.apache.parquet"),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		return 0, 0, fmt.Errorf("start multipart upload of s3://%s/%s: %w", u.bucket, u.key, err)
	}
	uploadID := created.UploadId

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu        sync.Mutex
		completed []types.CompletedPart
		firstErr  error
		wg        sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel(err)
			if onFail != nil {
				onFail(err)
			}
		}
		mu.Unlock()
	}
	// Buffers circulate: one fills from r while the others upload, so at most concurrency
	// parts are in memory.
	buffers := make(chan []byte, u.concurrency)
	for range u.concurrency {
		buffers <- nil
	}
	for part := int32(1); ; part++ {
		var buf []byte
		select {
		case buf = <-buffers:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			fail(context.Cause(ctx))
			break
		}
		if buf == nil {
			buf = make([]byte, u.partSize)
		}
		n, rerr := io.ReadFull(r, buf)
		last := rerr == io.EOF || rerr == io.ErrUnexpectedEOF
		if rerr != nil && !last {
			fail(rerr)
			break
		}
		if n == 0 && part > 1 {
			break
		}
		if part > maxParts {
			fail(fmt.Errorf("object exceeds %d parts of %d bytes; raise the part size", maxParts, u.partSize))
			break
		}
		size += int64(n)
		parts++
		wg.Add(1)
		go func(part int32, body []byte) {
			defer wg.Done()
			defer func() { buffers <- body[:cap(body)] }()
			out, err := u.api.UploadPart(ctx, &s3.UploadPartInput{
				Bucket:            &u.bucket,
				Key:               &u.key,
				UploadId:          uploadID,
				PartNumber:        &part,
				Body:              bytes.NewReader(body), // seekable: the SDK checksums and retries it
				ContentLength:     aws.Int64(int64(len(body))),
				ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
			})
			if err != nil {
				fail(fmt.Errorf("upload part %d of s3://%s/%s: %w", part, u.bucket, u.key, err))
				return
			}
			mu.Lock()
			completed = append(completed, types.CompletedPart{PartNumber: &part, ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
			mu.Unlock()
		}(part, buf[:n])
		if last {
			break
		}
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = context.Cause(ctx)
	}
	if firstErr != nil {
		return size, parts, u.abort(ctx, uploadID, firstErr)
	}
	slices.SortFunc(completed, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	_, err = u.api.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &u.bucket,
		Key:             &u.key,
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
	})
	if err != nil {
		return size, parts, u.abort(ctx, uploadID, fmt.Errorf("complete multipart upload of s3://%s/%s: %w", u.bucket, u.key, err))
	}
	return size, parts, nil
}

// abort drops the upload's parts. It runs on a fresh deadline: the run's context may be the
// reason for aborting.
func (u *uploader) abort(ctx context.Context, uploadID *string, cause error) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, err := u.api.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
		Bucket: &u.bucket, Key: &u.key, UploadId: uploadID,
	})
	return &uploadError{err: cause, abortErr: err}
}
