package duck

// ReadType is the DuckDB type that the engine reads a catalog column of the Hive type hive as
// (a Parquet timestamp, an instant, is TIMESTAMPTZ). Tools that write a lake's files for the
// engine (local/kpitest) use it, so that what they write is read back as the same type.
func ReadType(hive string) (string, error) { return inputType(hive) }

// HiveType is the Hive type that a CTAS registers for a SELECT's column of the DuckDB type
// duckType, as Athena would; an error names a type Athena's CTAS cannot write.
func HiveType(duckType string) (string, error) {
	hive, _, err := outputType(duckType)
	return hive, err
}
