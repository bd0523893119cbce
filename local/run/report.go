package run

// Report is what a run did and what it published.
type Report struct {
	From, To string
	TimeZone string
	Lake     string
	Days     []DayReport
	// KPIs are the published values of each KPI for the run's days, read back from the lake.
	KPIs []KPIValues
}

// DayReport is one business day of a run.
type DayReport struct {
	Date          string
	Steps         []StepReport
	RowsExtracted int64
	LogRecords    int64
	// Runs are the aggregate handler's results, in order: published runs and deferrals.
	Runs []KPIRun
}

// StepReport is one step of a day: its name, wall time and outcome.
type StepReport struct {
	Name    string
	Seconds float64
	Detail  string
}

// KPIRun is one aggregate invocation.
type KPIRun struct {
	KPI, Date string
	Crawler   string
	// RunID is the published run; empty when deferred.
	RunID string
	// WaitingFor lists the inputs a deferred run waited for.
	WaitingFor []string
	EngineMs   int64
}

// KPIValues are a KPI's rows for the run's days, with the dt column.
type KPIValues struct {
	Name    string
	Columns []string
	Rows    [][]any
}
