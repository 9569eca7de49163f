package llm

import (
	"context"
	"math"
	"strings"
	"testing"
)

func cosine(a, b []float32) float64 {
	var d float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
	}
	return d
}

func norm(v []float32) float64 { return math.Sqrt(cosine(v, v)) }

func offline(t testing.TB) *Hashing {
	h, err := NewOffline(0)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashingDeterministicAndNormalised(t *testing.T) {
	h := offline(t)
	in := []string{"Hydraulic pump pressure too low", "液压泵压力过低，检查吸油滤网。", "E-102 fault: reset the VFD"}
	a, err := h.Embed(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	h2 := offline(t) // a fresh instance must give the same vectors
	b, _ := h2.Embed(context.Background(), in)
	for i := range in {
		if len(a[i]) != 1024 || math.Abs(norm(a[i])-1) > 1e-5 {
			t.Fatalf("%q: dim %d norm %v", in[i], len(a[i]), norm(a[i]))
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				t.Fatalf("%q: not deterministic at %d", in[i], j)
			}
		}
	}
	if h.Model() != HashModel || h.Dim() != 1024 {
		t.Fatalf("model %q dim %d", h.Model(), h.Dim())
	}
	for _, empty := range []string{"", "  ,.;!", "the of and"} {
		if v := h.EmbedOne(empty); norm(v) != 0 {
			t.Fatalf("%q: want the zero vector, norm %v", empty, norm(v))
		}
	}
}

// closer asserts that q is nearer to near than to far.
func closer(t *testing.T, h *Hashing, q, near, far string) {
	t.Helper()
	vq, vn, vf := h.EmbedOne(q), h.EmbedOne(near), h.EmbedOne(far)
	cn, cf := cosine(vq, vn), cosine(vq, vf)
	if testing.Verbose() {
		t.Logf("%.3f vs %.3f  %s", cn, cf, q)
	}
	if cn <= cf+0.05 {
		t.Errorf("%q: near %q %.3f, far %q %.3f", q, near, cn, far, cf)
	}
}

func TestHashingSimilarity(t *testing.T) {
	h := offline(t)
	closer(t, h, "hydraulic pump pressure too low", "low pressure in the hydraulic pumps", "replace the conveyor belt tensioner")
	closer(t, h, "replacing the spindle bearings", "how to replace a spindle bearing", "coolant concentration check")
	closer(t, h, "hydrualic presure alarm", "hydraulic pressure alarm", "spindle motor overheating") // typos
	closer(t, h, "M8x1.25 bolt torque", "torque for M8 x 1.25 bolts", "lubricate the chain weekly")
	closer(t, h, "E-102 fault code", "fault E102 on the drive", "belt alignment procedure")
	closer(t, h, "液压泵压力过低", "液压泵的压力太低怎么办", "更换输送带")
	closer(t, h, "主轴轴承更换", "如何更换主轴的轴承", "冷却液浓度检测")
	closer(t, h, "变频器报警 E-102", "E-102 报警处理", "润滑油更换周期")
}

func TestHashingConfig(t *testing.T) {
	def := offline(t)
	small, err := NewOffline(256)
	if err != nil || small.Dim() != 256 || small.Model() == def.Model() {
		t.Fatalf("dim 256: %v %q", err, small.Model())
	}
	noChar, _ := NewHashing(HashConfig{Char: -1})
	if noChar.Model() == def.Model() || noChar.Config().Char != 0 {
		t.Fatalf("knobs must change the model name: %q", noChar.Model())
	}
	same, _ := NewHashing(DefaultHashConfig())
	if same.Model() != HashModel {
		t.Fatalf("default config named %q", same.Model())
	}
	// The first defaults (512 buckets) keep the name their stored vectors
	// carry; the new defaults must not share it.
	old, err := NewOffline(512)
	if err != nil || old.Model() != "shifu-hash-v1" || def.Model() == old.Model() {
		t.Fatalf("dim 512: %v, model %q beside default %q", err, old.Model(), def.Model())
	}
	if _, err := NewHashing(HashConfig{Dim: 2048}); err == nil {
		t.Fatal("dim 2048 accepted")
	}
	if _, err := NewHashing(HashConfig{MinGram: 4, MaxGram: 2}); err == nil {
		t.Fatal("gram range 4–2 accepted")
	}
	// Without character n-grams a typo shares nothing with the right word.
	a, b := noChar.EmbedOne("presure"), noChar.EmbedOne("pressure")
	if c := cosine(a, b); c > 0.2 {
		t.Fatalf("cosine %v without char grams", c)
	}
}

func TestStemEnglish(t *testing.T) {
	groups := [][]string{
		{"replace", "replaced", "replaces", "replacing"},
		{"pump", "pumps", "pumped", "pumping"},
		{"stop", "stopped", "stopping", "stops"},
		{"battery", "batteries"},
		{"switch", "switches"},
		{"leak", "leaks", "leaking", "leaked"},
	}
	for _, g := range groups {
		want := string(stemEnglish([]byte(g[0])))
		for _, w := range g[1:] {
			if got := string(stemEnglish([]byte(w))); got != want {
				t.Errorf("%s → %s, %s → %s", g[0], want, w, got)
			}
		}
	}
	for _, w := range []string{"press", "status", "axis", "m8", "bus"} {
		if got := string(stemEnglish([]byte(w))); got != w {
			t.Errorf("%s → %s, want unchanged", w, got)
		}
	}
}

func TestHashingCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// One text stays on the caller's goroutine; a batch is spread out.
	for _, n := range []int{1, 1000} {
		if v, err := offline(t).Embed(ctx, make([]string, n)); err == nil || v != nil {
			t.Fatalf("%d texts: cancelled context ignored (%d vectors, %v)", n, len(v), err)
		}
	}
}

// TestHashingBatch: a batch embedded across goroutines gives every text the
// vector it gets alone, in order.
func TestHashingBatch(t *testing.T) {
	h := offline(t)
	text := benchText()
	var in []string
	for i := 0; i+700 <= len(text) && len(in) < 101; i += 697 {
		in = append(in, strings.ToValidUTF8(text[i:i+700], ""))
	}
	got, err := h.Embed(context.Background(), in)
	if err != nil || len(got) != len(in) {
		t.Fatalf("%d vectors, %v", len(got), err)
	}
	for i, s := range in {
		want := h.EmbedOne(s)
		for j := range want {
			if got[i][j] != want[j] {
				t.Fatalf("text %d: dimension %d is %v, alone %v", i, j, got[i][j], want[j])
			}
		}
	}
}

func benchText() string {
	var b strings.Builder
	for b.Len() < 1<<20 {
		b.WriteString("Section 4.2 Hydraulic system. If the pump pressure drops below 120 bar, check the suction filter, ")
		b.WriteString("the relief valve setting (M8x1.25, 25 N·m) and the oil level. 液压系统压力过低时，检查吸油滤网和溢流阀设定。\n")
	}
	return b.String()
}

// BenchmarkHashing measures throughput on mixed English/Chinese manual text,
// embedded as chunks of about 1.5 kB.
func BenchmarkHashing(b *testing.B) {
	h := offline(b)
	text := benchText()
	var chunks []string
	for i := 0; i+1500 <= len(text); i += 1500 {
		j := i + 1500
		for j < len(text) && text[j]&0xC0 == 0x80 {
			j++
		}
		chunks = append(chunks, text[i:j])
	}
	n := 0
	for _, c := range chunks {
		n += len(c)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		h.Embed(context.Background(), chunks)
	}
}

func FuzzHashing(f *testing.F) {
	for _, s := range []string{"", "pump", "液压泵压力过低", "1.25,000.5", "\xff\xfe<>", "ÉCHEC du moteur", "ｆｕｌｌ ｗｉｄｔｈ", strings.Repeat("x", 200)} {
		f.Add(s)
	}
	h, _ := NewOffline(64)
	f.Fuzz(func(t *testing.T, s string) {
		v := h.EmbedOne(s)
		if len(v) != 64 {
			t.Fatalf("dim %d", len(v))
		}
		n := norm(v)
		if math.IsNaN(n) || (n != 0 && math.Abs(n-1) > 1e-4) {
			t.Fatalf("norm %v", n)
		}
		w := h.EmbedOne(s)
		for i := range v {
			if v[i] != w[i] {
				t.Fatal("not deterministic")
			}
		}
	})
}
