// The admin page: users, API tokens and chat bots of the admin's own tenant.
'use strict';
(() => {
  const { api, el, t, date } = Shifu;

  async function loadUsers() {
    const d = await api('GET', '/api/users');
    const tb = document.querySelector('#users tbody'); tb.textContent = '';
    const sel = document.getElementById('token-user'); sel.textContent = '';
    for (const u of d.users) {
      // The role is changed in place; a reset password is shown once.
      const role = el('select', { 'aria-label': t('admin.role'), onchange: async () => {
        try { await api('POST', '/api/users/' + u.ID + '/role', { role: role.value }); } catch (e) { alert(e.message); }
        loadUsers();
      } }, ...['worker', 'supervisor', 'admin'].map((r) => el('option', { value: r, text: t('role.' + r) })));
      role.value = u.Role;
      tb.append(el('tr', { 'data-login': u.Login }, el('td', { 'data-label': t('admin.login'), text: u.Login }),
        el('td', { 'data-label': t('admin.name'), text: u.Name }), el('td', { 'data-label': t('admin.role') }, role),
        el('td', { class: 'actions' }, el('button', { type: 'button', text: u.disabled ? t('admin.enable') : t('admin.disable'), onclick: async () => {
          try { await api('POST', '/api/users/' + u.ID + (u.disabled ? '/enable' : '/disable')); } catch (e) { alert(e.message); }
          loadUsers();
        } }),
        el('button', { type: 'button', class: 'reset-password', text: t('admin.reset_password'), onclick: async () => {
          if (!confirm(t('admin.confirm_reset') + '\n' + u.Login)) return;
          try { const r = await api('POST', '/api/users/' + u.ID + '/password', {}); alert(t('admin.generated') + '\n' + r.password); } catch (e) { alert(e.message); }
        } }))));
      if (!u.disabled) sel.append(el('option', { value: u.ID, text: u.Login }));
    }
  }
  async function loadTokens() {
    const d = await api('GET', '/api/tokens');
    const tb = document.querySelector('#tokens tbody'); tb.textContent = '';
    for (const k of d.tokens) {
      tb.append(el('tr', {}, el('td', { 'data-label': t('admin.user'), text: k.login }), el('td', { 'data-label': t('admin.token_name'), text: k.name }),
        el('td', { 'data-label': t('admin.created'), text: date(k.created_at) }),
        el('td', { 'data-label': t('admin.last_used'), text: k.last_used_at ? date(k.last_used_at) : '—' }),
        el('td', { class: 'actions' }, k.revoked ? el('span', { text: '—' }) : el('button', { type: 'button', text: t('admin.revoke'), onclick: async () => {
          try { await api('DELETE', '/api/tokens/' + k.id); } catch (e) { alert(e.message); }
          loadTokens();
        } }))));
    }
  }
  async function loadBots() {
    const tb = document.querySelector('#bots tbody'); tb.textContent = '';
    let d;
    try { d = await api('GET', '/api/bots'); } catch (e) {
      document.getElementById('bot-form').hidden = e.status === 503;
      tb.append(el('tr', {}, el('td', { text: e.status === 503 ? t('admin.bots_unavailable') : e.message })));
      return;
    }
    if (!d.bots.length) tb.append(el('tr', {}, el('td', { text: t('admin.no_bots') })));
    for (const b of d.bots) {
      tb.append(el('tr', {}, el('td', { 'data-label': t('admin.platform'), text: b.platform === 'dingtalk' ? t('admin.dingtalk') : 'Slack' }),
        el('td', { 'data-label': t('admin.external'), text: b.external_id }),
        el('td', { 'data-label': t('admin.created'), text: date(b.created_at) }),
        el('td', { class: 'actions' }, el('button', { type: 'button', text: t('admin.remove'), onclick: async () => {
          if (!confirm(t('admin.confirm_remove_bot'))) return;
          try { await api('DELETE', '/api/bots/' + b.id); } catch (e) { alert(e.message); }
          loadBots(); loadAudit();
        } }))));
    }
  }
  // The fields' labels follow the platform: team id / signing secret / bot
  // token for Slack, AppKey / AppSecret (no token) for DingTalk.
  function botPlatform() {
    const slack = document.getElementById('bot-platform').value === 'slack';
    document.getElementById('bot-external-label').textContent = t(slack ? 'admin.bot_team' : 'admin.bot_app_key');
    document.getElementById('bot-secret-label').textContent = t(slack ? 'admin.bot_signing' : 'admin.bot_app_secret');
    const tok = document.getElementById('bot-token-field');
    tok.hidden = !slack;
    tok.querySelector('input').required = slack;
    if (!slack) tok.querySelector('input').value = '';
  }
  // T is a catalog text or '' (t echoes unknown keys).
  const T = (k) => (t(k) === k ? '' : t(k));
  // detail says what an audit entry touched in words, not JSON: the names
  // and values a person reads (a document's name and version, a question,
  // a login), ids only when there is nothing else.
  function detail(d) {
    if (!d) return '';
    const parts = [];
    if (d.name) parts.push(d.name + (d.version ? ' v' + d.version : ''));
    if (d.title) parts.push('“' + d.title + '”');
    if (d.question) parts.push('“' + d.question + '”');
    for (const k of ['login', 'role', 'platform', 'ip', 'via']) if (d[k]) parts.push(d[k]);
    if (!parts.length) for (const [k, v] of Object.entries(d)) if (typeof v !== 'object') parts.push(k.replace('_', ' ') + ' ' + v);
    return parts.join(' · ');
  }
  async function loadAudit() {
    const d = await api('GET', '/api/audit');
    const ul = document.getElementById('audit'); ul.textContent = '';
    for (const a of d.audit) {
      ul.append(el('li', {}, el('span', { class: 'when', text: date(a.created_at) }), ' · ', el('strong', { text: a.login || 'cli' }),
        ' ' + (T('audit.' + a.action) || a.action), detail(a.detail) ? el('span', { class: 'detail', text: ' · ' + detail(a.detail) }) : null));
    }
  }

  document.getElementById('user-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const msg = document.getElementById('user-msg');
    try {
      const r = await api('POST', '/api/users', { login: f.get('login'), name: f.get('name'), role: f.get('role'), password: f.get('password') });
      msg.textContent = r.password ? t('admin.generated') + ' ' + r.password : '';
      e.target.reset(); loadUsers(); loadAudit();
    } catch (err) { msg.textContent = err.message; }
  });
  document.getElementById('token-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const msg = document.getElementById('token-msg');
    try {
      const r = await api('POST', '/api/tokens', { user_id: Number(f.get('user_id')), name: f.get('name') });
      msg.textContent = t('admin.token_once') + ' ' + r.token;
      loadTokens(); loadAudit();
    } catch (err) { msg.textContent = err.message; }
  });
  document.getElementById('bot-platform').addEventListener('change', botPlatform);
  document.getElementById('bot-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const msg = document.getElementById('bot-msg');
    try {
      await api('POST', '/api/bots', { platform: f.get('platform'), external_id: f.get('external_id'), secret: f.get('secret'), token: f.get('token') || '' });
      msg.textContent = t('admin.bot_added');
      e.target.reset(); botPlatform(); loadBots(); loadAudit();
    } catch (err) { msg.textContent = err.message; }
  });
  botPlatform();
  loadUsers(); loadTokens(); loadBots(); loadAudit();
})();
