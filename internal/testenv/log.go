package testenv

import (
	"strings"
	"sync"
)

// Log collects what a component under test logs (an io.Writer for
// slog.NewTextHandler), safe for its goroutines to write while the test
// reads it.
type Log struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
