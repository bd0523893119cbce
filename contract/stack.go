package contract

// StackPrefix begins the name of every kpilake stack: KpiLake-<environment>.
const StackPrefix = "KpiLake-"

// StackName is the CloudFormation stack of environment env, such as KpiLake-prod; the operator
// CLI finds the environment's outputs there.
func StackName(env string) string { return StackPrefix + env }

// Stack outputs that the operator CLI reads from the deployed stack.
const (
	// OutputBackfillQueueURL and OutputBackfillDeadLetterQueueURL locate the backfill queues.
	OutputBackfillQueueURL           = "BackfillQueueUrl"
	OutputBackfillDeadLetterQueueURL = "BackfillDeadLetterQueueUrl"
	// OutputRawBucketName names the raw zone's bucket, whose partitions the backfill's cost
	// estimate lists.
	OutputRawBucketName = "RawBucketName"
)
