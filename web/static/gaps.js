// The knowledge gaps page: answer a gap as a note (the worker who asked is
// told), dismiss one (undone from the dismissed list), merge similar ones.
'use strict';
(() => {
  const { api, el, t, date } = Shifu;
  const list = document.getElementById('gaps');
  const msg = document.getElementById('gaps-msg');
  const noteForm = document.getElementById('note');
  const noteCard = document.getElementById('note-card');

  const act = (url, body) => async () => {
    msg.textContent = '';
    try { await api('POST', url, body); } catch (e) { msg.textContent = e.message; }
    load();
  };

  function meta(g) {
    const reasons = g.reasons.map((r) => t('desk.' + r)).join(', ');
    return el('div', { class: 'meta', text: reasons + ' · ' + t('desk.asked') + ' ' + g.count + ' ' + t('desk.times') + ' · ' + date(g.latest) });
  }
  function wordings(g) {
    const other = (g.questions || []).filter((q) => q !== g.question);
    return other.length ? el('div', { class: 'meta also', text: t('gaps.also') + ': ' + other.join(' · ') }) : null;
  }

  async function load() {
    let d;
    try { d = await api('GET', '/api/gaps'); } catch (e) { msg.textContent = e.message; return; }
    list.textContent = '';
    if (!d.gaps.length) list.append(el('li', { text: t('desk.no_gaps') }));
    for (const g of d.gaps) {
      list.append(el('li', { 'data-id': g.id },
        el('label', { class: 'pick' }, el('input', { type: 'checkbox', class: 'select', value: g.id, 'aria-label': t('gaps.select') }),
          el('strong', { text: g.question })),
        wordings(g), meta(g),
        g.answer ? el('div', { class: 'meta', text: t('desk.shifu_said') + ': ' + g.answer.slice(0, 200) }) : null,
        ...g.comments.map((c) => el('div', { class: 'meta', text: '“' + c + '”' })),
        el('div', { class: 'actions' },
          el('button', { type: 'button', class: 'primary answer-gap', text: t('desk.answer_gap'), onclick: () => {
            noteCard.hidden = false;
            noteForm.elements.title.value = g.question;
            noteForm.elements.symptom.value = g.question;
            document.getElementById('gap-id').value = g.id;
            noteCard.scrollIntoView();
            noteForm.elements.fix.focus();
          } }),
          el('button', { type: 'button', class: 'dismiss', text: t('gaps.dismiss'), onclick: act('/api/gaps/' + g.id + '/dismiss') }))));
    }
    loadDismissed();
  }

  async function loadDismissed() {
    let d;
    try { d = await api('GET', '/api/gaps?state=dismissed'); } catch (e) { return; }
    const ul = document.getElementById('dismissed');
    ul.textContent = '';
    document.getElementById('dismissed-card').hidden = !d.gaps.length;
    for (const g of d.gaps) {
      ul.append(el('li', { 'data-id': g.id }, el('strong', { text: g.question }), wordings(g),
        el('div', { class: 'meta', text: t('gaps.dismissed_by') + ' ' + (g.dismissed_by || '—') + ' · ' + date(g.dismissed_at) }),
        el('div', { class: 'actions' }, el('button', { type: 'button', class: 'reopen', text: t('gaps.reopen'), onclick: act('/api/gaps/' + g.id + '/reopen') }))));
    }
  }

  // Merge: the selected gaps become one with the first (newest) selected.
  document.getElementById('merge').addEventListener('click', () => {
    const ids = Array.from(list.querySelectorAll('input.select:checked')).map((c) => Number(c.value));
    if (ids.length < 2) { msg.textContent = t('gaps.merge_need'); return; }
    act('/api/gaps/' + ids[0] + '/merge', { ids: ids.slice(1) })();
  });

  noteForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(noteForm);
    const body = {}; for (const k of ['title', 'equipment', 'symptom', 'cause', 'fix']) body[k] = f.get(k) || '';
    const noteMsg = document.getElementById('note-msg');
    try {
      await api('POST', '/api/gaps/' + f.get('gap_id') + '/note', body);
      noteForm.reset(); noteCard.hidden = true;
      msg.textContent = t('desk.note_saved');
      load();
    } catch (err) { noteMsg.textContent = err.message; }
  });

  load();
})();
