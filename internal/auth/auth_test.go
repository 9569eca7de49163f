package auth

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/shifu-factory/shifu"
)

func TestPassword(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$") {
		t.Fatalf("hash %q is not argon2id", h)
	}
	if !CheckPassword(h, "correct horse battery") {
		t.Fatal("right password refused")
	}
	for _, bad := range []string{"correct horse batterY", "", "correct horse battery "} {
		if CheckPassword(h, bad) {
			t.Fatalf("wrong password %q accepted", bad)
		}
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
	for _, enc := range []string{"", "$argon2id$", "$bcrypt$x$y$z$w", h[:len(h)-4]} {
		if CheckPassword(enc, "correct horse battery") {
			t.Fatalf("malformed hash %q matched", enc)
		}
	}
	if _, err := HashPassword("short"); !errors.Is(err, shifu.ErrInvalid) {
		t.Fatalf("short password: %v", err)
	}
}

func TestToken(t *testing.T) {
	a, ha := NewToken()
	b, hb := NewToken()
	if a == b || bytes.Equal(ha, hb) {
		t.Fatal("tokens repeat")
	}
	if !strings.HasPrefix(a, TokenPrefix) || len(a) < 40 {
		t.Fatalf("token %q", a)
	}
	if !bytes.Equal(Hash(a), ha) || len(ha) != 32 {
		t.Fatal("hash is not SHA-256 of the token")
	}
	if !Equal("x", "x") || Equal("", "") || Equal("x", "y") {
		t.Fatal("Equal")
	}
}

func TestPasswordPolicy(t *testing.T) {
	for pw, want := range map[string]string{
		"short":           "too short",
		"          ":      "only spaces",
		" \t \t \t \t \t": "only spaces",
		"aaaaaaaaaaaa":    "repeats one character",
		"Password123":     "most common",
		"QWERTYUIOP":      "most common",
		"1234567890":      "most common",
		"机床保养每周一次检查":      "",
		"correct horse!":  "",
		"lathe-bay-7-oil": "",
	} {
		err := CheckPolicy(pw)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q refused: %v", pw, err)
		case want != "" && (err == nil || !strings.Contains(shifu.Message(err), want) || !strings.Contains(shifu.Message(err), "10")):
			t.Errorf("%q: %v, want an error saying %q and what is accepted", pw, err, want)
		}
		if _, herr := HashPassword(pw); (herr == nil) != (err == nil) {
			t.Errorf("%q: HashPassword %v, policy %v", pw, herr, err)
		}
	}
}

// TestPasswordGivenOrGenerated: a given password is kept, an empty one generated; either
// way the hash checks against it, and a password the policy refuses is an
// error, not a hash.
func TestPasswordGivenOrGenerated(t *testing.T) {
	pw, hash, generated, err := Password("correct horse battery")
	if err != nil || pw != "correct horse battery" || generated || !CheckPassword(hash, pw) {
		t.Fatalf("given: %q %v %v", pw, generated, err)
	}
	pw, hash, generated, err = Password("")
	if err != nil || !generated || len(pw) != 20 || !CheckPassword(hash, pw) {
		t.Fatalf("generated: %q %v %v", pw, generated, err)
	}
	if _, hash, _, err := Password("short"); err == nil || hash != "" {
		t.Fatalf("a refused password gave hash %q, err %v", hash, err)
	}
}
