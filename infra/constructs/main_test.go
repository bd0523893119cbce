//go:build !unit

// Package constructs holds the tests of infra's constructs, one file per package
// (lake_test.go tests infra/lake): each synthesizes the package's constructs alone, in fresh
// stacks, and checks the template, cdk-nag findings included.
//
// They share one test binary rather than one per package: a CDK test binary takes 2 to 6 s to
// link and its Node process about 4 s to start before the first assertion, which made these
// packages' tests 133 CPU-seconds instead of 30. A package whose documentation carries a runnable
// example (infra/ingest, infra/source, infra/statemachine) keeps its tests beside the example:
// go vet wants an example in the package it documents.
package constructs

import (
	"os"
	"testing"

	"github.com/kpilake/kpilake/infra/internal/cdktest"
)

func TestMain(m *testing.M) { os.Exit(cdktest.Main(m)) }
