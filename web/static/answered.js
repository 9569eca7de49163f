// On the chat page: the worker's questions that a supervisor's note now
// answers, shown on their next visit until they mark them seen.
'use strict';
(() => {
  const { api, el, t, date } = Shifu;
  const box = document.getElementById('answered');
  if (!box) return;

  async function load() {
    let d;
    try { d = await api('GET', '/api/me/answered'); } catch (e) { return; }
    box.textContent = '';
    box.hidden = !d.answered.length;
    if (!d.answered.length) return;
    box.append(el('strong', { text: t('answered.title') }));
    const ul = el('ul', {});
    for (const a of d.answered) {
      const seen = async () => {
        try { await api('POST', '/api/me/answered/seen', { ids: a.ids }); } catch (e) { /* shown again next time */ }
      };
      const li = el('li', { 'data-note': a.note_id },
        el('div', { class: 'q', text: '“' + a.question + '”' }),
        el('div', { class: 'meta', text: t('answered.note') + ' “' + a.note_title + '”' + (a.author ? ' · ' + a.author : '') + ' · ' + date(a.answered_at) }),
        el('div', { class: 'actions' },
          el('a', { class: 'button primary open-note', href: '/documents/' + a.note_id, onclick: seen, text: t('answered.open') }),
          el('button', { type: 'button', class: 'ask-again', text: t('answered.ask'), onclick: async () => {
            await seen(); li.remove(); box.hidden = !ul.children.length;
            const q = document.getElementById('question'); q.value = a.question; q.focus();
          } }),
          el('button', { type: 'button', class: 'ghost seen', text: t('answered.ok'), onclick: async () => {
            await seen(); li.remove(); box.hidden = !ul.children.length;
          } })));
      ul.append(li);
    }
    box.append(ul);
  }
  load();
})();
