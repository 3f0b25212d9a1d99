/* kerbgate's management pages: the login, then one view per page, each
 * filled from the JSON routes of docs/api.md.  No external code. */
'use strict';

let csrf = '';
let timer = null;
let lastMetrics = null;

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function badge(text, kind) { return el('span', text, 'badge ' + (kind || '')); }

function row(cells) {
  const tr = el('tr');
  for (const c of cells) {
    const td = el('td');
    if (c instanceof Node) td.appendChild(c); else td.textContent = c === undefined || c === null ? '' : String(c);
    tr.appendChild(td);
  }
  return tr;
}

function fill(tbody, rows, empty, ncols) {
  tbody.replaceChildren();
  if (!rows.length) {
    const td = el('td', empty, 'hint');
    td.colSpan = ncols;
    const tr = el('tr');
    tr.appendChild(td);
    tbody.appendChild(tr);
    return;
  }
  for (const r of rows) tbody.appendChild(r);
}

function pairs(dl, list) {
  dl.replaceChildren();
  for (const [k, v] of list) {
    dl.appendChild(el('dt', k));
    const dd = el('dd');
    if (v instanceof Node) dd.appendChild(v); else dd.textContent = v === undefined || v === null ? '–' : String(v);
    dl.appendChild(dd);
  }
}

function say(id, text, ok) {
  const m = $(id);
  m.textContent = text || '';
  m.className = 'msg ' + (text ? (ok ? 'ok' : 'err') : '');
}

function duration(s) {
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  if (d) return d + ' d ' + h + ' h';
  if (h) return h + ' h ' + m + ' min';
  return m + ' min ' + (s % 60) + ' s';
}

function utc(epoch) {
  if (!epoch) return '–';
  return new Date(epoch * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');
}

function mib(n) { return (n / 1048576).toFixed(1) + ' MiB'; }

/* Every request: same origin, the CSRF token on changes. */
async function api(method, path, body, type) {
  const opt = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') opt.headers['X-CSRF-Token'] = csrf;
  if (body !== undefined) {
    opt.body = type ? body : JSON.stringify(body);
    opt.headers['Content-Type'] = type || 'application/json';
  }
  const r = await fetch(path, opt);
  let j;
  try { j = await r.json(); } catch (e) { j = { ok: false, message: 'the appliance answered ' + r.status }; }
  if (r.status === 401 && !path.startsWith('/api/v1/web/')) { await start(); }
  j.status = r.status;
  return j;
}

/* ---- views ------------------------------------------------------------------ */

function show(name) {
  for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== 'view-' + name;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.page === name);
  $('top').hidden = name === 'login' || name === 'setup';
  if (timer) { clearInterval(timer); clearTimeout(timer); timer = null; }
}

const pages = {
  dashboard: async () => { lastMetrics = null; await dashboard(); timer = setInterval(dashboard, 3000); },
  credentials: () => credentials(),
  firmware: () => firmwareLoop(++fwLoops),
  audit: () => audit(),
  settings: () => settings(),
};

async function route() {
  const name = (location.hash || '#dashboard').slice(1);
  const page = pages[name] ? name : 'dashboard';
  show(page);
  await pages[page]();
}

async function start() {
  const s = await api('GET', '/api/v1/web/session');
  $('host').textContent = location.hostname;
  if (s.setup_required) { show('setup'); $('setup-code').focus(); return; }
  if (!s.logged_in) { show('login'); $('login-password').focus(); return; }
  csrf = s.csrf;
  await route();
}

/* ---- dashboard ------------------------------------------------------------- */

function slotSummary(fw) {
  if (fw.rauc && fw.rauc.booted) return 'slot ' + fw.rauc.booted;
  const m = /booted:\s+(\S+)/.exec(fw.bootstate || '');
  return m ? 'slot ' + m[1] : 'no slots (not an appliance image)';
}

async function dashboard() {
  const s = await api('GET', '/api/v1/status');
  if (!s.ok) { say('d-msg', s.message); return; }
  say('d-msg', '');
  const fw = s.firmware || {};
  pairs($('d-firmware'), [['Version', fw.version], ['Running', slotSummary(fw)],
    ['Slots', fw.rauc ? (fw.rauc.slots || []).length + ' (RAUC)' : (fw.rauc_error ? 'RAUC: ' + fw.rauc_error.split('\n')[0] : 'RAUC not installed')]]);
  pairs($('d-uptime'), [['System', duration(s.uptime.system_s)], ['Management service', duration(s.uptime.mgmtd_s)]]);
  const c = s.credentials || {};
  pairs($('d-cred'), c.error ? [['Keyholder', c.error]] : [['Account', c.account], ['Active kvno', c.active_kvno || 'none'],
    ['Last rotation', utc(c.last_rotation)], ['Kvnos held', (c.kvnos || []).map((k) => k.kvno + ' ' + k.state).join(', ')]]);
  const m = s.metrics || {};
  if (m.error) {
    for (const id of ['d-authrate', 'd-failrate', 'd-authtotal', 'd-conns']) $(id).textContent = '–';
    fill($('d-failures'), [], m.error, 3);
    fill($('d-backends'), [], m.error, 3);
  } else {
    const failTotal = Object.values(m.auth_failures_total).reduce((a, b) => a + b, 0);
    const prev = lastMetrics;
    const dt = prev ? (m.at_ms - prev.at_ms) / 1000 : 0;
    const rate = (now, before) => (dt > 0 ? Math.max(0, (now - before) / dt).toFixed(1) : '…');
    $('d-authrate').textContent = prev ? rate(m.auth_success_total, prev.auth_success_total) : '…';
    $('d-failrate').textContent = prev ? rate(failTotal, prev.failTotal) : '…';
    $('d-authtotal').textContent = m.auth_success_total;
    $('d-conns').textContent = m.connections_open;
    const reasons = Object.keys(m.auth_failures_total).filter((r) => m.auth_failures_total[r] > 0).sort();
    fill($('d-failures'), reasons.map((r) => {
      const tr = row([r, m.auth_failures_total[r], prev ? rate(m.auth_failures_total[r], prev.auth_failures_total[r] || 0) : '…']);
      tr.children[1].className = tr.children[2].className = 'num';
      tr.dataset.reason = r;
      return tr;
    }), 'no failed authentication', 3);
    fill($('d-backends'), m.backends.map((b) => row([b.pool, b.server, badge(b.up ? 'up' : 'down', b.up ? 'ok' : 'bad')])),
      'no back-end servers', 3);
    lastMetrics = Object.assign({ failTotal }, m);
  }
  rc4Warning($('d-rc4'), m);
  const v = s.vhosts || {};
  fill($('d-vhosts'), (v.vhosts || []).map((h) => row([[h.name].concat(h.aliases || []).join(', '),
    (h.spns || []).join(', '), [...new Set(h.pools)].join(', ')])), v.error || 'no virtual hosts', 3);
}

/* ---- credentials ------------------------------------------------------------ */

/* Tickets are RC4 when the ASA account has no AES enctype in AD, whatever
 * keys the appliance holds: kerbgated counts such logins. */
function rc4Warning(box, m, active) {
  const n = (m && m.auth_rc4_total) || 0;
  const rc4only = active && active.enctypes.every((e) => /rc4|arcfour/.test(e));
  let text = '';
  if (rc4only) {
    text = 'The active credential (kvno ' + active.kvno + ') has only an RC4 key: every ticket will be RC4. ';
  }
  if (n > 0) {
    text += n + ' login' + (n === 1 ? '' : 's') + ' since kerbgated started used an RC4 ticket: the ASA account ' +
      'does not offer AES. Set msDS-SupportedEncryptionTypes to AES (0x18) on it, then roll its password.';
  }
  box.hidden = !text;
  box.textContent = text;
}

const stateKind = { active: 'ok', verified: 'info', staged: '', retained: '', retiring: '' };

async function kvnoAction(path, kvno) {
  say('c-msg', 'asking the keyholder…', true);
  const r = await api('POST', path, { kvno });
  say('c-msg', r.message, r.ok);
  await credentials(true);
}

/* The SPNs of every virtual host, once each: what the ASA keys must serve. */
function spnList(s) {
  const all = ((s.vhosts || {}).vhosts || []).flatMap((h) => h.spns || []);
  return [...new Set(all)].join(', ');
}

async function credentials(keepMsg) {
  const r = await api('GET', '/api/v1/credentials');
  if (!keepMsg) say('c-msg', '');
  if (!r.ok) { say('c-msg', r.message); fill($('c-kvnos'), [], 'the credential store cannot be read', 6); return; }
  const c = r.credentials;
  $('c-account').textContent = c.account || '';
  const active = (c.kvnos || []).find((k) => k.state === 'active');
  const s = await api('GET', '/api/v1/status');
  rc4Warning($('c-rc4'), s.metrics, active);
  $('c-spns').textContent = spnList(s) || 'none configured (kerbgated.json)';
  fill($('c-kvnos'), (c.kvnos || []).map((k) => {
    const act = el('td');
    const btn = (label, path) => {
      const b = el('button', label, 'small ghost');
      b.type = 'button';
      b.addEventListener('click', () => kvnoAction(path, k.kvno));
      act.appendChild(b);
    };
    if (k.state === 'staged') btn('Verify', '/api/v1/credentials/staged/verify');
    if (k.state === 'verified') btn('Activate', '/api/v1/credentials/staged/activate');
    if (k.state !== 'active') btn('Retire', '/api/v1/credentials/retire');
    const tr = row([k.kvno, badge(k.state, stateKind[k.state]), k.since_utc || utc(k.since),
      k.enctypes.join(', '), k.retire_after ? utc(k.retire_after) : '–']);
    tr.children[0].className = 'num';
    tr.appendChild(act);
    return tr;
  }), 'no credential yet: import a keytab', 6);
}

/* ---- firmware ------------------------------------------------------------------- */

let uploading = false;

function slotRows(rauc) {
  const rows = [];
  for (const s of (rauc && rauc.slots) || []) {
    for (const [name, v] of Object.entries(s)) {
      if (v.class !== 'rootfs') continue;
      const b = (v.slot_status && v.slot_status.bundle) || {};
      rows.push(row([name, v.bootname || '', b.version || '–', badge(v.state, v.state === 'booted' ? 'ok' : ''),
        badge(v.boot_status || '–', v.boot_status === 'good' ? 'ok' : (v.boot_status === 'bad' ? 'bad' : ''))]));
    }
  }
  return rows;
}

async function firmware() {
  const f = await api('GET', '/api/v1/firmware');
  if (!f.ok) { say('f-msg', f.message); return; }
  pairs($('f-running'), [['Version', f.version || 'unknown'], ['Booted', f.rauc ? 'slot ' + f.rauc.booted : 'no slots here'],
    ['Compatible', f.rauc ? f.rauc.compatible : '–']]);
  fill($('f-slots'), slotRows(f.rauc), f.rauc_error ? 'no RAUC slots on this system: ' + f.rauc_error.split('\n')[0] : 'no slots', 5);
  $('f-bootstate').textContent = f.bootstate || '';
  $('f-switch').disabled = $('f-reboot').disabled = !f.slots_present;
  $('f-space').textContent = f.free !== undefined ? 'Bundles go to ' + f.upload_dir + ': ' + mib(f.free) + ' free, at most ' +
    mib(f.max_upload) + ' a bundle.' : '';
  if (!uploading && f.size) {	/* the last upload, from this page or another */
    $('f-up').value = 100 * f.received / f.size;
    $('f-up-text').textContent = mib(f.received) + ' of ' + mib(f.size);
  }
  if (f.state === 'installing' || f.state === 'installed') {
    $('f-inst').value = f.progress;
    $('f-inst-text').textContent = f.progress + ' % ' + (f.step || '');
  }
  $('f-install').disabled = f.state !== 'ready' || !f.slots_present;
  $('f-install').title = f.slots_present ? '' : 'this system has no RAUC slots: the bundle is only checked';
  if (!uploading && f.message) say('f-msg', (f.reason ? 'Refused (' + f.reason + '): ' : '') + f.message, f.state !== 'failed');
  if (!uploading) $('f-details').textContent = f.details || '';
  return f.state;
}

/* Every 2 s; while RAUC checks or installs, every half second, so that its
   steps show even when they are quick. */
let fwLoops = 0;	/* one loop: a newer visit ends an older one */
async function firmwareLoop(n) {
  const state = await firmware();
  if (n !== fwLoops || (location.hash || '#dashboard') !== '#firmware') return;
  timer = setTimeout(() => firmwareLoop(n), state === 'installing' || state === 'checking' ? 500 : 2000);
}

function upload(file) {
  return new Promise((resolve) => {
    const x = new XMLHttpRequest();
    x.open('POST', '/api/v1/firmware/bundle');
    x.setRequestHeader('X-CSRF-Token', csrf);
    x.setRequestHeader('Content-Type', 'application/octet-stream');
    x.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      $('f-up').value = 100 * e.loaded / e.total;
      $('f-up-text').textContent = mib(e.loaded) + ' of ' + mib(e.total);
    };
    x.upload.onload = () => say('f-msg', 'Received: RAUC checks its signature…', true);
    x.onload = () => { let j; try { j = JSON.parse(x.responseText); } catch (e) { j = { ok: false, message: 'answer ' + x.status }; } resolve(j); };
    x.onerror = () => resolve({ ok: false, message: 'the upload was cut short (network): nothing was changed' });
    x.send(file);
  });
}

/* ---- audit ---------------------------------------------------------------------- */

async function audit() {
  const r = await api('GET', '/api/v1/audit');
  fill($('a-rows'), (r.entries || []).map((e) => {
    const tr = row([e.when.replace('T', ' ').replace('Z', ''), e.who, e.action, e.kvno || '', e.result]);
    tr.children[3].className = 'num';
    tr.children[4].className = /^(refused|failed|not )/.test(e.result) ? 'msg err' : '';
    return tr;
  }), r.ok ? 'nothing logged yet' : r.message, 5);
}

/* ---- settings -------------------------------------------------------------------- */

async function settings() {
  const r = await api('GET', '/api/v1/web/certificate');
  if (!r.ok) { say('s-msg', r.message); return; }
  const c = r.certificate;
  pairs($('s-cert'), [['Subject', c.subject], ['Issuer', c.self_signed ? 'itself (self-signed: made at the first start)' : c.issuer],
    ['Valid until', c.not_after.replace('T', ' ').replace('Z', ' UTC')], ['SHA-256', el('span', c.sha256, 'mono')]]);
}

/* ---- wiring ---------------------------------------------------------------------- */

window.addEventListener('hashchange', () => { if (csrf) route(); });

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const r = await api('POST', '/api/v1/web/login', { password: $('login-password').value });
    $('login-password').value = '';
    if (!r.ok) { say('login-msg', r.message); return; }
    say('login-msg', '');
    csrf = r.csrf;
    await route();
  });
  $('setup-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    if ($('setup-password').value !== $('setup-password2').value) { say('setup-msg', 'the two passwords differ'); return; }
    const r = await api('POST', '/api/v1/web/setup', { code: $('setup-code').value, password: $('setup-password').value });
    if (!r.ok) { say('setup-msg', r.message); return; }
    $('setup-password').value = $('setup-password2').value = '';
    csrf = r.csrf;
    location.hash = '#dashboard';
    await route();
  });
  $('logout').addEventListener('click', async () => {
    await api('POST', '/api/v1/web/logout', {});
    csrf = '';
    show('login');
    say('login-msg', 'logged out', true);
  });
  $('keytab-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = $('keytab-file').files[0];
    if (!f) return;
    say('c-msg', 'staging…', true);
    const r = await api('POST', '/api/v1/credentials/keytab', await f.arrayBuffer(), 'application/octet-stream');
    say('c-msg', r.message, r.ok);
    await credentials(true);
  });
  $('fw-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = $('fw-file').files[0];
    if (!f) return;
    uploading = true;
    $('f-inst').value = 0;
    $('f-inst-text').textContent = '';
    say('f-msg', 'uploading ' + f.name + '…', true);
    const r = await upload(f);
    uploading = false;
    say('f-msg', r.ok ? r.message : (r.reason ? 'Refused (' + r.reason + '): ' : '') + r.message, r.ok);
    $('f-details').textContent = r.details || '';
    await firmware();
  });
  $('f-install').addEventListener('click', async () => {
    const r = await api('POST', '/api/v1/firmware/install', {});
    say('f-msg', r.message, r.ok);
  });
  $('f-reboot').addEventListener('click', async () => {
    if (!confirm('Reboot the appliance now?')) return;
    const r = await api('POST', '/api/v1/firmware/reboot', {});
    say('f-msg', r.message, r.ok);
  });
  $('f-switch').addEventListener('click', async () => {
    const r = await api('POST', '/api/v1/firmware/switch', {});
    say('f-msg', r.message, r.ok);
    await firmware();
  });
  $('cert-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const r = await api('PUT', '/api/v1/web/certificate', { certificate: await $('cert-file').files[0].text(),
      key: await $('key-file').files[0].text() });
    say('s-msg', r.ok ? r.message + ' (SHA-256 ' + r.sha256 + ')' : r.message, r.ok);
    if (r.ok) await settings();
  });
  start();
});
