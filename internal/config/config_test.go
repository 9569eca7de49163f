package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestDefaultsAreOffline(t *testing.T) {
	c, err := Load(env())
	if err != nil {
		t.Fatal(err)
	}
	if c.Embed.Provider != "offline" || c.LLM.Provider != "" || c.Addr != ":8080" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestDashScopeKeyAlone(t *testing.T) {
	c, err := Load(env("DASHSCOPE_API_KEY", "sk-dash"))
	if err != nil {
		t.Fatal(err)
	}
	// The endpoint and model are left to the model package's defaults.
	if c.Embed.Provider != "dashscope" || c.Embed.APIKey != "sk-dash" || c.Embed.Model != "" || c.Embed.BaseURL != "" || c.Embed.Dim != 1024 {
		t.Errorf("embed: %+v", c.Embed)
	}
	if c.LLM.Provider != "dashscope" || c.LLM.APIKey != "sk-dash" || c.LLM.Model != "" || c.LLM.BaseURL != "" {
		t.Errorf("llm: %+v", c.LLM)
	}
	if s := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(s, "sk-dash") {
		t.Errorf("secret printed: %s", s)
	}
}

func TestBadValuesNamed(t *testing.T) {
	_, err := Load(env("SHIFU_EMBED_DIM", "2048", "SHIFU_WORKERS", "x", "SHIFU_LLM_BASE_URL", "http://x"))
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"SHIFU_EMBED_DIM", "SHIFU_WORKERS", "SHIFU_LLM_MODEL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// TestEmbedFusion: the fusion weight follows the embedder unless set, and a
// value outside (0, 1] is named.
func TestEmbedFusion(t *testing.T) {
	c, err := Load(env())
	if err != nil || c.Embed.Provider != "offline" || c.Embed.Fusion != 0 {
		t.Errorf("offline: %+v %v", c.Embed, err)
	}
	c, err = Load(env("DASHSCOPE_API_KEY", "sk-x"))
	if err != nil || c.Embed.Fusion != HostedFusion {
		t.Errorf("hosted: %+v %v", c.Embed, err)
	}
	c, err = Load(env("DASHSCOPE_API_KEY", "sk-x", "SHIFU_EMBED_FUSION", "0.3"))
	if err != nil || c.Embed.Fusion != 0.3 {
		t.Errorf("set: %+v %v", c.Embed, err)
	}
	for _, v := range []string{"0", "1.5", "x", "-0.2"} {
		if _, err := Load(env("SHIFU_EMBED_FUSION", v)); err == nil || !strings.Contains(err.Error(), "SHIFU_EMBED_FUSION") {
			t.Errorf("SHIFU_EMBED_FUSION=%q: %v", v, err)
		}
	}
}

func TestDingTalkStream(t *testing.T) {
	for v, want := range map[string]bool{"": false, "0": false, "false": false, "1": true, "TRUE": true, "yes": true} {
		c, err := Load(env("SHIFU_DINGTALK_STREAM", v, "SHIFU_DINGTALK_API_URL", "http://127.0.0.1:9/"))
		if err != nil || c.DingTalkStream != want || c.DingTalkAPIURL != "http://127.0.0.1:9" {
			t.Errorf("SHIFU_DINGTALK_STREAM=%q: %v %q %v", v, c.DingTalkStream, c.DingTalkAPIURL, err)
		}
	}
	if _, err := Load(env("SHIFU_DINGTALK_STREAM", "sometimes")); err == nil || !strings.Contains(err.Error(), "SHIFU_DINGTALK_STREAM") {
		t.Errorf("bad value: %v", err)
	}
	for _, u := range []string{"api.dingtalk.com", "ftp://x", "http://"} {
		if _, err := Load(env("SHIFU_DINGTALK_API_URL", u)); err == nil || !strings.Contains(err.Error(), "SHIFU_DINGTALK_API_URL") {
			t.Errorf("SHIFU_DINGTALK_API_URL=%q: %v", u, err)
		}
	}
}

func TestAppLogin(t *testing.T) {
	c, err := Load(env("SHIFU_APP_PASSWORD", "s3cret-Pw", "SHIFU_APP_DATABASE_URL", "postgres://shifu_app:pw@db/shifu"))
	if err != nil || c.AppPassword.Value() != "s3cret-Pw" || c.AppDatabaseURL.Value() != "postgres://shifu_app:pw@db/shifu" {
		t.Fatalf("app login: %+v %v", c, err)
	}
	if s := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(s, "s3cret") || strings.Contains(s, ":pw@") {
		t.Errorf("secret printed: %s", s)
	}
	for _, pw := range []string{"with space", "密码", "tab\there"} {
		if _, err := Load(env("SHIFU_APP_PASSWORD", pw)); err == nil || !strings.Contains(err.Error(), "SHIFU_APP_PASSWORD") {
			t.Errorf("password %q: %v", pw, err)
		}
	}
}

func TestRetention(t *testing.T) {
	c, err := Load(env())
	if err != nil || c.DeleteRetention != 30*24*time.Hour || c.VersionRetention != 0 {
		t.Fatalf("defaults: %v %v, %v", c.DeleteRetention, c.VersionRetention, err)
	}
	c, err = Load(env("SHIFU_DELETE_RETENTION", "48h", "SHIFU_VERSION_RETENTION", "2160h"))
	if err != nil || c.DeleteRetention != 48*time.Hour || c.VersionRetention != 2160*time.Hour {
		t.Fatalf("set: %v %v, %v", c.DeleteRetention, c.VersionRetention, err)
	}
	if c, err = Load(env("SHIFU_VERSION_RETENTION", "forever")); err != nil || c.VersionRetention != 0 {
		t.Fatalf("forever: %v, %v", c.VersionRetention, err)
	}
	if _, err := Load(env("SHIFU_DELETE_RETENTION", "soon")); err == nil || !strings.Contains(err.Error(), "SHIFU_DELETE_RETENTION") {
		t.Fatalf("bad retention: %v", err)
	}
}
func TestOCR(t *testing.T) {
	c, err := Load(env())
	if err != nil {
		t.Fatal(err)
	}
	if o := c.OCR; o.Engine != "auto" || fmt.Sprint(o.Languages) != "[eng chi_sim]" || o.DPI != 200 || o.Workers != 2 || o.MinConfidence != 60 {
		t.Fatalf("OCR defaults: %+v", o)
	}
	c, err = Load(env("SHIFU_OCR_LANGUAGES", "chi_sim,eng", "SHIFU_OCR", "tesseract"))
	if err != nil || fmt.Sprint(c.OCR.Languages) != "[chi_sim eng]" || c.OCR.Engine != "tesseract" {
		t.Fatalf("OCR: %+v, %v", c.OCR, err)
	}
	_, err = Load(env("SHIFU_OCR", "gosseract", "SHIFU_OCR_LANGUAGES", "eng;rm -rf", "SHIFU_OCR_DPI", "72",
		"SHIFU_OCR_WORKERS", "0", "SHIFU_OCR_MIN_CONFIDENCE", "101"))
	for _, want := range []string{"SHIFU_OCR=", "SHIFU_OCR_LANGUAGES", "SHIFU_OCR_DPI", "SHIFU_OCR_WORKERS", "SHIFU_OCR_MIN_CONFIDENCE"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

// TestCacheDir: SHIFU_CACHE_DIR wins, then XDG_CACHE_HOME, then HOME; off or
// no home is none, and a relative directory is refused by name.
func TestCacheDir(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"HOME", "/home/op"}, "/home/op/.cache/shifu"},
		{[]string{"HOME", "/home/op", "XDG_CACHE_HOME", "/var/cache/op"}, "/var/cache/op/shifu"},
		{[]string{"HOME", "/home/op", "XDG_CACHE_HOME", "rel"}, "/home/op/.cache/shifu"},
		{[]string{"HOME", "/home/op", "SHIFU_CACHE_DIR", "/srv/shifu/cache/"}, "/srv/shifu/cache"},
		{[]string{"HOME", "/home/op", "SHIFU_CACHE_DIR", "off"}, ""},
		{nil, ""},
	} {
		c, err := Load(env(tc.env...))
		if err != nil {
			t.Fatalf("%v: %v", tc.env, err)
		}
		if c.CacheDir != tc.want {
			t.Errorf("%v: CacheDir %q, want %q", tc.env, c.CacheDir, tc.want)
		}
	}
	if _, err := Load(env("SHIFU_CACHE_DIR", "cache")); err == nil || !strings.Contains(err.Error(), "SHIFU_CACHE_DIR") {
		t.Errorf("relative SHIFU_CACHE_DIR: %v", err)
	}
}
