// The worker's chat: streams the answer over SSE (fetch + reader), shows
// citations as chips that open the cited manual page, and takes feedback.
'use strict';
(() => {
  const { api, el, t, lang } = Shifu;
  const log = document.getElementById('log');
  const form = document.getElementById('ask');
  const input = document.getElementById('question');
  const send = document.getElementById('send');
  const stop = document.getElementById('stop');
  let inflight = null; // the AbortController of the answer streaming now
  stop.addEventListener('click', () => { if (inflight) inflight.abort(); });
  const viewer = document.getElementById('viewer');
  let conversation = 0;
  const historyBox = document.getElementById('history');
  const historyList = document.getElementById('history-list');

  // The history panel lists the worker's own conversations from the server
  // (so it follows the worker across devices); opening one redraws it and
  // makes the next question a follow-up in it.
  async function drawHistory() {
    historyList.textContent = '';
    historyList.setAttribute('aria-busy', 'true');
    try {
      const data = await api('GET', '/api/conversations?limit=50');
      const cs = (data && data.conversations) || [];
      if (!cs.length) historyList.append(el('li', { class: 'empty', text: t('chat.no_history') }));
      for (const c of cs) {
        historyList.append(el('li', {}, el('button', { type: 'button', 'data-id': c.id, class: c.id === conversation ? 'current' : null,
          onclick: () => reopen(c.id) },
        el('span', { class: 'title', text: c.title }),
        el('span', { class: 'when', text: Shifu.date(c.updated_at) }))));
      }
    } catch (e) {
      historyList.append(el('li', { class: 'empty', role: 'alert', text: t('chat.error') + ': ' + e.message }));
    } finally {
      historyList.removeAttribute('aria-busy');
    }
  }
  historyBox.addEventListener('toggle', () => { if (historyBox.open) drawHistory(); });

  async function reopen(id) {
    let data;
    try { data = await api('GET', '/api/conversations/' + encodeURIComponent(id)); } catch (e) {
      historyList.prepend(el('li', { class: 'empty', role: 'alert', text: t('chat.error') + ': ' + e.message }));
      return;
    }
    conversation = data.conversation.id;
    log.textContent = '';
    for (const m of data.messages || []) {
      if (m.role === 'user') { log.append(el('div', { class: 'msg user', text: m.content })); continue; }
      const body = el('div', { class: 'body' });
      const msg = el('div', { class: 'msg assistant' }, body);
      log.append(msg);
      finish(msg, body, Object.assign({}, m, { message_id: m.id }));
    }
    historyBox.open = false;
    if (log.lastElementChild) log.lastElementChild.scrollIntoView({ block: 'end' });
    input.focus();
  }

  // readSSE calls onEvent(name, data) for each event of a fetch response body.
  async function readSSE(resp, onEvent) {
    const reader = resp.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const raw = buf.slice(0, i); buf = buf.slice(i + 2);
        let name = 'message', data = '';
        for (const line of raw.split('\n')) {
          if (line.startsWith('event:')) name = line.slice(6).trim();
          else if (line.startsWith('data:')) data += line.slice(5).trim();
        }
        let obj = null; try { obj = JSON.parse(data); } catch (e) { obj = null; }
        onEvent(name, obj);
      }
    }
  }

  function openCitation(c) {
    const title = document.getElementById('viewer-title');
    title.textContent = (c.title || c.document) + (c.page_start ? ' · ' + Shifu.page(c.page_start) : '');
    document.getElementById('viewer-quote').textContent = c.quote || '';
    const img = document.getElementById('viewer-img');
    const link = document.getElementById('viewer-link');
    // A citation opens the version it cited; the viewer says when the
    // document has been revised since.
    const v = c.version > 0 ? String(c.version) : '';
    const orig = '/api/documents/' + encodeURIComponent(c.document_id) + '/original' + (v ? '?v=' + v : '');
    const newer = document.getElementById('viewer-newer');
    newer.hidden = true;
    const sayNewer = (h) => {
      const live = h.get('X-Shifu-Live-Version'), shown = h.get('X-Shifu-Version');
      if (live && shown && Number(live) > Number(shown)) {
        newer.textContent = t('chat.newer').replace('{live}', live).replace('{cited}', shown);
        newer.hidden = false;
      }
    };
    if (c.page_start > 0) {
      const w = Math.min(1600, Math.round(Math.max(window.innerWidth, 400) * (window.devicePixelRatio || 1)));
      img.hidden = false;
      img.alt = (c.title || c.document) + ' ' + c.page_start;
      link.href = orig + '#page=' + c.page_start;
      // Fetched rather than set as src: the server says which page of the
      // passage holds the quote, and the title and link follow it.
      fetch('/api/documents/' + encodeURIComponent(c.document_id) + '/pages/' + c.page_start + '.png?w=' + w +
        '&to=' + (c.page_end || c.page_start) + '&q=' + encodeURIComponent((c.quote || '').slice(0, 300)) + (v ? '&v=' + v : ''), { credentials: 'same-origin' })
        .then((r) => { if (!r.ok) throw new Error(r.status); sayNewer(r.headers); return Promise.all([r.blob(), r.headers.get('X-Shifu-Page')]); })
        .then(([blob, pg]) => {
          if (img.src.startsWith('blob:')) URL.revokeObjectURL(img.src);
          img.src = URL.createObjectURL(blob);
          if (pg) {
            link.href = orig + '#page=' + pg;
            title.textContent = (c.title || c.document) + ' · ' + Shifu.page(pg);
          }
        })
        .catch(() => { img.hidden = true; });
    } else {
      img.hidden = true; img.removeAttribute('src');
      link.href = orig;
    }
    if (viewer.showModal) viewer.showModal(); else viewer.setAttribute('open', '');
  }
  document.getElementById('viewer-close').addEventListener('click', () => viewer.close());

  // chips carry the sources; with quotes only when the answer text does not
  // quote them already (an extractive answer is the quotes).
  function chips(cs, quotes) {
    const box = el('div', { class: 'chips', 'aria-label': t('chat.sources') });
    for (const c of cs) {
      const pages = c.page_end > c.page_start ? c.page_start + '–' + c.page_end : c.page_start;
      // The page first: a chip shares its row, and what is cut is its end.
      const title = '[' + c.n + '] ' + (c.page_start ? Shifu.page(pages) + ' · ' : '') + (c.title || c.document) +
        (c.author ? ' · ' + t('chat.note_by') + ' ' + c.author : '');
      box.append(el('button', { type: 'button', class: 'chip', title, 'data-doc': c.document_id, 'data-page': c.page_start, onclick: () => openCitation(c) },
        el('span', { class: 't', text: title }),
        quotes ? el('span', { class: 'q', text: c.quote || '' }) : null,
        c.verified === false ? el('span', { class: 'unverified', text: t('chat.unverified') }) : null));
    }
    return box;
  }

  function rating(messageId) {
    const box = el('div', { class: 'rate' });
    const status = el('span', { role: 'status' });
    const comment = el('input', { type: 'text', placeholder: t('chat.comment'), maxlength: 2000 });
    const commentRow = el('div', { class: 'comment', hidden: true }, comment,
      el('button', { type: 'button', text: t('chat.send_feedback'), onclick: () => rate(-1, comment.value) }));
    // The mark always shows; the word only where the row has room (CSS).
    const label = (mark, word) => [el('span', { 'aria-hidden': 'true', text: mark }), el('span', { class: 'word', text: word })];
    const up = el('button', { type: 'button', class: 'up', 'aria-label': t('chat.helpful'), title: t('chat.helpful'), onclick: () => rate(1, '') },
      ...label('▲', t('chat.helpful')));
    const down = el('button', { type: 'button', class: 'down', 'aria-label': t('chat.unhelpful'), title: t('chat.unhelpful'),
      onclick: () => { commentRow.hidden = false; rate(-1, ''); comment.focus(); } }, ...label('▼', t('chat.unhelpful')));
    async function rate(r, text) {
      try {
        await api('POST', '/api/feedback', { message_id: messageId, rating: r, comment: text });
        up.classList.toggle('on', r > 0); down.classList.toggle('on', r < 0);
        status.textContent = t('chat.thanks');
        if (r > 0) commentRow.hidden = true;
      } catch (e) { status.textContent = e.message; }
    }
    box.append(up, down, status, commentRow);
    return box;
  }

  // finish draws a whole answer (the final event, or a stored message): the
  // server-rendered HTML, banners, citation chips and the rating buttons.
  function finish(msg, body, d) {
    body.classList.remove('streaming');
    // Rendered on the server: a model's Markdown sanitised, an extractive
    // answer's manual text escaped. The answer text carries its own notice
    // (no model, model failed, not covered), so no banner repeats it.
    body.innerHTML = d.html || '';
    msg.classList.toggle('degraded', !!d.degraded);
    msg.classList.toggle('abstained', !!d.abstained);
    // Sources and rating share one row under the answer: on a phone two
    // rows of them pushed the answer's end off the screen.
    const foot = el('div', { class: 'foot' });
    if (d.citations && d.citations.length) foot.append(chips(d.citations, !d.degraded));
    if (d.message_id) foot.append(rating(d.message_id));
    if (foot.childElementCount) msg.append(foot);
    msg.dataset.done = '1';
  }

  // ask sends q; the question stays in the box until the server takes it,
  // so a refused one (too long, signed out) can be fixed and sent again.
  async function ask(q) {
    const user = el('div', { class: 'msg user', text: q });
    const body = el('div', { class: 'body streaming', text: t('chat.thinking') });
    const msg = el('div', { class: 'msg assistant' }, body);
    log.append(user, msg);
    msg.scrollIntoView({ block: 'end' });
    send.disabled = true;
    inflight = new AbortController();
    send.hidden = true; stop.hidden = false;
    let started = false;
    try {
      const resp = await fetch('/api/chat', {
        method: 'POST', credentials: 'same-origin', signal: inflight.signal,
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': Shifu.csrf(), 'Accept': 'text/event-stream' },
        body: JSON.stringify({ question: q, conversation_id: conversation, lang }),
      });
      if (resp.status === 503 || resp.status === 429) {
        throw Object.assign(new Error(t('chat.unavailable')), { retry: true });
      }
      if (!resp.ok) {
        let m = resp.status + ''; try { m = (await resp.json()).error || m; } catch (e) { /* keep status */ }
        const err = new Error(m); err.refused = true;
        throw err;
      }
      if (input.value.trim() === q) input.value = '';
      await readSSE(resp, (name, d) => {
        if (name === 'delta' && d) {
          if (!started) { body.textContent = ''; started = true; }
          body.textContent += d.text; // plain text while streaming: nothing is parsed as HTML
        } else if (name === 'final' && d) {
          conversation = d.conversation_id || conversation;
          finish(msg, body, d);
          // The fact comes first: show the question and the answer's start.
          user.scrollIntoView({ block: 'start' });
        } else if (name === 'error' && d && (d.code === 'unavailable' || d.code === 'busy')) {
          throw Object.assign(new Error(t('chat.unavailable')), { retry: true });
        } else if (name === 'error') {
          throw new Error((d && d.error) || t('chat.error'));
        }
      });
    } catch (e) {
      body.classList.remove('streaming');
      if (!started) body.textContent = '';
      if (e.name === 'AbortError') {
        msg.append(el('div', { class: 'banner stopped', role: 'status', text: t('chat.stopped') }));
        msg.dataset.done = 'stopped';
      } else {
        msg.append(el('div', { class: 'banner error', role: 'alert', text: e.retry ? e.message : t('chat.error') + ': ' + e.message }));
        msg.dataset.done = 'error';
      }
      if (e.refused) { input.value = q; input.focus(); }
    } finally {
      inflight = null;
      send.disabled = false;
      send.hidden = false; stop.hidden = true;
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = input.value.trim();
    if (!q || inflight) return;
    ask(q).then(() => { if (historyBox.open) drawHistory(); });
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  document.getElementById('new-chat').addEventListener('click', () => { conversation = 0; log.textContent = ''; historyBox.open = false; input.focus(); });
  // Questions were once kept only in this browser; the server has them now.
  try { localStorage.removeItem('shifu.history'); } catch (e) { /* storage blocked */ }
})();
