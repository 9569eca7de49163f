package web

import (
	"container/list"
	"sync"
)

// pageKey names one rendered page image: document, version (its hash, so a
// re-ingested or replaced file never shows a stale image), page and one of
// the few widths. Nothing a caller may vary freely is part of it (a quote is
// highlighted on a copy), so no request can force a render by missing.
type pageKey struct {
	tenant, doc int64
	sha         string
	page        int
	width       int
}

// pageCache keeps rendered pages, least recently used out first, within a
// byte budget (rendering a page with PDFium costs far more than a lookup).
type pageCache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	order *list.List // front = most recent
	items map[pageKey]*list.Element
}

type pageEntry struct {
	key   pageKey
	png   []byte
	shown int // the page drawn (the quote's page within key.page..key.to)
}

func newPageCache(maxBytes int64) *pageCache {
	return &pageCache{max: maxBytes, order: list.New(), items: map[pageKey]*list.Element{}}
}

func (p *pageCache) get(k pageKey) ([]byte, int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.items[k]; ok {
		p.order.MoveToFront(e)
		ent := e.Value.(*pageEntry)
		return ent.png, ent.shown, true
	}
	return nil, 0, false
}

func (p *pageCache) put(k pageKey, png []byte, shown int) {
	if int64(len(png)) > p.max/4 {
		return // one huge page must not evict everything
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.items[k]; ok {
		p.size -= int64(len(e.Value.(*pageEntry).png))
		p.order.Remove(e)
	}
	p.items[k] = p.order.PushFront(&pageEntry{key: k, png: png, shown: shown})
	p.size += int64(len(png))
	for p.size > p.max {
		last := p.order.Back()
		ent := last.Value.(*pageEntry)
		p.order.Remove(last)
		delete(p.items, ent.key)
		p.size -= int64(len(ent.png))
	}
}

// dropDoc forgets every page of a document (deleted or re-ingested).
func (p *pageCache) dropDoc(tenant, doc int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, e := range p.items {
		if k.tenant == tenant && k.doc == doc {
			p.size -= int64(len(e.Value.(*pageEntry).png))
			p.order.Remove(e)
			delete(p.items, k)
		}
	}
}
