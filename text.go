package shifu

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Lang says which language texts are mostly in: "zh" when Han characters are
// at least as many as Latin words, "en" when there are Latin words, "" for
// neither. It counts Latin words, not letters: a Chinese manual full of
// commands and file names has far more Latin letters than Han characters.
func Lang(texts ...string) string {
	han, words := 0, 0
	for _, t := range texts {
		inWord := false
		for _, r := range t {
			latin := r < 0x250 && unicode.IsLetter(r)
			switch {
			case unicode.Is(unicode.Han, r):
				han++
			case latin && !inWord:
				words++
			}
			inWord = latin
		}
	}
	switch {
	case han > 0 && han >= words:
		return "zh"
	case words > 0:
		return "en"
	}
	return ""
}

// Tokens estimates how many model tokens text costs: about 1.3 per Latin word
// (or number) and one per 1.6 Han characters (Qwen-style tokenizers), rounded
// up. Budgets, not billing, rely on it.
func Tokens(text string) int {
	words, han := 0, 0
	in := false
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Han, r):
			han++
			in = false
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if !in {
				words++
			}
			in = true
		default:
			in = false
		}
	}
	x := float64(words)*1.3 + float64(han)/1.6
	n := int(x)
	if float64(n) < x {
		n++
	}
	return n
}

// CheckText refuses text PostgreSQL cannot store or a person did not mean: a
// NUL byte, other control characters but tab and line ends, or invalid
// UTF-8. what names the text in the message ("the question", "file name").
func CheckText(what, s string) error {
	if !utf8.ValidString(s) {
		return Errorf(ErrInvalid, "%s is not valid UTF-8 text", what)
	}
	for _, r := range s {
		if r == 0 {
			return Errorf(ErrInvalid, "%s contains a NUL character; send plain text", what)
		}
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return Errorf(ErrInvalid, "%s contains the control character %U; send plain text", what, r)
		}
	}
	return nil
}

// Sentences splits text after sentence-ending punctuation and at line ends.
// A Latin stop ends a sentence only before a space and a word that does not
// start in lower case, so "2.5 mm" and "e.g. the" stay whole; a semicolon
// does not end one ("started with a ; or a #"). Retrieval judges
// whether passages cover a question by their sentences and the answer
// service quotes them: one rule for both.
func Sentences(text string) []string {
	var out []string
	r := []rune(text)
	start := 0
	emit := func(end int) {
		if s := strings.Join(strings.Fields(string(r[start:end])), " "); s != "" {
			out = append(out, s)
		}
		start = end
	}
	for i, c := range r {
		switch {
		case c == '\n':
			emit(i + 1)
		case strings.ContainsRune("。！？", c):
			emit(i + 1)
		case strings.ContainsRune(".!?", c) && (i+1 == len(r) || unicode.IsSpace(r[i+1]) && !lowerNext(r[i+1:])) && !listMark(r[start:i]):
			emit(i + 1)
		}
	}
	emit(len(r))
	return out
}

// listMark reports whether s, before a stop, is only a list number ("5."),
// which starts a sentence rather than ending one.
func listMark(s []rune) bool {
	t := strings.TrimSpace(string(s))
	if t == "" || len(t) > 3 {
		return false
	}
	for _, c := range t {
		if !unicode.IsDigit(c) {
			return false
		}
	}
	return true
}

// lowerNext reports whether the first letter after leading spaces is lower case.
func lowerNext(r []rune) bool {
	for _, c := range r {
		if c == '\n' {
			return false
		}
		if !unicode.IsSpace(c) {
			return unicode.IsLower(c)
		}
	}
	return false
}
