package web

import (
	"bytes"
	"html/template"
	"io/fs"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"

	"github.com/shifu-factory/shifu/bot"
	"golang.org/x/text/language"

	"github.com/shifu-factory/shifu/internal/i18n"
)

// markdown renders model output, which is untrusted: a poisoned manual page
// can make the model write an image that reports who read it, or a phishing
// link. The parser reads no raw HTML and no <...> autolinks, so "<b>" at the
// start of an answer is shown as typed rather than dropped (goldmark omits raw
// HTML it does not render); untrusted removes images and every link but a
// relative one to our documents (bot.Own: the bots' rule), keeping their
// text; bare URLs stay text (no Linkify). bluemonday then allows only the
// elements Markdown makes and, on links, only document paths.
type markdown struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
}

var mdOnce = sync.OnceValue(func() *markdown {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li",
		"h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td", "a")
	p.AllowAttrs("start").Matching(bluemonday.Integer).OnElements("ol")
	p.AllowAttrs("align").Matching(regexp.MustCompile(`^(left|right|center)$`)).OnElements("th", "td")
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^language-[A-Za-z0-9_+-]{1,40}$`)).OnElements("code")
	p.AllowAttrs("href").Matching(bot.DocPath).OnElements("a")
	p.AllowRelativeURLs(true)
	p.RequireParseableURLs(true)
	var blocks, inlines []util.PrioritizedValue
	for _, v := range parser.DefaultBlockParsers() {
		if reflect.TypeOf(v.Value) != reflect.TypeOf(parser.NewHTMLBlockParser()) {
			blocks = append(blocks, v)
		}
	}
	for _, v := range parser.DefaultInlineParsers() {
		if t := reflect.TypeOf(v.Value); t != reflect.TypeOf(parser.NewRawHTMLParser()) && t != reflect.TypeOf(parser.NewAutoLinkParser()) {
			inlines = append(inlines, v)
		}
	}
	ps := parser.NewParser(parser.WithBlockParsers(blocks...), parser.WithInlineParsers(inlines...),
		parser.WithParagraphTransformers(parser.DefaultParagraphTransformers()...),
		parser.WithASTTransformers(util.Prioritized(untrusted{}, 1000)))
	return &markdown{md: goldmark.New(goldmark.WithParser(ps), goldmark.WithExtensions(extension.Table, extension.Strikethrough)), policy: p}
})

// untrusted replaces every image, and every link that bot.Own does not keep,
// by its text.
type untrusted struct{}

func (untrusted) Transform(doc *ast.Document, _ text.Reader, _ parser.Context) {
	var drop []ast.Node
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch l := n.(type) {
		case *ast.Image:
			drop = append(drop, n)
		case *ast.Link:
			if u, ok := bot.Own(string(l.Destination), ""); ok {
				l.Destination, l.Title = []byte(u), nil
			} else {
				drop = append(drop, n)
			}
		}
		return ast.WalkContinue, nil
	})
	// Order does not matter: each dropped node's children move up to its
	// parent as it is then (a link around an image, both dropped, leaves
	// the image's text in the paragraph).
	for _, n := range drop {
		parent := n.Parent()
		for c := n.FirstChild(); c != nil; {
			next := c.NextSibling()
			parent.InsertBefore(parent, n, c)
			c = next
		}
		parent.RemoveChild(parent, n)
	}
}

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
