package retrieval

import (
	"fmt"
	"testing"
)

// TestTranslationCacheBounded: the cache of first-question translations keys
// by tenant and the question's normalised text, and past its bound drops the
// oldest entry.
func TestTranslationCacheBounded(t *testing.T) {
	var c transCache
	c.put(questionKey(1, "Why  are the CORNERS rounded?"), []string{"EN: x"})
	if _, ok := c.get(questionKey(1, " why are the corners rounded? ")); !ok {
		t.Fatal("the same question in other case and spacing misses the cache")
	}
	if _, ok := c.get(questionKey(2, "why are the corners rounded?")); ok {
		t.Fatal("another tenant's translation was reused")
	}
	for i := range maxTranslations {
		c.put(questionKey(3, fmt.Sprint("q", i)), []string{"x"})
	}
	if len(c.byKey) != maxTranslations || len(c.order) != maxTranslations {
		t.Fatalf("cache holds %d (order %d), want the bound %d", len(c.byKey), len(c.order), maxTranslations)
	}
	if _, ok := c.get(questionKey(1, "why are the corners rounded?")); ok {
		t.Fatal("the oldest entry outlived the bound")
	}
	if _, ok := c.get(questionKey(3, fmt.Sprint("q", maxTranslations-1))); !ok {
		t.Fatal("the newest entry was dropped")
	}
}
