package cdktest

import "github.com/kpilake/kpilake/infra/config"

// SalesSource is a database source as an environment's config describes it, with placeholder
// IDs: the source that the constructs' tests extract.
func SalesSource() config.Source {
	return config.Source{
		Name:             "sales_db",
		Engine:           config.PostgreSQL,
		SecretArn:        "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:kpilake/test/sales-readonly-AbCdEf",
		Database:         "sales",
		StoredTimeZone:   "UTC",
		Schedule:         "cron(15 3 * * ? *)",
		MaxConcurrency:   3,
		MemoryMB:         2048,
		SubnetIDs:        []string{"subnet-0123456789abcdef0", "subnet-0fedcba9876543210"},
		SecurityGroupIDs: []string{"sg-0123456789abcdef0"},
		Tables: []config.Table{
			{Name: "customers", Mode: config.Snapshot, Exclude: []string{"email"}, Hash: []string{"phone"}},
			{Name: "orders", Mode: config.Incremental, TimestampColumn: "updated_at"},
			{Name: "order_items", Mode: config.Incremental, TimestampColumn: "updated_at"},
		},
	}
}
