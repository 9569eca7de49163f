package shifu

import (
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
