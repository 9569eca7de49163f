package shifu

import "unicode"

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
