//go:build !unit

package test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/lake"
	"github.com/kpilake/kpilake/infra/stack"
)

// TestProtection_RawZoneSurvivesAMistake reads each environment's synthesized template: where
// lake.protection is on (by default in production), the raw zone and the access logs are
// versioned, backed up continuously and daily into a vault that is locked and encrypted under a
// key of its own, and their bucket policies deny shortening the lifecycle, suspending
// versioning and deleting versions to everyone but the deployments and the break-glass role.
func TestProtection_RawZoneSurvivesAMistake(t *testing.T) {
	cfg, err := config.Parse(cdkContext(t)[config.ContextKey])
	if err != nil {
		t.Fatal(err)
	}
	a := synthAll(t)
	for _, e := range mustSelect(t, cfg) {
		name := stack.Name(e.Name)
		t.Run(name, func(t *testing.T) {
			var tmpl struct {
				Resources map[string]struct {
					Type       string
					Properties map[string]any
				}
				Outputs map[string]struct{ Value any }
			}
			if err := json.Unmarshal(a.template(t, name), &tmpl); err != nil {
				t.Fatal(err)
			}
			ref, _ := tmpl.Outputs["RawBucketName"].Value.(map[string]any)
			raw, _ := ref["Ref"].(string)
			rawBucket := tmpl.Resources[raw]
			if rawBucket.Type != "AWS::S3::Bucket" {
				t.Fatalf("output RawBucketName refers to %q, not a bucket", raw)
			}
			logging, _ := rawBucket.Properties["LoggingConfiguration"].(map[string]any)
			logs, _ := logging["DestinationBucketName"].(map[string]any)["Ref"].(string)
			protected := []string{raw, logs}
			for _, id := range protected {
				if v, _ := tmpl.Resources[id].Properties["VersioningConfiguration"].(map[string]any); v["Status"] != "Enabled" {
					t.Errorf("bucket %s is not versioned", id)
				}
			}
			lakeKey := fmt.Sprint(rawBucket.Properties["BucketEncryption"].(map[string]any)["ServerSideEncryptionConfiguration"].([]any)[0].(map[string]any)["ServerSideEncryptionByDefault"].(map[string]any)["KMSMasterKeyID"])

			var vaults, continuous, daily int
			var selected []string
			denied := map[string]map[string]any{} // bucket -> the deny statement
			for id, r := range tmpl.Resources {
				switch r.Type {
				case "AWS::Backup::BackupVault":
					vaults++
					lock, _ := r.Properties["LockConfiguration"].(map[string]any)
					if lock["ChangeableForDays"] == nil || fmt.Sprint(lock["MaxRetentionDays"]) != fmt.Sprint(e.Lake.BackupRetentionDays) {
						t.Errorf("vault %s lock %v: want a compliance lock (ChangeableForDays) with MaxRetentionDays %d", id, lock, e.Lake.BackupRetentionDays)
					}
					if key := fmt.Sprint(r.Properties["EncryptionKeyArn"]); r.Properties["EncryptionKeyArn"] == nil || key == lakeKey {
						t.Errorf("vault %s is encrypted under %s; want a key of its own, not the lake's %s", id, key, lakeKey)
					}
				case "AWS::Backup::BackupPlan":
					plan, _ := r.Properties["BackupPlan"].(map[string]any)
					for _, rule := range plan["BackupPlanRule"].([]any) {
						rule := rule.(map[string]any)
						after := fmt.Sprint(rule["Lifecycle"].(map[string]any)["DeleteAfterDays"])
						switch {
						case rule["EnableContinuousBackup"] == true && after == fmt.Sprint(lake.ContinuousBackupDays):
							continuous++
						case rule["ScheduleExpression"] != nil && after == fmt.Sprint(e.Lake.BackupRetentionDays):
							daily++
						}
					}
				case "AWS::Backup::BackupSelection":
					sel, _ := r.Properties["BackupSelection"].(map[string]any)
					for _, res := range sel["Resources"].([]any) {
						if ga, ok := res.(map[string]any)["Fn::GetAtt"].([]any); ok {
							selected = append(selected, ga[0].(string))
						}
					}
				case "AWS::S3::BucketPolicy":
					bucket, _ := r.Properties["Bucket"].(map[string]any)["Ref"].(string)
					doc, _ := r.Properties["PolicyDocument"].(map[string]any)
					for _, st := range doc["Statement"].([]any) {
						st := st.(map[string]any)
						if st["Effect"] == "Deny" && st["Sid"] == "OnlyBreakGlassChangesRetention" {
							denied[bucket] = st
						}
					}
				}
			}
			if !e.Lake.Protection {
				if vaults != 0 || len(denied) != 0 {
					t.Errorf("lake.protection is off, yet the template has %d backup vaults and retention denies on %v", vaults, denied)
				}
				return
			}
			if vaults != 1 || continuous != 1 || daily != 1 {
				t.Errorf("got %d vaults, %d continuous and %d daily backup rules; want one of each", vaults, continuous, daily)
			}
			for _, id := range protected {
				if !slices.Contains(selected, id) {
					t.Errorf("bucket %s is not in the backup selection %v", id, selected)
				}
				st, ok := denied[id]
				if !ok {
					t.Errorf("bucket %s: no statement denies changing its retention", id)
					continue
				}
				if p, _ := st["Principal"].(map[string]any); p["AWS"] != "*" {
					t.Errorf("bucket %s: the deny applies to %v, want every principal", id, st["Principal"])
				}
				actions := fmt.Sprint(st["Action"])
				for _, act := range lake.ProtectedActions {
					if !slices.ContainsFunc(st["Action"].([]any), func(v any) bool { return v == act }) {
						t.Errorf("bucket %s: the deny does not cover %s (it covers %s)", id, act, actions)
					}
				}
				cond, _ := st["Condition"].(map[string]any)["ArnNotLike"].(map[string]any)["aws:PrincipalArn"]
				exempt, _ := json.Marshal(cond)
				if !strings.Contains(string(exempt), "-cfn-exec-role-") {
					t.Errorf("bucket %s: the deny exempts %s; want the stack's deployment role (and only roles)", id, exempt)
				}
				if e.Lake.BreakGlassRoleArn != "" && !strings.Contains(string(exempt), e.Lake.BreakGlassRoleArn) {
					t.Errorf("bucket %s: the deny does not exempt the break-glass role %s", id, e.Lake.BreakGlassRoleArn)
				}
			}
		})
	}
}
