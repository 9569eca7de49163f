package web_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/shifu-factory/shifu/web"
)

// Every API route of the table is in api/openapi.yaml with the same role.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	b, err := os.ReadFile("../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	param := regexp.MustCompile(`:(\w+)`)
	n := 0
	for _, r := range srv.Routes() {
		if r.Page {
			continue // HTML pages are not API
		}
		p := param.ReplaceAllString(r.Path, "{$1}")
		p = strings.Replace(p, "{page}", "{page}.png", 1)
		op, ok := doc.Paths[p][strings.ToLower(r.Method)].(map[string]any)
		if !ok {
			t.Errorf("%s %s is not in api/openapi.yaml", r.Method, p)
			continue
		}
		want := string(r.Role)
		if want == "" {
			want = "public"
		}
		if op["x-role"] != want {
			t.Errorf("%s %s: openapi says role %v, the route table %s", r.Method, p, op["x-role"], want)
		}
		n++
	}
	if n < 25 {
		t.Fatalf("only %d routes checked", n)
	}
}
