package web

import (
	"bytes"
	"html/template"
	"io/fs"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"golang.org/x/text/language"

	"github.com/shifu-factory/shifu/internal/i18n"
)

// markdown renders model output. goldmark drops raw HTML by default (no
// WithUnsafe), and bluemonday then removes anything else that could run:
// javascript: URLs, event handlers, styles.
type markdown struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
}

var mdOnce = sync.OnceValue(func() *markdown {
	p := bluemonday.UGCPolicy()
	p.RequireNoFollowOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowURLSchemes("http", "https")
	return &markdown{md: goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.Linkify)), policy: p}
})

var citeRef = regexp.MustCompile(`\[(\d{1,3})\]`)

// renderMarkdown turns an answer into safe HTML; [n] markers become
// superscripts that the page links to the citation chips.
func renderMarkdown(text string) string {
	m := mdOnce()
	var b bytes.Buffer
	if err := m.md.Convert([]byte(text), &b); err != nil {
		return template.HTMLEscapeString(text)
	}
	safe := m.policy.Sanitize(b.String())
	// Only digits are captured, so the replacement cannot inject markup.
	return citeRef.ReplaceAllString(safe, `<sup class="ref">[$1]</sup>`)
}

// templates holds the parsed pages.
type templates struct{ t map[string]*template.Template }

func parseTemplates() (*templates, error) {
	funcs := template.FuncMap{"itoa": strconv.Itoa}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := &templates{t: map[string]*template.Template{}}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		out.t[base] = t
	}
	return out, nil
}

// render writes a page in the caller's language. data gets the common keys.
func (s *Server) render(c *gin.Context, name string, data map[string]any) {
	t := s.tmpl.t[name]
	lang := langOf(c)
	if data == nil {
		data = map[string]any{}
	}
	data["Lang"] = lang
	data["T"] = i18n.Texts(lang)
	data["Other"] = map[string]string{"en": "zh", "zh": "en"}[lang]
	if p := who(c); p != nil {
		data["User"] = p.User
		data["PageCSRF"] = p.CSRF
		data["IsSupervisor"] = p.User.Role.Allows(supervisor)
		data["IsAdmin"] = p.User.Role.Allows(admin)
	}
	data["Page"] = name
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		s.log.Error("render", "page", name, "err", err)
		c.AbortWithStatus(http.StatusInternalServerError)
		return
	}
	if c.Writer.Status() == 0 {
		c.Status(http.StatusOK)
	}
	c.Header("Cache-Control", "no-store")
	c.Data(c.Writer.Status(), "text/html; charset=utf-8", b.Bytes())
}

var matcher = language.NewMatcher([]language.Tag{language.English, language.Chinese})

// langOf is the UI language: ?lang= (remembered in a cookie), then the
// cookie, then Accept-Language.
func langOf(c *gin.Context) string {
	if l := c.Query("lang"); l == "en" || l == "zh" {
		http.SetCookie(c.Writer, &http.Cookie{Name: "shifu_lang", Value: l, Path: "/", MaxAge: 365 * 86400, SameSite: http.SameSiteLaxMode})
		return l
	}
	if l, err := c.Cookie("shifu_lang"); err == nil && (l == "en" || l == "zh") {
		return l
	}
	tags, _, _ := language.ParseAcceptLanguage(c.GetHeader("Accept-Language"))
	_, i, _ := matcher.Match(tags...)
	if len(tags) > 0 && i == 1 {
		return "zh"
	}
	return "en"
}

// t translates one message key for the caller.
func (s *Server) t(c *gin.Context, key string) string {
	return i18n.Text(langOf(c), key)
}

func itoa(n int) string { return strconv.Itoa(n) }
