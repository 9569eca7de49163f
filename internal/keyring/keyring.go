// Package keyring seals tenants' originals and bot secrets with AES-256-GCM.
// Each tenant has its own random data key; the data key is stored wrapped
// (sealed) by the master key, which lives only in the server's environment
// (SHIFU_MASTER_KEY), never in the database.
package keyring

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// KeySize is the length of master and data keys: AES-256.
const KeySize = 32

// ErrKey means a key is missing, malformed or not the one data was sealed with.
var ErrKey = errors.New("keyring: wrong or malformed key")

// Master is the server-side key that wraps tenants' data keys.
type Master struct{ aead cipher.AEAD }

// ParseMaster reads a base64 (standard or URL, padded or not) 32-byte key.
func ParseMaster(s string) (*Master, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("SHIFU_MASTER_KEY is not set; generate one with `shifu keygen`: %w", ErrKey)
	}
	var key []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("SHIFU_MASTER_KEY must be base64 of %d bytes (`shifu keygen` prints one): %w", KeySize, ErrKey)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return &Master{aead: aead}, nil
}

// Generate returns a new random key, base64-encoded, for SHIFU_MASTER_KEY.
func Generate() string {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return base64.StdEncoding.EncodeToString(k)
}

// NewDataKey makes a random data key for a tenant and returns it wrapped, bound
// to the tenant's name so a wrapped key copied to another tenant will not open.
func (m *Master) NewDataKey(tenant string) (wrapped []byte, err error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return seal(m.aead, k, []byte("tenant-key:"+tenant))
}

// Open unwraps a tenant's data key. A wrong master key fails here, loudly.
func (m *Master) Open(tenant string, wrapped []byte) (*Key, error) {
	k, err := open(m.aead, wrapped, []byte("tenant-key:"+tenant))
	if err != nil {
		return nil, fmt.Errorf("unwrap data key of tenant %q (is SHIFU_MASTER_KEY the one it was created with?): %w", tenant, ErrKey)
	}
	aead, err := newAEAD(k)
	if err != nil {
		return nil, err
	}
	return &Key{aead: aead}, nil
}

// Key is one tenant's data key.
type Key struct{ aead cipher.AEAD }

// Seal encrypts plain; context (e.g. "doc:42") is authenticated, so a sealed
// value moved to another row will not open.
func (k *Key) Seal(plain []byte, context string) ([]byte, error) {
	return seal(k.aead, plain, []byte(context))
}

// Open decrypts what Seal produced with the same context.
func (k *Key) Open(sealed []byte, context string) ([]byte, error) {
	p, err := open(k.aead, sealed, []byte(context))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", context, ErrKey)
	}
	return p, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal returns nonce || ciphertext.
func seal(aead cipher.AEAD, plain, ad []byte) ([]byte, error) {
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return aead.Seal(out, out, plain, ad), nil
}

func open(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	n := aead.NonceSize()
	if len(sealed) < n+aead.Overhead() {
		return nil, ErrKey
	}
	return aead.Open(nil, sealed[:n], sealed[n:], ad)
}

// Ring hands out tenants' data keys, unwrapping each once per process.
type Ring struct {
	master *Master
	lookup func(ctx context.Context, tenant int64) (name string, wrapped []byte, err error)
	mu     sync.Mutex
	keys   map[int64]*Key
}

// NewRing returns a Ring that finds wrapped keys with lookup.
func NewRing(m *Master, lookup func(ctx context.Context, tenant int64) (string, []byte, error)) *Ring {
	return &Ring{master: m, lookup: lookup, keys: map[int64]*Key{}}
}

// Master is the ring's master key.
func (r *Ring) Master() *Master { return r.master }

// TenantKey returns the tenant's data key.
func (r *Ring) TenantKey(ctx context.Context, tenant int64) (*Key, error) {
	r.mu.Lock()
	k := r.keys[tenant]
	r.mu.Unlock()
	if k != nil {
		return k, nil
	}
	name, wrapped, err := r.lookup(ctx, tenant)
	if err != nil {
		return nil, err
	}
	k, err = r.master.Open(name, wrapped)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.keys[tenant] = k
	r.mu.Unlock()
	return k, nil
}
