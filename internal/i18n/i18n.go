// Package i18n is Shifu's one message catalogue: the UI text of the pages
// and scripts, the bots' replies and labels, and the Chinese of the error
// messages people see (errors.go), in English and Chinese.
package i18n

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/shifu-factory/shifu"
)

// Of is one of the catalogue's languages for a language hint: "zh" for
// Chinese, else "en".
func Of(lang string) string {
	if strings.HasPrefix(strings.ToLower(lang), "zh") {
		return "zh"
	}
	return "en"
}

// Texts is the whole catalogue of lang (what a page hands its scripts).
func Texts(lang string) map[string]string { return catalog[Of(lang)] }

// Text is one message in lang, else in English, else the key.
func Text(lang, key string) string {
	if v, ok := catalog[Of(lang)][key]; ok {
		return v
	}
	if v, ok := catalog["en"][key]; ok {
		return v
	}
	return key
}

// Pages labels a page or a range of pages: "p. 5", "pp. 5–7", "第 5 页",
// "第 5–7 页"; "" for no page.
func Pages(lang string, start, end int) string {
	switch {
	case start <= 0:
		return ""
	case end > start:
		return strings.Replace(Text(lang, "page.range"), "{n}", strconv.Itoa(start)+"–"+strconv.Itoa(end), 1)
	}
	return strings.Replace(Text(lang, "page.one"), "{n}", strconv.Itoa(start), 1)
}

// Error is the client-safe message of err (shifu.Message) in lang: a
// *shifu.Error made by shifu.Errorf is formatted again from the catalogue's
// translation of its format, with role names among its arguments named in
// lang; anything not translated stays English.
func Error(lang string, err error) string {
	msg := shifu.Message(err)
	if Of(lang) == "en" {
		return msg
	}
	var e *shifu.Error
	if errors.As(err, &e) && e.Msg == msg {
		if f, ok := errorsZH[e.Format]; ok {
			args := make([]any, len(e.Args))
			for i, a := range e.Args {
				args[i] = a
				if r, ok := a.(shifu.Role); ok {
					args[i] = Text(lang, "role."+string(r))
				}
			}
			return fmt.Sprintf(f, args...)
		}
		return msg
	}
	if f, ok := errorsZH[msg]; ok { // a kind's generic text
		return f
	}
	return msg
}
