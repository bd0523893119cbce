// Package review compares CloudFormation templates the way a reviewer reads them: both sides
// normalized as the snapshots in test/testdata are (asset hashes, the account, construct-path and
// asset metadata), then resource by resource and property by property, each change marked with
// whether it replaces the resource, and IAM and security-group changes counted apart. `make diff`
// and the pull-request comment print what it finds.
package review

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Account is the placeholder account that snapshots are synthesized for; never a real one.
const Account = "123456789012"

// assetHash matches the content hashes CDK puts in asset keys; they change with any Lambda source
// change, so normalized templates carry a placeholder instead.
var assetHash = regexp.MustCompile(`[0-9a-f]{64}`)

// assetDestination matches the destination of an asset in a CDK Pipelines publishing step
// (ASSET_HASH:<account>-<region>-<hash of the destination's object key>), whose last part changes
// with the asset's content too.
var assetDestination = regexp.MustCompile(`(ASSET_HASH:[0-9]{12}-[a-z0-9-]+?-)[0-9a-f]{8}\b`)

// Normalize returns a template as the snapshots hold it: indented JSON with sorted keys, every
// asset hash replaced by ASSET_HASH, and no construct-path or asset metadata (which `cdk synth`
// adds and the snapshots, synthesized in process, lack). The normalized form of a snapshot is the
// snapshot itself.
func Normalize(raw []byte) ([]byte, error) {
	return NormalizeAccount(raw, "")
}

// NormalizeAccount is Normalize that also replaces account, where a template was synthesized for
// a real account, with the snapshots' placeholder Account. An empty account replaces nothing.
func NormalizeAccount(raw []byte, account string) ([]byte, error) {
	var v map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("template is not a JSON object: %w", err)
	}
	if res, ok := v["Resources"].(map[string]any); ok {
		for id, r := range res {
			r, ok := r.(map[string]any)
			if !ok {
				continue
			}
			// Version reporting (off in cdk.json) would add this resource on the CLI's side only.
			if r["Type"] == "AWS::CDK::Metadata" {
				delete(res, id)
				continue
			}
			stripMetadata(r)
		}
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	out = assetHash.ReplaceAll(out, []byte("ASSET_HASH"))
	out = assetDestination.ReplaceAll(out, []byte("${1}DESTINATION"))
	if account != "" && account != Account {
		out = bytes.ReplaceAll(out, []byte(account), []byte(Account))
	}
	return append(out, '\n'), nil
}

// stripMetadata removes the CDK's bookkeeping from a resource's Metadata (its construct path, its
// asset's local path and property) and the Metadata itself when nothing else is left; cdk-nag's
// suppressions and anything else stay.
func stripMetadata(r map[string]any) {
	md, ok := r["Metadata"].(map[string]any)
	if !ok {
		return
	}
	for k := range md {
		if k == "aws:cdk:path" || strings.HasPrefix(k, "aws:asset:") {
			delete(md, k)
		}
	}
	if len(md) == 0 {
		delete(r, "Metadata")
	}
}
