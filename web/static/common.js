// Shared helpers for Shifu's pages. No inline script anywhere: the CSP allows
// only these files. Text from the server is set with textContent; the one
// place HTML is inserted is an answer the server already sanitised.
'use strict';
const Shifu = (() => {
  const csrf = () => (document.querySelector('meta[name="csrf"]') || {}).content || '';
  let T = {};
  try { T = JSON.parse(document.getElementById('i18n').textContent); } catch (e) { T = {}; }
  const t = (k) => T[k] || k;
  const lang = document.documentElement.lang || 'en';

  async function api(method, url, body) {
    const opt = { method, headers: { 'X-CSRF-Token': csrf() }, credentials: 'same-origin' };
    if (body instanceof FormData) { opt.body = body; }
    else if (body !== undefined) { opt.body = JSON.stringify(body); opt.headers['Content-Type'] = 'application/json'; }
    const r = await fetch(url, opt);
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (!r.ok && !(data && data.files)) {
      const err = new Error((data && data.error) || (r.status + ' ' + r.statusText));
      err.status = r.status; throw err;
    }
    return data;
  }

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v);
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  }

  // page labels a page or range as the language writes it: "p. 175", "第 175 页".
  const page = (n) => t('chat.page_n').replace('{n}', n);

  function date(s) { try { return new Date(s).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB'); } catch (e) { return s; } }

  return { api, el, t, lang, csrf, date, page };
})();
