package shifu

import "testing"

func TestChunkBody(t *testing.T) {
	for _, c := range []struct {
		chunk Chunk
		want  string
	}{
		{Chunk{Text: "Pump > Seal\nReplace the seal.", Heading: "Pump > Seal"}, "Replace the seal."},
		{Chunk{Text: "Seal\nReplace the seal.", Heading: "Pump > Seal"}, "Replace the seal."}, // the last level is enough
		{Chunk{Text: "Pump > Seal\n  ", Heading: "Pump > Seal"}, "Pump > Seal\n  "},           // only its heading: kept
		{Chunk{Text: "Replace the seal.\nThen test.", Heading: "Pump > Seal"}, "Replace the seal.\nThen test."},
		{Chunk{Text: "Seal\nReplace the seal."}, "Seal\nReplace the seal."}, // no heading, nothing to strip
	} {
		if got := c.chunk.Body(); got != c.want {
			t.Errorf("Body of %q = %q, want %q", c.chunk.Text, got, c.want)
		}
	}
}
