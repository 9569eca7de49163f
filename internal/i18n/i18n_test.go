package i18n

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/shifu-factory/shifu"
)

func TestErrorInBothLanguages(t *testing.T) {
	err := fmt.Errorf("guard: %w", shifu.Errorf(shifu.ErrForbidden, "this needs the %s role; you are %s", shifu.RoleAdmin, shifu.RoleWorker))
	if got := Error("en", err); got != "this needs the admin role; you are worker" {
		t.Errorf("en: %q", got)
	}
	if got := Error("zh-CN", err); got != "此操作需要管理员角色；你的角色是工人" {
		t.Errorf("zh: %q", got)
	}
	long := shifu.Errorf(shifu.ErrInvalid, "the question is %d characters long; at most %d are accepted", 2004, 2000)
	if got := Error("zh", long); got != "问题有 2004 个字符，最多 2000 个" {
		t.Errorf("zh: %q", got)
	}
	if got := Error("zh", shifu.Errorf(shifu.ErrInvalid, "method %s is not allowed on %s", "PUT", "/api/chat")); got != "/api/chat 不支持 PUT 方法" {
		t.Errorf("zh, verbs reordered: %q", got)
	}
	// Untranslated text stays English; internal errors stay hidden.
	if got := Error("zh", shifu.Errorf(shifu.ErrInvalid, "a message nobody translated %d", 1)); got != "a message nobody translated 1" {
		t.Errorf("untranslated: %q", got)
	}
	if got := Error("zh", errors.New("pq: secret detail")); got != "内部错误" {
		t.Errorf("internal: %q", got)
	}
	if got := Error("zh", fmt.Errorf("x: %w", shifu.ErrNotFound)); got != "未找到" {
		t.Errorf("kind: %q", got)
	}
}

func TestPages(t *testing.T) {
	for _, c := range []struct {
		lang       string
		start, end int
		want       string
	}{{"en", 175, 0, "p. 175"}, {"en", 5, 7, "pp. 5–7"}, {"zh", 175, 175, "第 175 页"}, {"zh", 5, 7, "第 5–7 页"}, {"zh", 0, 0, ""}} {
		if got := Pages(c.lang, c.start, c.end); got != c.want {
			t.Errorf("Pages(%s, %d, %d) = %q, want %q", c.lang, c.start, c.end, got, c.want)
		}
	}
}

var verb = regexp.MustCompile(`%(\[\d+\])?[-+# 0]*\d*(\.\d+)?[a-zA-Z%]`)

// Both languages have the same keys; each translated error takes the same
// arguments, and its English format is still one the code writes (a
// message reworded in the code would silently lose its Chinese).
func TestCatalogComplete(t *testing.T) {
	for k := range catalog["en"] {
		if _, ok := catalog["zh"][k]; !ok {
			t.Errorf("zh lacks %s", k)
		}
	}
	for k := range catalog["zh"] {
		if _, ok := catalog["en"][k]; !ok {
			t.Errorf("en lacks %s", k)
		}
	}
	var src strings.Builder
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".data" || d.Name() == ".git" || d.Name() == "i18n") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			src.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{"internal error": true}
	for _, k := range []error{shifu.ErrInvalid, shifu.ErrNotFound, shifu.ErrConflict, shifu.ErrUnauthorized, shifu.ErrForbidden, shifu.ErrTooLarge, shifu.ErrUnavailable, shifu.ErrTooMany} {
		kinds[k.Error()] = true
	}
	for en, zh := range errorsZH {
		if kinds[en] {
			continue
		}
		if !strings.Contains(src.String(), strconv.Quote(en)) {
			t.Errorf("no code writes the format %q any more", en)
		}
		if a, b := len(verb.FindAllString(en, -1)), len(verb.FindAllString(zh, -1)); a != b {
			t.Errorf("%q has %d verbs, its Chinese %q %d", en, a, zh, b)
		}
	}
}
