// Package prompts holds Shifu's model prompts as versioned text/template
// files, one per language, embedded in the binary. A prompt's wording is
// behaviour: change a file, bump Version, and update the golden files
// (go test ./prompts -update).
package prompts

import (
	"bytes"
	"embed"
	"fmt"
	"text/template"
)

// Version names the prompt set; it is stored with every answer.
const Version = "answer-v1"

//go:embed *.tmpl
var files embed.FS

var parsed = template.Must(template.New("").Option("missingkey=error").ParseFS(files, "*.tmpl"))

// Passage is one numbered retrieved passage shown to the model.
type Passage struct {
	N      int
	Source string // document title or file name, with page span or section
	Text   string
}

// Answer is the data of the answer prompts.
type Answer struct {
	Question string
	Passages []Passage
	// Fence is a marker that occurs in no passage; passages are enclosed in
	// it so text inside them cannot pose as the end of the data.
	Fence string
}

// Rewrite is the data of the query-rewrite prompt.
type Rewrite struct {
	History  []Turn
	Question string
}

// Turn is one earlier message.
type Turn struct {
	Role    string
	Content string
}

// Lang returns the prompt language for a question language: "zh" or "en".
func Lang(lang string) string {
	if lang == "zh" {
		return "zh"
	}
	return "en"
}

// Render executes the template name.lang.tmpl (or name.tmpl when the prompt
// has one language) with data.
func Render(name, lang string, data any) (string, error) {
	t := parsed.Lookup(name + "." + Lang(lang) + ".tmpl")
	if t == nil {
		t = parsed.Lookup(name + ".tmpl")
	}
	if t == nil {
		return "", fmt.Errorf("prompts: no template %q", name)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("prompts: %s: %w", name, err)
	}
	return b.String(), nil
}
