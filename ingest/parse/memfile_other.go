//go:build !linux

package parse

import (
	"errors"
	"os"
)

// memFile has no memory-only file here; callers fall back (PDFium reads
// the outline) rather than write an upload to disk.
func memFile([]byte) (*os.File, error) {
	return nil, errors.New("no in-memory files on this system")
}
