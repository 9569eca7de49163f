package keyring

import (
	"bytes"
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	m, err := ParseMaster(Generate())
	if err != nil {
		t.Fatal(err)
	}
	w, err := m.NewDataKey("acme")
	if err != nil {
		t.Fatal(err)
	}
	k, err := m.Open("acme", w)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("spindle manual, page 12")
	s, err := k.Seal(plain, "doc:1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(s, plain) {
		t.Fatal("sealed bytes contain the plaintext")
	}
	got, err := k.Open(s, "doc:1")
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := k.Open(s, "doc:2"); !errors.Is(err, ErrKey) {
		t.Fatalf("Open with another context = %v, want ErrKey", err)
	}
	s[len(s)-1] ^= 1
	if _, err := k.Open(s, "doc:1"); !errors.Is(err, ErrKey) {
		t.Fatalf("Open of tampered bytes = %v, want ErrKey", err)
	}
}

func TestWrongMasterOrTenant(t *testing.T) {
	m1, _ := ParseMaster(Generate())
	m2, _ := ParseMaster(Generate())
	w, _ := m1.NewDataKey("acme")
	if _, err := m2.Open("acme", w); !errors.Is(err, ErrKey) {
		t.Fatalf("wrong master: %v", err)
	}
	if _, err := m1.Open("globex", w); !errors.Is(err, ErrKey) {
		t.Fatalf("key moved to another tenant: %v", err)
	}
}

func TestParseMaster(t *testing.T) {
	for _, bad := range []string{"", "not base64!!", "c2hvcnQ=", Generate() + "AAAA"} {
		if _, err := ParseMaster(bad); !errors.Is(err, ErrKey) {
			t.Errorf("ParseMaster(%q) = %v, want ErrKey", bad, err)
		}
	}
}
