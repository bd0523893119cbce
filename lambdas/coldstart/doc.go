// Package coldstart measures what each Lambda costs to deploy and to start: the zipped size of
// its arm64 bundle, and its cold-start init time under aws-lambda-rie, against a minimal Go
// function (testdata/minimal) and against the same function built without tracing (the tag
// kpilake_notrace), all in the same run (`make bench-coldstart`). Its one test guards what keeps
// the bundles small: the linker's dead-method elimination (dce_test.go).
package coldstart
