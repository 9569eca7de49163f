package parse

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/testenv"
)

// PDFium start-up takes seconds: every test shares one Parser.
var shared struct {
	once sync.Once
	p    *Parser
	err  error
}

func parser(t testing.TB) *Parser {
	t.Helper()
	shared.once.Do(func() {
		shared.p, shared.err = New(context.Background(), Options{})
	})
	if shared.err != nil {
		t.Fatalf("New: %v", shared.err)
	}
	return shared.p
}

// lite is a Parser without PDFium, for formats that do not need it.
func lite() *Parser {
	return &Parser{opts: Options{MaxBytes: 200 << 20, Timeout: time.Minute, PDFWorkers: 1}}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.p != nil {
		shared.p.Close()
	}
	os.Exit(code)
}

// corpus returns the path of a corpus document or skips the test.
func corpus(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(testenv.Corpus(t, name), name)
}

// wantInvalid checks err is ErrInvalid and its client message has every part.
func wantInvalid(t *testing.T, err error, parts ...string) {
	t.Helper()
	if !errors.Is(err, shifu.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	msg := shifu.Message(err)
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("message %q lacks %q", msg, p)
		}
	}
}

func headings(d *Doc) []Block {
	var hs []Block
	for _, b := range d.Blocks {
		if b.Kind == Heading {
			hs = append(hs, b)
		}
	}
	return hs
}

func findBlock(d *Doc, kind BlockKind, sub string) *Block {
	for i, b := range d.Blocks {
		if b.Kind == kind && strings.Contains(b.Text, sub) {
			return &d.Blocks[i]
		}
	}
	return nil
}
