// Package parse turns uploaded bytes (PDF, DOCX, HTML, Markdown, plain text)
// into a cleaned, structured Doc: a flat list of blocks that keep headings,
// tables and page numbers, which the chunker then cuts along.
package parse

import "github.com/shifu-factory/shifu"

// Format names an accepted input type, found by sniffing the content.
type Format string

const (
	PDF      Format = "pdf"
	DOCX     Format = "docx"
	HTML     Format = "html"
	Markdown Format = "markdown"
	Text     Format = "text"
	Image    Format = "image" // JPEG, PNG or TIFF: one page, read by OCR
)

// BlockKind says what a block is, so the chunker knows where it may cut.
type BlockKind int

const (
	Paragraph BlockKind = iota
	Heading             // Level 1..6
	Table               // rows joined by "\n", cells by " | "; never split inside a row
	List                // one item per line
	Code                // preformatted, whitespace kept
)

// Block is one structural unit of a document.
type Block struct {
	Kind   BlockKind
	Level  int    // heading level, 1 = top; 0 for non-headings
	Text   string // cleaned text
	Page   int    // 1-based physical page the block starts on; 0 when the format has no pages
	Anchor string // HTML: id of the nearest preceding heading (or this heading's id)
}

// Doc is a parsed document.
type Doc struct {
	Format Format
	Title  string // from metadata or the first heading; may be empty
	Lang   string // "zh" or "en" by majority of letters; "" when unknown
	Pages  int    // physical pages (PDF); 0 for formats without pages
	Blocks []Block
	OCR    []shifu.PageText // the pages read by OCR, with their words' boxes
	// Pending counts the pages ParseFirst left to read by OCR.
	Pending int
	rest    *layer // with Pending, the text layer ParseFirst read, for ParseRest
}
