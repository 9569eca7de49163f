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

// TestOpenAPIResponseShapes: for every GET route without path parameters
// whose 200 response has a documented schema, the real response's JSON keys
// are the schema's properties, at every level that has properties (objects,
// and the first item of arrays). A key the code sends but the document does
// not name, or one it names and the code does not send, fails.
func TestOpenAPIResponseShapes(t *testing.T) {
	b, err := os.ReadFile("../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, worldOpts{})
	adm := w.session("admin")
	// One of each entity, so lists have an item to check.
	if code := adm.json("POST", "/api/users", map[string]any{"login": "shape", "role": "worker"}, nil); code != 201 {
		t.Fatalf("create user: %d", code)
	}
	checked := 0
	for path, ops := range doc["paths"].(map[string]any) {
		get, _ := ops.(map[string]any)["get"].(map[string]any)
		if get == nil || strings.Contains(path, "{") || !strings.HasPrefix(path, "/api/") {
			continue
		}
		schema := dig(get, "responses", "200", "content", "application/json", "schema")
		if schema == nil {
			continue
		}
		var body any
		if code := adm.json("GET", path, nil, &body); code != 200 {
			t.Errorf("GET %s: %d", path, code)
			continue
		}
		checkShape(t, doc, "GET "+path, schema, body)
		checked++
	}
	if checked == 0 {
		t.Fatal("no documented response schema checked")
	}
	t.Logf("%d GET responses checked against their schemas", checked)
}

// dig follows keys through nested YAML maps; nil when one is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// checkShape compares v's keys with schema's properties, recursively.
func checkShape(t *testing.T, doc map[string]any, at string, schema, v any) {
	t.Helper()
	if ref, ok := dig(schema, "$ref").(string); ok {
		schema = dig(doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...)
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := dig(schema, "properties").(map[string]any)
		if props == nil {
			return // an object documented without properties: free form
		}
		for k, sv := range x {
			ps, ok := props[k]
			if !ok {
				t.Errorf("%s: key %q is sent but not in api/openapi.yaml", at, k)
				continue
			}
			checkShape(t, doc, at+"."+k, ps, sv)
		}
		for k := range props {
			if _, ok := x[k]; !ok {
				t.Errorf("%s: key %q is in api/openapi.yaml but not sent", at, k)
			}
		}
	case []any:
		if len(x) > 0 {
			if items := dig(schema, "items"); items != nil {
				checkShape(t, doc, at+"[0]", items, x[0])
			}
		}
	}
}
