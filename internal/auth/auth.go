// Package auth hashes passwords (argon2id) and makes bearer tokens and session
// secrets, which are stored only as SHA-256 hashes.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/shifu-factory/shifu"
)

// argon2id parameters: RFC 9106's second recommended option, scaled down in
// memory so a 2-core server can check a few logins at once (64 MiB each).
const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 2
	argonKeyLen  = 32
	saltLen      = 16
)

// MinPassword is the shortest password accepted.
const MinPassword = 10

//go:embed common.txt
var commonList string

// common holds the embedded common passwords, lower-cased.
var common = func() map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(commonList, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			m[strings.ToLower(l)] = true
		}
	}
	return m
}()

// CheckPolicy says why pw is not accepted as a password, naming what is:
// at least MinPassword characters, not only spaces or one character
// repeated, and not one of the commonest passwords.
func CheckPolicy(pw string) error {
	r := []rune(pw)
	switch {
	case len(r) < MinPassword:
		return shifu.Errorf(shifu.ErrInvalid, "the password is too short: use at least %d characters", MinPassword)
	case strings.TrimSpace(pw) == "":
		return shifu.Errorf(shifu.ErrInvalid, "the password is only spaces: use at least %d characters that are not all spaces", MinPassword)
	case strings.Count(pw, string(r[0])) == len(r):
		return shifu.Errorf(shifu.ErrInvalid, "the password repeats one character: use at least %d characters, mixed", MinPassword)
	case common[strings.ToLower(pw)]:
		return shifu.Errorf(shifu.ErrInvalid, "the password is one of the most common ones: choose another of at least %d characters", MinPassword)
	}
	return nil
}

// HashPassword returns an encoded argon2id hash of pw, if the policy
// (CheckPolicy) accepts it.
func HashPassword(pw string) (string, error) {
	if err := CheckPolicy(pw); err != nil {
		return "", err
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches the encoded hash. A malformed or
// empty hash (a bot user with no password) never matches.
func CheckPassword(encoded, pw string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var v int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// DummyCheck spends the time of one password check, so a login for an
// unknown user takes as long as a wrong password for a known one.
func DummyCheck(pw string) {
	argon2.IDKey([]byte(pw), make([]byte, saltLen), argonTime, argonMemory, argonThreads, argonKeyLen)
}

// TokenPrefix marks Shifu bearer tokens, so leaked ones are recognisable by
// secret scanners.
const TokenPrefix = "shifu_"

// NewToken returns a random bearer token (shown once) and the hash to store.
func NewToken() (token string, hash []byte) {
	token = TokenPrefix + Secret()
	return token, Hash(token)
}

// Secret returns 32 random bytes as URL-safe base64 (session ids, CSRF
// tokens, generated passwords).
func Secret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Password is the password a new or reset account gets, with its hash:
// given, or when given is empty a generated one, 20 characters of Secret,
// which generated says to show once. Web and CLI both set passwords
// through it.
func Password(given string) (pw, hash string, generated bool, err error) {
	pw = given
	if pw == "" {
		pw, generated = Secret()[:20], true
	}
	hash, err = HashPassword(pw)
	return pw, hash, generated, err
}

// Hash is the SHA-256 under which a token or session id is stored and looked up.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Equal compares two secrets in constant time.
func Equal(a, b string) bool {
	return len(a) > 0 && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
