package main

import (
	"os"
	"testing"
)

// TestMain lets a test start this test binary as the shifu command itself
// (SHIFU_TEST_MAIN=1), so crash tests can kill a real process.
func TestMain(m *testing.M) {
	if os.Getenv("SHIFU_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}
