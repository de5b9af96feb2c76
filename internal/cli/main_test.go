package cli

import (
	"os"
	"testing"
	"time"
)

var startTime time.Time

func TestMain(m *testing.M) {
	startTime = time.Now()
	os.Exit(m.Run())
}
