// Package lakedir is an S3 stand-in on a directory, for local runs: it implements the S3 calls
// that the Lambdas' ports take (lambdas/extract's S3API, lambdas/ctas' and lambdas/plan's
// listing, marker and cleanup calls), so that their real code writes and reads a lake on disk.
//
// Bucket B is the directory <root>/B/ and key K the file <root>/B/K, so that any Parquet reader
// (DuckDB's hive-partitioned globs) reads the lake in place.
//
// What it promises, as S3 does:
//   - A write is atomic: PutObject and CompleteMultipartUpload write a temporary file under
//     <root>/.tmp/ and rename it into place, so a reader sees the old object or the new one,
//     never a part of either.
//   - A multipart upload's parts live under <root>/.uploads/<id>/, outside every bucket, and are
//     invisible until CompleteMultipartUpload; AbortMultipartUpload leaves nothing behind. Parts
//     but the last must be at least 5 MiB (EntityTooSmall), and CompleteMultipartUpload checks
//     each part's ETag (and CRC32 checksum, where given) against the one UploadPart returned.
//   - LastModified is the file's modification time: the write's instant from the Lake's clock
//     (WithClock), and for a multipart upload its initiation time, as on S3.
//   - ListObjectsV2 returns keys in lexicographic (byte) order, with Prefix, Delimiter and
//     CommonPrefixes, StartAfter, ContinuationToken and MaxKeys (at most 1000 a page).
//   - DeleteObjects deletes what exists; a missing key is not an error and is reported as
//     deleted (unless Quiet). Directories left empty are pruned, so a listing never sees them.
//   - GetObject of a missing key fails with *s3types.NoSuchKey and HeadObject with
//     *s3types.NotFound, and an unknown upload id with *s3types.NoSuchUpload, so code that uses
//     errors.As behaves as against S3.
//   - A Lake is safe for concurrent use by many goroutines (parts upload concurrently).
//
// What it does not model: bucket existence (a missing bucket is empty, and a write creates it),
// versioning, ACLs, encryption, storage classes, object metadata and content types, ranges and
// conditional requests (a request that sets Range, IfMatch or IfNoneMatch fails rather than be
// served wrongly), ETags of objects (parts have one, objects none), and keys that are not clean
// relative paths: an empty segment ("a//b"), a "." or ".." segment, a trailing "/" (folder
// markers), or a key that is both an object and a prefix of another ("a" and "a/b") is rejected
// with an error naming the key. Several processes may share a root, but only one Lake per process
// orders its writes against its deletes' directory pruning.
package lakedir

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// syscallENOTDIR is the error of a path through a file ("a/b" where "a" is an object).
var syscallENOTDIR = syscall.ENOTDIR

// Directories of the root that hold no bucket.
const (
	uploadsDir = ".uploads"
	tmpDir     = ".tmp"
)

// Limits that S3 applies and the Lake applies too.
const (
	// MinPartSize is the smallest part of a multipart upload but its last.
	MinPartSize = 5 << 20
	// MaxKeys is the most keys and common prefixes that one ListObjectsV2 page returns.
	MaxKeys   = 1000
	maxKeyLen = 1024
	maxParts  = 10000
)

// Lake is an S3 stand-in on the directory Root. See the package documentation.
type Lake struct {
	root string
	now  func() time.Time
	// mu orders namespace changes: a write's rename (which creates directories) against a
	// delete's pruning of empty directories (which removes them).
	mu sync.Mutex
}

// Option configures a Lake.
type Option func(*Lake)

// WithClock sets the clock that stamps LastModified. Default: time.Now.
func WithClock(now func() time.Time) Option {
	return func(l *Lake) { l.now = now }
}

// Open returns the Lake on directory root, creating it if needed.
func Open(root string, opts ...Option) (*Lake, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("lakedir: root %q: %w", root, err)
	}
	l := &Lake{root: abs, now: time.Now}
	for _, o := range opts {
		o(l)
	}
	for _, d := range []string{abs, filepath.Join(abs, uploadsDir), filepath.Join(abs, tmpDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("lakedir: create %s: %w", d, err)
		}
	}
	return l, nil
}

// Root is the lake's directory (absolute).
func (l *Lake) Root() string { return l.root }

// Path is the file that holds key in bucket, whether or not it exists.
func (l *Lake) Path(bucket, key string) (string, error) {
	if err := checkBucket(bucket); err != nil {
		return "", err
	}
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(l.root, bucket, filepath.FromSlash(key)), nil
}

func checkBucket(bucket string) error {
	if bucket == "" || strings.ContainsAny(bucket, `/\`) || strings.HasPrefix(bucket, ".") {
		return fmt.Errorf("lakedir: bucket %q is not a bucket name; use a name without / that does not start with a dot", bucket)
	}
	return nil
}

func checkKey(key string) error {
	if key == "" || len(key) > maxKeyLen || strings.ContainsRune(key, 0) || strings.ContainsRune(key, '\\') {
		return fmt.Errorf("lakedir: key %q is not a key the lake stores; give 1 to %d bytes, no NUL or backslash", key, maxKeyLen)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("lakedir: key %q has an empty, \".\" or \"..\" segment (or a trailing /), which a directory cannot hold", key)
		}
	}
	return nil
}

func (l *Lake) bucketDir(bucket string) string { return filepath.Join(l.root, bucket) }

// validated checks bucket and key and returns the key's file.
func (l *Lake) validated(bucket, key *string) (string, error) {
	return l.Path(aws.ToString(bucket), aws.ToString(key))
}

func notModelled(what string) error {
	return fmt.Errorf("lakedir: %s is not modelled by the local lake; see the lakedir package documentation", what)
}

// apiError is an S3 error without a typed form in the SDK (EntityTooSmall, InvalidPart, ...).
func apiError(code, format string, args ...any) error {
	return &smithy.GenericAPIError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// place renames the temporary file tmp to path, creating its directories, and stamps its
// modification time with mtime.
func (l *Lake) place(tmp, path string, mtime time.Time) error {
	if err := os.Chtimes(tmp, mtime, mtime); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("lakedir: %s: a key is both an object and a prefix of another, which a directory cannot hold: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("lakedir: %s is a prefix of other keys, so it cannot also be an object", path)
	}
	return os.Rename(tmp, path)
}

// tempFile is a new file under <root>/.tmp/.
func (l *Lake) tempFile() (*os.File, error) {
	return os.CreateTemp(filepath.Join(l.root, tmpDir), "put-*")
}

// PutObject writes the object atomically (write a temporary file, then rename).
func (l *Lake) PutObject(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	path, err := l.validated(in.Bucket, in.Key)
	if err != nil {
		return nil, err
	}
	if in.IfMatch != nil || in.IfNoneMatch != nil {
		return nil, notModelled("a conditional PutObject (IfMatch, IfNoneMatch)")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := l.tempFile()
	if err != nil {
		return nil, fmt.Errorf("lakedir: put s3://%s/%s: %w", *in.Bucket, *in.Key, err)
	}
	defer os.Remove(f.Name()) // after the rename, a no-op
	if in.Body != nil {
		if _, err := io.Copy(f, in.Body); err != nil {
			f.Close()
			return nil, fmt.Errorf("lakedir: put s3://%s/%s: read body: %w", *in.Bucket, *in.Key, err)
		}
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("lakedir: put s3://%s/%s: %w", *in.Bucket, *in.Key, err)
	}
	if err := l.place(f.Name(), path, l.now()); err != nil {
		return nil, fmt.Errorf("lakedir: put s3://%s/%s: %w", *in.Bucket, *in.Key, err)
	}
	return &s3.PutObjectOutput{}, nil
}

// GetObject opens the object; the caller closes Body. A missing key is *s3types.NoSuchKey.
func (l *Lake) GetObject(ctx context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	path, err := l.validated(in.Bucket, in.Key)
	if err != nil {
		return nil, err
	}
	if in.Range != nil || in.IfMatch != nil || in.IfNoneMatch != nil || in.IfModifiedSince != nil || in.IfUnmodifiedSince != nil || in.PartNumber != nil {
		return nil, notModelled("a ranged or conditional GetObject")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err == nil {
		var fi os.FileInfo
		if fi, err = f.Stat(); err == nil && !fi.IsDir() {
			return &s3.GetObjectOutput{Body: f, ContentLength: aws.Int64(fi.Size()), LastModified: aws.Time(fi.ModTime().UTC())}, nil
		}
		f.Close()
	}
	if err == nil || errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscallENOTDIR) {
		return nil, &s3types.NoSuchKey{Message: aws.String(fmt.Sprintf("s3://%s/%s does not exist", *in.Bucket, *in.Key))}
	}
	return nil, fmt.Errorf("lakedir: get s3://%s/%s: %w", *in.Bucket, *in.Key, err)
}

// HeadObject describes the object. A missing key is *s3types.NotFound.
func (l *Lake) HeadObject(ctx context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	path, err := l.validated(in.Bucket, in.Key)
	if err != nil {
		return nil, err
	}
	if in.Range != nil || in.IfMatch != nil || in.IfNoneMatch != nil || in.IfModifiedSince != nil || in.IfUnmodifiedSince != nil || in.PartNumber != nil {
		return nil, notModelled("a ranged or conditional HeadObject")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err == nil && !fi.IsDir() {
		return &s3.HeadObjectOutput{ContentLength: aws.Int64(fi.Size()), LastModified: aws.Time(fi.ModTime().UTC())}, nil
	}
	if err == nil || errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscallENOTDIR) {
		return nil, &s3types.NotFound{Message: aws.String(fmt.Sprintf("s3://%s/%s does not exist", *in.Bucket, *in.Key))}
	}
	return nil, fmt.Errorf("lakedir: head s3://%s/%s: %w", *in.Bucket, *in.Key, err)
}

// DeleteObjects deletes the keys that exist; missing keys count as deleted, as on S3. Each
// directory left empty is removed, up to the bucket's.
func (l *Lake) DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, _ ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	if err := checkBucket(aws.ToString(in.Bucket)); err != nil {
		return nil, err
	}
	if in.Delete == nil || len(in.Delete.Objects) == 0 || len(in.Delete.Objects) > MaxKeys {
		return nil, apiError("MalformedXML", "DeleteObjects takes 1 to %d keys", MaxKeys)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	quiet := aws.ToBool(in.Delete.Quiet)
	out := &s3.DeleteObjectsOutput{}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, o := range in.Delete.Objects {
		key := aws.ToString(o.Key)
		if o.VersionId != nil {
			return nil, notModelled("versioning (DeleteObjects with a VersionId)")
		}
		if err := l.deleteLocked(*in.Bucket, key); err != nil {
			out.Errors = append(out.Errors, s3types.Error{Key: aws.String(key), Code: aws.String("InternalError"), Message: aws.String(err.Error())})
			continue
		}
		if !quiet {
			out.Deleted = append(out.Deleted, s3types.DeletedObject{Key: aws.String(key)})
		}
	}
	return out, nil
}

func (l *Lake) deleteLocked(bucket, key string) error {
	path, err := l.Path(bucket, key)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscallENOTDIR):
		return nil
	case err != nil:
		return err
	case fi.IsDir(): // a prefix, not an object: nothing to delete, as on S3
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	stop := l.bucketDir(bucket)
	for dir := filepath.Dir(path); dir != stop && strings.HasPrefix(dir, stop); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil { // not empty (or gone): stop pruning
			break
		}
	}
	return nil
}

// object is one listed key.
type object struct {
	key   string
	size  int64
	mtime time.Time
}

// keysUnder lists every object of bucket whose key starts with prefix, in key order.
func (l *Lake) keysUnder(bucket, prefix string) ([]object, error) {
	base := l.bucketDir(bucket)
	// Walk only the deepest directory the prefix names.
	start := base
	if i := strings.LastIndex(prefix, "/"); i >= 0 && checkKey(prefix[:i]) == nil {
		// A prefix whose folders are not clean ("a//", "../") names no stored key; walking
		// from the bucket finds none, and never leaves it.
		start = filepath.Join(base, filepath.FromSlash(prefix[:i]))
	}
	var out []object
	err := filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscallENOTDIR) {
				return nil // a directory pruned while we walked, or none at all
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(base, path)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted while we walked
		}
		if err != nil {
			return err
		}
		out = append(out, object{key: key, size: fi.Size(), mtime: fi.ModTime().UTC()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// S3 orders by the key's bytes; a walk orders by name within each directory, which differs
	// where a name sorts before "/" ("a-b" < "a/b").
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, nil
}

// listToken is the ContinuationToken: where the previous page stopped.
type listToken struct {
	// After is the last key returned, or the last common prefix (Prefix true), whose keys the
	// next page skips.
	After  string `json:"a"`
	Prefix bool   `json:"p,omitempty"`
}

// ListObjectsV2 lists the keys under Prefix in byte order, rolling keys up into CommonPrefixes
// at Delimiter, from after StartAfter or the ContinuationToken, MaxKeys (at most 1000) at a time.
func (l *Lake) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	bucket := aws.ToString(in.Bucket)
	if err := checkBucket(bucket); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	maxKeys := int32(MaxKeys)
	if in.MaxKeys != nil {
		if *in.MaxKeys < 1 {
			return nil, notModelled("MaxKeys below 1")
		}
		maxKeys = min(*in.MaxKeys, MaxKeys)
	}
	prefix, delim := aws.ToString(in.Prefix), aws.ToString(in.Delimiter)
	var tok listToken
	if in.ContinuationToken != nil {
		raw, err := base64.RawURLEncoding.DecodeString(*in.ContinuationToken)
		if err != nil || json.Unmarshal(raw, &tok) != nil {
			return nil, apiError("InvalidArgument", "the continuation token %q is not one this lake gave", *in.ContinuationToken)
		}
	}
	objs, err := l.keysUnder(bucket, prefix)
	if err != nil {
		return nil, fmt.Errorf("lakedir: list s3://%s/%s: %w", bucket, prefix, err)
	}
	out := &s3.ListObjectsV2Output{
		Name: in.Bucket, Prefix: in.Prefix, Delimiter: in.Delimiter, StartAfter: in.StartAfter,
		ContinuationToken: in.ContinuationToken, MaxKeys: aws.Int32(maxKeys),
	}
	startAfter := aws.ToString(in.StartAfter)
	var last listToken
	n := int32(0)
	for _, o := range objs {
		if o.key <= startAfter || (in.ContinuationToken != nil && tok.skips(o.key)) {
			continue
		}
		cp := ""
		if delim != "" {
			if i := strings.Index(o.key[len(prefix):], delim); i >= 0 {
				cp = o.key[:len(prefix)+i+len(delim)]
			}
		}
		if cp != "" && last.Prefix && last.After == cp {
			continue // rolled up into the prefix just returned
		}
		if n == maxKeys {
			out.IsTruncated = aws.Bool(true)
			raw, _ := json.Marshal(last)
			out.NextContinuationToken = aws.String(base64.RawURLEncoding.EncodeToString(raw))
			break
		}
		n++
		if cp != "" {
			out.CommonPrefixes = append(out.CommonPrefixes, s3types.CommonPrefix{Prefix: aws.String(cp)})
			last = listToken{After: cp, Prefix: true}
			continue
		}
		out.Contents = append(out.Contents, s3types.Object{
			Key: aws.String(o.key), Size: aws.Int64(o.size), LastModified: aws.Time(o.mtime),
			StorageClass: s3types.ObjectStorageClassStandard,
		})
		last = listToken{After: o.key}
	}
	if out.IsTruncated == nil {
		out.IsTruncated = aws.Bool(false)
	}
	out.KeyCount = aws.Int32(n)
	return out, nil
}

func (t listToken) skips(key string) bool {
	return key <= t.After || (t.Prefix && strings.HasPrefix(key, t.After))
}

// uploadMeta is what an upload's directory records of it.
type uploadMeta struct {
	Bucket    string    `json:"bucket"`
	Key       string    `json:"key"`
	Initiated time.Time `json:"initiated"`
}

func (l *Lake) uploadDir(id string) (string, error) {
	if _, err := hex.DecodeString(id); err != nil || len(id) != 32 {
		return "", &s3types.NoSuchUpload{Message: aws.String(fmt.Sprintf("upload %q does not exist", id))}
	}
	return filepath.Join(l.root, uploadsDir, id), nil
}

// upload reads the upload's record and checks that it is for bucket and key.
func (l *Lake) upload(id *string, bucket, key *string) (string, uploadMeta, error) {
	var m uploadMeta
	dir, err := l.uploadDir(aws.ToString(id))
	if err != nil {
		return "", m, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, "upload.json"))
	if err == nil {
		err = json.Unmarshal(raw, &m)
	}
	if errors.Is(err, fs.ErrNotExist) || (err == nil && (m.Bucket != aws.ToString(bucket) || m.Key != aws.ToString(key))) {
		return "", m, &s3types.NoSuchUpload{Message: aws.String(fmt.Sprintf("upload %q of s3://%s/%s does not exist (completed or aborted?)", *id, aws.ToString(bucket), aws.ToString(key)))}
	}
	if err != nil {
		return "", m, fmt.Errorf("lakedir: upload %s: %w", *id, err)
	}
	return dir, m, nil
}

// CreateMultipartUpload starts an upload; its parts stay under <root>/.uploads/ until it ends.
func (l *Lake) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	if _, err := l.validated(in.Bucket, in.Key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	dir := filepath.Join(l.root, uploadsDir, id)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lakedir: start upload of s3://%s/%s: %w", *in.Bucket, *in.Key, err)
	}
	raw, _ := json.Marshal(uploadMeta{Bucket: *in.Bucket, Key: *in.Key, Initiated: l.now().UTC()})
	if err := os.WriteFile(filepath.Join(dir, "upload.json"), raw, 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("lakedir: start upload of s3://%s/%s: %w", *in.Bucket, *in.Key, err)
	}
	return &s3.CreateMultipartUploadOutput{Bucket: in.Bucket, Key: in.Key, UploadId: aws.String(id),
		ChecksumAlgorithm: in.ChecksumAlgorithm}, nil
}

func partFile(dir string, n int32) string { return filepath.Join(dir, fmt.Sprintf("part-%05d", n)) }

// partETag is the quoted hex MD5 of a part, as S3 returns it.
func partETag(sum []byte) string { return `"` + hex.EncodeToString(sum) + `"` }

func crc32Of(b []byte) string {
	var out [4]byte
	binary.BigEndian.PutUint32(out[:], crc32.ChecksumIEEE(b))
	return base64.StdEncoding.EncodeToString(out[:])
}

// UploadPart stores one part (replacing an earlier upload of the same number) and returns its
// ETag and CRC32 checksum.
func (l *Lake) UploadPart(ctx context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	dir, _, err := l.upload(in.UploadId, in.Bucket, in.Key)
	if err != nil {
		return nil, err
	}
	n := aws.ToInt32(in.PartNumber)
	if n < 1 || n > maxParts {
		return nil, apiError("InvalidArgument", "part number %d is outside 1 to %d", n, maxParts)
	}
	var body []byte
	if in.Body != nil {
		if body, err = io.ReadAll(in.Body); err != nil {
			return nil, fmt.Errorf("lakedir: upload part %d of s3://%s/%s: read body: %w", n, *in.Bucket, *in.Key, err)
		}
	}
	if in.ContentLength != nil && *in.ContentLength != int64(len(body)) {
		return nil, apiError("IncompleteBody", "part %d: ContentLength %d, body %d bytes", n, *in.ContentLength, len(body))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sum := md5.Sum(body)
	// A part is written whole before it is visible under its name: a concurrent retry of the
	// same part never leaves a torn one.
	tmp, err := os.CreateTemp(dir, "tmp-*")
	if err != nil {
		return nil, fmt.Errorf("lakedir: upload part %d: %w", n, err)
	}
	_, werr := tmp.Write(body)
	if err := errors.Join(werr, tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("lakedir: upload part %d: %w", n, err)
	}
	if err := os.Rename(tmp.Name(), partFile(dir, n)); err != nil {
		os.Remove(tmp.Name())
		// The upload was completed or aborted meanwhile.
		return nil, &s3types.NoSuchUpload{Message: aws.String(fmt.Sprintf("upload %q ended while part %d was uploading", *in.UploadId, n))}
	}
	return &s3.UploadPartOutput{ETag: aws.String(partETag(sum[:])), ChecksumCRC32: aws.String(crc32Of(body))}, nil
}

// CompleteMultipartUpload joins the listed parts into the object, atomically, with the upload's
// initiation time as LastModified, and removes the upload.
func (l *Lake) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	path, err := l.validated(in.Bucket, in.Key)
	if err != nil {
		return nil, err
	}
	if in.IfMatch != nil || in.IfNoneMatch != nil {
		return nil, notModelled("a conditional CompleteMultipartUpload")
	}
	dir, meta, err := l.upload(in.UploadId, in.Bucket, in.Key)
	if err != nil {
		return nil, err
	}
	if in.MultipartUpload == nil || len(in.MultipartUpload.Parts) == 0 {
		return nil, apiError("MalformedXML", "CompleteMultipartUpload lists no parts")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := l.tempFile()
	if err != nil {
		return nil, fmt.Errorf("lakedir: complete s3://%s/%s: %w", *in.Bucket, *in.Key, err)
	}
	defer os.Remove(f.Name())
	parts := in.MultipartUpload.Parts
	for i := 1; i < len(parts); i++ {
		if n, prev := aws.ToInt32(parts[i].PartNumber), aws.ToInt32(parts[i-1].PartNumber); n <= prev {
			f.Close()
			return nil, apiError("InvalidPartOrder", "part %d follows part %d; list parts in ascending order", n, prev)
		}
	}
	for i, p := range parts {
		n := aws.ToInt32(p.PartNumber)
		body, err := os.ReadFile(partFile(dir, n))
		if errors.Is(err, fs.ErrNotExist) {
			f.Close()
			return nil, apiError("InvalidPart", "part %d was not uploaded", n)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lakedir: complete s3://%s/%s: part %d: %w", *in.Bucket, *in.Key, n, err)
		}
		sum := md5.Sum(body)
		if p.ETag == nil || *p.ETag != partETag(sum[:]) || (p.ChecksumCRC32 != nil && *p.ChecksumCRC32 != crc32Of(body)) {
			f.Close()
			return nil, apiError("InvalidPart", "part %d: the ETag or checksum does not match the uploaded part", n)
		}
		if i < len(parts)-1 && len(body) < MinPartSize {
			f.Close()
			return nil, apiError("EntityTooSmall", "part %d is %d bytes; every part but the last must be at least %d", n, len(body), MinPartSize)
		}
		if _, err := f.Write(body); err != nil {
			f.Close()
			return nil, fmt.Errorf("lakedir: complete s3://%s/%s: %w", *in.Bucket, *in.Key, err)
		}
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("lakedir: complete s3://%s/%s: %w", *in.Bucket, *in.Key, err)
	}
	if err := l.place(f.Name(), path, meta.Initiated); err != nil {
		return nil, fmt.Errorf("lakedir: complete s3://%s/%s: %w", *in.Bucket, *in.Key, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("lakedir: complete s3://%s/%s: remove the upload's parts: %w", *in.Bucket, *in.Key, err)
	}
	return &s3.CompleteMultipartUploadOutput{Bucket: in.Bucket, Key: in.Key}, nil
}

// AbortMultipartUpload drops the upload and its parts.
func (l *Lake) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, _ ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	dir, _, err := l.upload(in.UploadId, in.Bucket, in.Key)
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("lakedir: abort upload %s: %w", *in.UploadId, err)
	}
	return &s3.AbortMultipartUploadOutput{}, nil
}

// Uploads lists the ids of the uploads in progress (neither completed nor aborted).
func (l *Lake) Uploads() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(l.root, uploadsDir))
	if err != nil {
		return nil, fmt.Errorf("lakedir: list uploads: %w", err)
	}
	var ids []string
	for _, e := range ents {
		ids = append(ids, e.Name())
	}
	return ids, nil
}
