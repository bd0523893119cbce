package dbsvc

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	StopAll()
	os.Exit(code)
}
