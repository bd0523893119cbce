// Package names derives the names that the CDK generates from a construct's path, counting the
// path from the construct's stack, not from the app: an environment's stack then names its
// resources alike whether the app holds it (`make deploy`) or a pipeline's stage does, and
// moving an environment into the pipeline replaces none of them.
package names

import (
	"crypto/md5"
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
)

// UniqueID is what the CDK's Names.uniqueId gives for the child of scope at the relative path
// ids (none: scope itself) when scope's stack is a top-level one: the path's IDs from the stack
// down, without "Default", "Resource" and repeated parts, followed by 8 hex digits of its hash.
func UniqueID(scope constructs.IConstruct, ids ...string) string {
	scopes := *scope.Node().Scopes()
	start := 0
	for i, s := range scopes {
		if _, ok := s.(awscdk.Stage); ok {
			start = i + 1
		}
	}
	var path []string
	for _, s := range scopes[start:] {
		path = append(path, *s.Node().Id())
	}
	return makeUniqueID(append(path, ids...))
}

var nonAlphanumeric = regexp.MustCompile(`[^A-Za-z0-9]`)

// makeUniqueID is the CDK's makeUniqueId (core/lib/private/uniqueid).
func makeUniqueID(components []string) string {
	var path []string
	for _, c := range components {
		if c != "Default" {
			path = append(path, c)
		}
	}
	if len(path) == 1 {
		if c := nonAlphanumeric.ReplaceAllString(path[0], ""); len(c) <= 255 {
			return c
		}
	}
	sum := md5.Sum([]byte(strings.Join(path, "/")))
	hash := strings.ToUpper(hex.EncodeToString(sum[:]))[:8]
	var human strings.Builder
	var kept []string
	for _, c := range path {
		if len(kept) > 0 && strings.HasSuffix(kept[len(kept)-1], c) {
			continue
		}
		kept = append(kept, c)
		if c != "Resource" {
			human.WriteString(nonAlphanumeric.ReplaceAllString(c, ""))
		}
	}
	h := human.String()
	if len(h) > 240 {
		h = h[:240]
	}
	return h + hash
}
