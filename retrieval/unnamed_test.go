package retrieval

import (
	"context"
	"slices"
	"testing"
)

// TestUnnamedCodeAbstains: a question naming a model or alarm code that no
// passage found holds is not answered from passages about other models,
// however much else it shares with them; a code written with or without its
// hyphen or dot is the same code, and a quantity (6G) is no code.
func TestUnnamedCodeAbstains(t *testing.T) {
	ctx := context.Background()
	a, err := sharedAnalyzer()
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"BT30 tool holders: tighten the pull stud into the holder to 40 Nm with the torque wrench, then check the taper.",
		"Alarm E-104: the spindle drive reports overcurrent. Let the drive cool and reset the alarm with the RESET key.",
		"G43.2 applies an additional tool length offset on top of the one already active.",
		"Copy the backup to a USB stick formatted as exFAT when the file is larger than 4 GB.",
	}
	db, _, tenant := libraryAt(t, a, texts)
	s := New(db, a, nil, Options{})
	for _, c := range []struct {
		q       string
		unnamed []string
	}{
		{"What torque should I tighten the pull stud into BT40 tool holders to?", []string{"bt40"}},
		{"What torque should I tighten the pull stud into BT30 tool holders to?", nil},
		{"Spindle alarm E104 overcurrent: how do I reset it?", nil},
		{"发那科报 SV0401 报警，主轴过流怎么复位？", []string{"sv0401"}},
		{"Which G-code applies an additional tool length offset, G432?", nil},
		{"The 6G backup file will not copy to the USB stick: which format?", nil},
	} {
		r, err := s.Retrieve(ctx, tenant, Query{Text: c.q, K: 3})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(r.Unnamed, c.unnamed) {
			t.Errorf("%q: unnamed %q, want %q", c.q, r.Unnamed, c.unnamed)
		}
		if c.unnamed != nil && !r.Abstain {
			t.Errorf("%q: answered from %q though no passage names %q", c.q, r.Hits[0].Text, c.unnamed)
		}
	}
	for w, want := range map[string]bool{"BT40": true, "Mach3": true, "E-104": true, "G43.2": true, "6G": false, "10x10": false, "PWM": false, "7i43": false} {
		if modelCode(w) != want {
			t.Errorf("modelCode(%q) = %v, want %v", w, !want, want)
		}
	}
}
