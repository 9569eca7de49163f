//go:build !linux

package parse

// lower leaves the child at normal priority where niceness is not set here.
func lower(int) {}
