// The supervisor's desk: drag-and-drop uploads with a progress bar per file
// that follows the real ingest job, the document list, notes and the plant's
// own words (gaps have their own page, gaps.js).
'use strict';
(() => {
  const { api, el, t, date } = Shifu;
  const drop = document.getElementById('drop');
  const picker = document.getElementById('files');
  const uploads = document.getElementById('uploads');
  const tbody = document.querySelector('#docs tbody');
  const replacePicker = document.getElementById('replace-file');
  let replaceId = 0;

  // figuresNote says a ready document's figure pages are still being read
  // by OCR (progress.ocr_pending); '' when none are.
  function figuresNote(d) {
    const n = d.status === 'ready' && d.progress ? d.progress.ocr_pending : 0;
    return n > 0 ? ' (' + t('desk.figures') + ': ' + n + ')' : '';
  }

  // fraction estimates how far ingest is from the document's progress.
  function fraction(d) {
    const p = d.progress || {};
    switch (d.status) {
      case 'queued': return 0.05;
      case 'parsing': return 0.05 + 0.45 * (p.pages_total ? p.pages_parsed / p.pages_total : 0);
      case 'embedding': return 0.5 + 0.5 * (p.chunks_total ? p.chunks_embedded / p.chunks_total : 0);
      default: return 1;
    }
  }

  // send uploads one file with XHR (fetch cannot report upload progress).
  function send(url, file, onProgress) {
    return new Promise((resolve, reject) => {
      const fd = new FormData(); fd.append('file', file, file.name);
      if (url.endsWith('/revision?confirm=1')) fd.append('confirm', '1');
      const x = new XMLHttpRequest();
      x.open('POST', url);
      x.setRequestHeader('X-CSRF-Token', Shifu.csrf());
      x.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
      x.onload = () => {
        let d = null; try { d = JSON.parse(x.responseText); } catch (e) { d = null; }
        if (d && d.files && d.files[0]) resolve(d.files[0]);
        else reject(new Error((d && d.error) || x.status + ''));
      };
      x.onerror = () => reject(new Error('network error'));
      x.send(fd);
    });
  }

  async function uploadFile(file, url) {
    const bar = el('progress', { max: 1, value: 0 });
    const state = el('span', { class: 'state', text: t('status.queued') });
    const li = el('li', { class: 'upload', 'data-name': file.name }, el('strong', { text: file.name }), bar, state);
    uploads.prepend(li);
    try {
      let r = await send(url, file, (f) => { bar.value = 0.3 * f; });
      // A revision that looks like a different manual is stored only when
      // the supervisor confirms it.
      if (!r.ok && r.status === 409 && url.endsWith('/revision') && confirm(r.error)) {
        r = await send(url + '?confirm=1', file, (f) => { bar.value = 0.3 * f; });
      }
      if (!r.ok) { fail(r.error); return; }
      if (r.duplicate) {
        // Nothing new was stored: say so, and which version holds these bytes.
        bar.value = 1; state.className = 'state duplicate'; li.dataset.status = 'duplicate';
        state.textContent = t('desk.duplicate') + ': ' + (r.document.title || r.document.name) + ' v' + r.document.version;
        return;
      }
      await follow(r.document.id, r.document.version);
    } catch (e) { fail(e.message); }

    function fail(msg) { bar.value = 1; state.className = 'state failed'; state.textContent = t('status.failed') + ': ' + msg; li.dataset.status = 'failed'; }
    async function follow(id, version) {
      for (;;) {
        let d;
        try { d = await api('GET', '/api/documents/' + id + '?v=' + version); } catch (e) { fail(e.message); return; }
        bar.value = 0.3 + 0.7 * fraction(d);
        const p = d.progress || {};
        let extra = '';
        if (d.status === 'parsing' && p.pages_total) extra = ' ' + p.pages_parsed + '/' + p.pages_total;
        if (d.status === 'embedding' && p.chunks_total) extra = ' ' + p.chunks_embedded + '/' + p.chunks_total;
        // Searchable already; its figure pages' text follows.
        const figures = figuresNote(d);
        if (figures) extra = figures;
        state.className = 'state ' + d.status;
        state.textContent = t('status.' + d.status) + extra + (d.status === 'failed' && d.error ? ': ' + d.error : '');
        li.dataset.status = d.status;
        if (!figures && (d.status === 'ready' || d.status === 'failed' || d.status === 'archived')) { loadDocs(); return; }
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  function uploadAll(files) { for (const f of files) uploadFile(f, '/api/documents'); }

  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); uploadAll(e.dataTransfer.files); });
  drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); picker.click(); } });
  picker.addEventListener('change', () => { uploadAll(picker.files); picker.value = ''; });
  replacePicker.addEventListener('change', () => {
    if (replacePicker.files[0]) uploadFile(replacePicker.files[0], '/api/documents/' + replaceId + '/revision');
    replacePicker.value = '';
  });

  // versions lists a document's kept versions, each downloadable under its
  // own name, and the ingested ones can be made live again.
  function versions(doc) {
    if (!doc.versions || doc.versions.length < 2) return null;
    const ul = el('ul', { class: 'versions' });
    for (const v of doc.versions.slice().reverse()) {
      ul.append(el('li', { 'data-version': v.version },
        el('span', { text: 'v' + v.version + (v.revision ? ' (' + v.revision + ')' : '') + ' · ' + v.name + ' · ' + t('status.' + v.status) + ' · ' + date(v.created_at) }),
        el('a', { href: '/api/documents/' + doc.id + '/original?download=1&v=' + v.version, text: t('desk.download') }),
        v.status === 'archived' ? el('button', { type: 'button', class: 'revert', text: t('desk.make_live'), onclick: async () => {
          try { await api('POST', '/api/documents/' + doc.id + '/revert', { version: v.version }); } catch (e) { alert(e.message); }
          loadDocs();
        } }) : null));
    }
    return el('details', {}, el('summary', { text: doc.versions.length + ' ' + t('desk.versions') }), ul);
  }

  async function loadDeleted() {
    const ul = document.getElementById('deleted');
    let d;
    try { d = await api('GET', '/api/documents?deleted=1'); } catch (e) { return; }
    ul.textContent = '';
    document.getElementById('deleted-card').hidden = !d.documents.length;
    for (const doc of d.documents) {
      ul.append(el('li', { 'data-id': doc.id },
        el('strong', { text: doc.title || doc.name }), el('span', { class: 'meta', text: ' · ' + t('desk.deleted_on') + ' ' + date(doc.deleted_at) }),
        el('button', { type: 'button', class: 'restore', text: t('desk.restore'), onclick: async () => {
          try { await api('POST', '/api/documents/' + doc.id + '/restore'); } catch (e) { alert(e.message); }
          loadDocs();
        } })));
    }
  }

  async function loadDocs() {
    let d;
    loadDeleted();
    try { d = await api('GET', '/api/documents'); } catch (e) { return; }
    tbody.textContent = '';
    for (const doc of d.documents) {
      const actions = el('div', { class: 'actions' },
        el('a', { class: 'button', href: '/api/documents/' + doc.id + '/original?download=1', text: t('desk.download') }),
        doc.kind === 'manual' ? el('button', { type: 'button', text: t('desk.replace'), onclick: () => { replaceId = doc.id; replacePicker.click(); } }) : null,
        el('button', { type: 'button', text: t('desk.reingest'), onclick: async () => { try { await api('POST', '/api/documents/' + doc.id + '/reingest'); } catch (e) { alert(e.message); } loadDocs(); } }),
        el('button', { type: 'button', class: 'danger', text: t('desk.delete'), onclick: async () => {
          if (!confirm(t('desk.confirm_delete') + '\n' + doc.name)) return;
          try { await api('DELETE', '/api/documents/' + doc.id); } catch (e) { alert(e.message); }
          loadDocs();
        } }));
      const status = el('td', { class: 'status-' + doc.status, text: t('status.' + doc.status) + figuresNote(doc) + (doc.error ? ': ' + doc.error : '') });
      if (doc.unread_pages && doc.unread_pages.length) {
        status.append(el('br'), el('small', { class: 'unread', text: t('desk.unread').replace('%s', doc.unread_pages.join(', ')) }));
      }
      // data-label names each cell where a phone shows the row as a card.
      status.dataset.label = t('desk.status');
      tbody.append(el('tr', { 'data-id': doc.id },
        el('td', { class: 'doc' }, el('strong', { text: doc.title || doc.name }), el('br'), el('small', { text: doc.name + (doc.kind === 'note' ? ' · note' : '') })),
        status, el('td', { 'data-label': t('desk.pages'), text: doc.pages || '—' }), el('td', { 'data-label': t('desk.chunks'), text: doc.chunks }),
        el('td', { 'data-label': t('desk.revision') }, el('span', { text: 'v' + doc.version + (doc.revision ? ' (' + doc.revision + ')' : '') }), versions(doc)),
        el('td', { 'data-label': t('desk.uploader'), text: doc.uploader }), el('td', { 'data-label': t('desk.date'), text: date(doc.created_at) }),
        el('td', { class: 'actions-cell' }, actions)));
    }
  }

  const noteForm = document.getElementById('note');
  const noteMsg = document.getElementById('note-msg');
  noteForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(noteForm);
    const body = {}; for (const k of ['title', 'equipment', 'symptom', 'cause', 'fix']) body[k] = f.get(k) || '';
    try {
      await api('POST', '/api/notes', body);
      noteForm.reset();
      noteMsg.textContent = t('desk.note_saved');
      loadDocs();
    } catch (err) { noteMsg.textContent = err.message; }
  });

  // The plant's own words: listed, added and removed here; search applies
  // them within seconds.
  const glossary = document.getElementById('glossary');
  const glossaryForm = document.getElementById('glossary-add');
  const glossaryMsg = document.getElementById('glossary-msg');
  async function loadGlossary() {
    let d;
    try { d = await api('GET', '/api/glossary'); } catch (e) { glossaryMsg.textContent = e.message; return; }
    glossary.textContent = '';
    if (!d.glossary.length) glossary.append(el('li', { class: 'meta', text: t('desk.no_terms') }));
    for (const g of d.glossary) {
      glossary.append(el('li', { 'data-id': g.id },
        el('strong', { text: g.term }), el('span', { text: ' = ' + g.means }),
        el('span', { class: 'meta', text: ' · ' + (g.added_by || '—') + ' · ' + date(g.created) }),
        el('button', { type: 'button', class: 'remove', text: t('desk.remove'), onclick: async () => {
          try { await api('DELETE', '/api/glossary/' + g.id); } catch (e) { glossaryMsg.textContent = e.message; }
          loadGlossary();
        } })));
    }
  }
  glossaryForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(glossaryForm);
    try {
      await api('POST', '/api/glossary', { term: f.get('term'), means: f.get('means') });
      glossaryForm.reset();
      glossaryMsg.textContent = '';
    } catch (err) { glossaryMsg.textContent = err.message; }
    loadGlossary();
  });

  loadDocs();
  loadGlossary();
})();
