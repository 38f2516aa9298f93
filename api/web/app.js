// tradechain web app. One page, no build step, no dependency: it calls the node's own
// REST API (/v1) with the session cookie set at sign-in, and sends the session's CSRF
// token with every change. Every refusal shown is the API's own message; the page never
// decides what an organisation may do (the buttons it shows are a convenience, the API
// decides). Data is put in the page as text, never as HTML.
'use strict';

const LOCALE = navigator.language || 'en';
const S = { session: null, orgs: new Map(), events: null, dirty: false, renderTimer: null, holidays: new Map() };
const DOC_TYPES = ['commercial_invoice', 'packing_list', 'bill_of_lading', 'certificate_of_origin', 'inspection_certificate', 'insurance_certificate'];
const INCOTERMS = ['EXW', 'FCA', 'CPT', 'CIP', 'DAP', 'DPU', 'DDP', 'FAS', 'FOB', 'CFR', 'CIF'];
const EVENTS = ('AdvanceAcknowledged AdvancePaid AmendmentApproved AmendmentProposed AttestersNamed CancellationRequested ' +
  'ChargesAgreed ConsentGranted ConsentRevoked DisputeRaised DisputeResolved DocumentAccepted DocumentAttested ' +
  'DocumentRejected DocumentSubmitted FinancingAccepted FinancingApproved FinancingCancellationRequested FinancingCancelled ' +
  'FinancingDeclined FinancingDefaulted FinancingLapsed FinancingLive FinancingOffered FinancingSettled FinancingWithdrawn ' +
  'MilestoneDefined MilestoneTriggered OrderAccepted OrderAmended OrderCancelled OrderCommitted OrderCompleted OrderExpired ' +
  'OrderProposed OrderRejected PayerChanged PaymentConfirmed PaymentDefaulted PaymentDue PaymentFailed ProceedsAssigned ' +
  'RepaymentConfirmed RepaymentDue RepaymentScheduled VerificationDeclined VerificationRequested VerificationWithdrawn lagged').split(' ');

// ---------------------------------------------------------------- DOM and formatting

function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

function exponent(currency) {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
  } catch (_) {
    return 2;
  }
}

/** Minor units (a decimal string) as money in the user's locale, by the currency's exponent. */
function money(minor, currency) {
  let n;
  try { n = BigInt(minor); } catch (_) { return `${minor} ${currency}`; }
  const e = exponent(currency);
  const neg = n < 0n;
  if (neg) n = -n;
  const scale = 10n ** BigInt(e);
  const whole = n / scale;
  const frac = (n % scale).toString().padStart(e, '0');
  let fmt;
  try { fmt = new Intl.NumberFormat(LOCALE, { style: 'currency', currency, minimumFractionDigits: 0, maximumFractionDigits: 0 }); }
  catch (_) { fmt = new Intl.NumberFormat(LOCALE); }
  const sep = new Intl.NumberFormat(LOCALE).formatToParts(1.5).find((p) => p.type === 'decimal')?.value || '.';
  const parts = fmt.formatToParts(whole);
  let out = '';
  for (const p of parts) {
    out += p.value;
    if (p.type === 'integer' && e > 0 && !parts.slice(parts.indexOf(p) + 1).some((q) => q.type === 'integer' || q.type === 'group')) out += sep + frac;
  }
  return (neg ? '-' : '') + out;
}

/** A major-units amount typed by a person ("240,000.50") as minor units, or an error. */
function toMinor(text, currency) {
  const e = exponent(currency);
  const t = String(text).trim().replace(/[\s,_']/g, '');
  const m = /^(\d+)(?:\.(\d*))?$/.exec(t);
  if (!m) return { error: 'Write the amount as a number, e.g. 240000.00' };
  const frac = m[2] || '';
  if (frac.length > e) return { error: `${currency} has ${e} decimal${e === 1 ? '' : 's'}: ${text} has ${frac.length}` };
  return { minor: (BigInt(m[1]) * 10n ** BigInt(e) + BigInt((frac.padEnd(e, '0')) || '0')).toString() };
}

const dateFmt = new Intl.DateTimeFormat(LOCALE, { dateStyle: 'medium', timeZone: 'UTC' });
const timeFmt = new Intl.DateTimeFormat(LOCALE, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });
function day(unix) { return unix ? dateFmt.format(new Date(Number(unix) * 1000)) : '—'; }
function when(unix) { return unix ? timeFmt.format(new Date(Number(unix) * 1000)) + ' UTC' : '—'; }
function ymd(text) { return text ? dateFmt.format(new Date(text + 'T00:00:00Z')) : '—'; }
function isoDay(date) { return date.toISOString().slice(0, 10); }
function inDays(n) { return isoDay(new Date(Date.now() + n * 86400000)); }
function label(text) { return String(text || '').replace(/_/g, ' '); }
function state(s) { return h('span', { class: `state ${s}` }, label(s)); }
function nameOf(address) {
  if (!address) return '—';
  const o = S.orgs.get(String(address).toLowerCase());
  if (!o) S.unknown = true;
  return o ? o.name : String(address).slice(0, 10) + '…';
}
function me() { return S.session ? S.session.organisation.address.toLowerCase() : ''; }
function hasRole(r) { return S.session && S.session.organisation.roles.includes(r); }
function isMe(address) { return !!address && String(address).toLowerCase() === me(); }

// ---------------------------------------------------------------- the API

async function api(method, path, body, raw) {
  const headers = {};
  const init = { method, headers, credentials: 'same-origin' };
  if (method !== 'GET' && S.session) headers['X-CSRF-Token'] = S.session.csrf;
  if (raw) {
    init.body = raw.body;
    headers['Content-Type'] = raw.type || 'application/octet-stream';
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    return { ok: false, status: 0, error: { code: 'NETWORK', message: `The node could not be reached: ${e.message}` } };
  }
  let data = null;
  const type = res.headers.get('content-type') || '';
  if (type.includes('json')) data = await res.json().catch(() => null);
  if (res.ok) return { ok: true, status: res.status, data };
  const error = (data && data.error) || { code: `HTTP_${res.status}`, message: res.statusText };
  if (res.status === 401 && S.session && path !== '/app/session') {
    S.session = null;
    flash(`Your session ended (${error.message}). Sign in again.`, 'error');
    render();
  }
  return { ok: false, status: res.status, error, data };
}

function flash(message, kind) {
  const box = document.getElementById('flash');
  box.replaceChildren(h('p', { class: kind || 'ok', text: message }));
  if (kind !== 'error') setTimeout(() => { if (box.firstChild && box.firstChild.textContent === message) box.replaceChildren(); }, 6000);
}

/** A button that calls the API; shows the API's refusal next to it, re-renders on success. */
function action(text, call, opts) {
  const o = opts || {};
  const msg = h('span', { class: 'error', role: 'alert' });
  const btn = h('button', { type: 'button', class: o.class || null, onclick: async () => {
    btn.disabled = true;
    msg.textContent = '';
    const r = await call();
    btn.disabled = false;
    if (r && !r.ok) { msg.textContent = r.error.message; msg.dataset.code = r.error.code; return; }
    S.dirty = false;
    flash(o.done || `${text}: done`);
    render();
  } }, text);
  return h('span', { class: 'actions' }, btn, msg);
}

/** A form field: label, control, hint and the place its error is shown. */
function field(name, labelText, control, hint) {
  control.id = control.id || `f-${name}`;
  control.name = name;
  const err = h('span', { class: 'error', id: `${control.id}-error`, role: 'alert' });
  const hintEl = hint ? h('span', { class: 'hint', id: `${control.id}-hint`, text: hint }) : null;
  control.setAttribute('aria-describedby', [hintEl ? hintEl.id : null, err.id].filter(Boolean).join(' '));
  control.addEventListener('input', () => { S.dirty = true; });
  return h('div', { class: 'field' }, h('label', { for: control.id, text: labelText }), control, hintEl, err);
}

function input(props) { return h('input', Object.assign({ type: 'text' }, props || {})); }
function select(options, selected, props) {
  return h('select', props || {}, options.map(([value, text]) => h('option', { value, selected: value === selected }, text)));
}

function clearErrors(form) {
  form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
  form.querySelectorAll('.error').forEach((el) => { el.textContent = ''; });
}

/** Show an error next to the field it concerns (or at the form's foot). */
function fieldError(form, name, message, code) {
  const control = name ? form.querySelector(`[name="${name}"]`) : null;
  const target = control ? document.getElementById(`${control.id}-error`) : form.querySelector('.form-error');
  if (control) { control.setAttribute('aria-invalid', 'true'); control.focus(); }
  if (target) { target.textContent = message; if (code) target.dataset.code = code; }
}

function submitForm(form, build, send, fieldOf, done) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const built = build(new FormData(form));
    if (built.error) { fieldError(form, built.field, built.error); return; }
    const btn = form.querySelector('button[type=submit]');
    if (btn) btn.disabled = true;
    const r = await send(built.body);
    if (btn) btn.disabled = false;
    if (!r.ok) { fieldError(form, fieldOf ? fieldOf(r.error.code) : null, r.error.message, r.error.code); return; }
    S.dirty = false;
    done(r);
  });
  return form;
}

// ---------------------------------------------------------------- session and live view

async function loadSession() {
  // A sign-in link (`tradechain demo --serve` prints them) carries a token in its fragment,
  // which never reaches a server. It is taken out of the address bar at once and only fills
  // the sign-in form: a person clicks to sign in, and never while a session is open (else
  // another member could send a link that silently swaps the session for its own).
  takeOfferedToken();
  const r = await api('GET', '/app/session');
  if (r.ok) S.session = r.data;
  refuseOfferedToken();
  if (S.session) await afterSignIn();
}

function takeOfferedToken() {
  const frag = location.hash.match(/^#token=([A-Za-z0-9_]+)/);
  if (frag) {
    history.replaceState(null, '', location.pathname + '#/');
    S.offered = frag[1];
  }
}

function refuseOfferedToken() {
  if (S.session && S.offered) {
    S.offered = null;
    flash(`You are signed in as ${S.session.organisation.name}: sign out first to use another organisation's link.`, 'error');
  }
}

async function loadDirectory() {
  S.orgsAt = Date.now();
  const r = await api('GET', '/v1/organisations');
  if (r.ok) S.orgs = new Map(r.data.map((o) => [o.address.toLowerCase(), o]));
}

async function afterSignIn() {
  await loadDirectory();
  live();
}

function live() {
  if (S.events) S.events.close();
  if (!S.session || !window.EventSource) return;
  const es = new EventSource('/v1/events');
  S.events = es;
  const changed = (ev) => {
    let what = ev.type;
    try { const d = JSON.parse(ev.data); if (d.order_id) what = `order #${d.order_id}: ${label(ev.type)}`; } catch (_) { /* keep the name */ }
    document.getElementById('who').dataset.lastEvent = ev.type;
    if (S.dirty) { flash(`Changed meanwhile: ${what} (your form is kept; reload the page to see it)`); return; }
    clearTimeout(S.renderTimer);
    S.renderTimer = setTimeout(() => render(true), 250);
  };
  EVENTS.forEach((name) => es.addEventListener(name, changed));
  ['suspended', 'revoked'].forEach((name) => es.addEventListener(name, () => { es.close(); S.session = null; render(); }));
}

function header() {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  if (!S.session) { nav.replaceChildren(); who.replaceChildren(); return; }
  const links = [['#/', 'Orders']];
  if (hasRole('trader')) links.push(['#/orders/new', 'New order'], ['#/consents', 'Verification']);
  if (hasRole('bank')) links.push(['#/examine', 'Documents to examine']);
  if (hasRole('carrier') || hasRole('inspector')) links.push(['#/attest', 'To attest']);
  if (hasRole('bank') || hasRole('trader')) links.push(['#/payments', 'Payments']);
  if (hasRole('financier')) links.push(['#/financier', 'Financier']);
  if (hasRole('trader') || hasRole('financier')) links.push(['#/financings', 'Financings']);
  if (hasRole('operator')) links.push(['#/admin', 'Operator']);
  const here = location.hash || '#/';
  nav.replaceChildren(...links.map(([href, text]) => h('a', { href, 'aria-current': here === href ? 'page' : null }, text)));
  const o = S.session.organisation;
  who.replaceChildren(
    h('span', { id: 'who-name' }, h('strong', {}, o.name), ` · ${o.roles.map(label).join(', ')}`),
    h('button', { type: 'button', class: 'secondary', onclick: signOut }, 'Sign out'),
  );
}

async function signOut() {
  await api('DELETE', '/app/session');
  if (S.events) S.events.close();
  S.session = null;
  location.hash = '#/';
  flash('Signed out.');
  render();
}

function signInPage(main) {
  const token = input({ type: 'password', autocomplete: 'off', required: true, value: S.offered || '' });
  S.offered = null;
  const form = h('form', { id: 'signin' },
    h('h1', {}, 'Sign in'),
    h('p', {}, 'Sign in with your organisation\'s API token (the operator issues it; tokens start with tc_).'),
    field('token', 'API token', token),
    h('p', { class: 'error form-error', role: 'alert' }),
    h('button', { type: 'submit' }, 'Sign in'));
  submitForm(form, (d) => ({ body: { token: d.get('token') } }), (b) => api('POST', '/app/session', b), () => 'token', async (r) => {
    S.session = r.data;
    await afterSignIn();
    flash(`Signed in as ${S.session.organisation.name}.`);
    render();
  });
  main.replaceChildren(form);
  token.focus();
}

// ---------------------------------------------------------------- routing

const ROUTES = [
  [/^#?\/?$/, ordersPage],
  [/^#\/orders\/new$/, newOrderPage],
  [/^#\/orders\/(\d+)$/, orderPage],
  [/^#\/examine$/, examinePage],
  [/^#\/attest$/, attestPage],
  [/^#\/payments$/, paymentsPage],
  [/^#\/consents$/, consentsPage],
  [/^#\/financier$/, financierPage],
  [/^#\/financings$/, financingsPage],
  [/^#\/firms\/(0x[0-9a-fA-F]{40})$/, firmPage],
  [/^#\/admin$/, adminPage],
  [/^#\/offer\/(\d+)\/([A-Z]{3})$/, offerPage],
];

let rendering = 0;
async function render(live) {
  const main = document.getElementById('main');
  header();
  if (!S.session) { signInPage(main); return; }
  const hash = location.hash || '#/';
  const route = ROUTES.find(([re]) => re.test(hash));
  const ticket = ++rendering;
  const page = h('div', { id: 'page' });
  try {
    if (!route) { page.append(h('h1', {}, 'Not found'), h('p', {}, 'There is no such page.')); }
    else await route[1](page, ...hash.match(route[0]).slice(1));
  } catch (e) {
    page.replaceChildren(h('h1', {}, 'Something went wrong'), h('p', { class: 'error', text: String(e && e.message || e) }));
  }
  if (ticket !== rendering) return;
  const scroll = window.scrollY;
  // A live re-render keeps what the reader opened (a figure's cited transactions).
  const open = [...main.querySelectorAll('details[open][data-figure]')].map((d) => d.dataset.figure);
  page.querySelectorAll('details[data-figure]').forEach((d) => { if (open.includes(d.dataset.figure)) d.open = true; });
  main.replaceChildren(page);
  if (live) window.scrollTo(0, scroll);
  document.body.dataset.rendered = String(ticket);
  // An organisation onboarded since the directory was read: read it again, once a while.
  if (S.unknown && Date.now() - (S.orgsAt || 0) > 5000) {
    S.unknown = false;
    await loadDirectory();
    render(true);
  }
  S.unknown = false;
}

function notFound(page, r) {
  page.replaceChildren(h('h1', {}, 'Not found'), h('p', { class: 'error', 'data-code': r.error.code, text: r.error.message }));
}

// ---------------------------------------------------------------- orders

function orderTable(items, extra) {
  if (!items.length) return h('p', {}, 'No orders yet.');
  return h('table', {},
    h('thead', {}, h('tr', {}, ['Order', 'Buyer', 'Seller', 'Amount', 'Incoterm', 'Latest shipment', 'State', extra ? '' : null].filter((t) => t !== null).map((t) => h('th', { class: t === 'Amount' ? 'num' : null, scope: 'col' }, t)))),
    h('tbody', {}, items.map((o) => h('tr', { 'data-order': o.id },
      h('td', {}, extra ? `#${o.id}` : h('a', { href: `#/orders/${o.id}` }, `#${o.id}`)),
      h('td', {}, nameOf(o.buyer)), h('td', {}, nameOf(o.seller)),
      h('td', { class: 'num' }, money(o.amount_minor, o.currency)),
      h('td', {}, o.incoterm), h('td', {}, ymd(o.latest_shipment)), h('td', {}, state(o.state)), extra ? h('td', {}, extra(o)) : null))));
}

async function ordersPage(page) {
  page.append(h('h1', {}, 'Orders'));
  if (hasRole('trader')) page.append(h('p', {}, h('a', { href: '#/orders/new' }, 'Propose a new order')));
  const r = await api('GET', '/v1/orders?limit=100');
  if (!r.ok) { page.append(h('p', { class: 'error', text: r.error.message })); return; }
  page.append(orderTable(r.data.items));
}

function newOrderPage(page) {
  page.append(h('h1', {}, 'Propose an order'));
  if (!hasRole('trader')) { page.append(h('p', {}, 'Only a trader proposes orders, as their buyer.')); return; }
  const orgs = [...S.orgs.values()].filter((o) => !o.suspended && !isMe(o.address));
  const pick = (role, optional) => [optional ? [['', '— none —']] : [['', 'Choose…']], orgs.filter((o) => o.roles.includes(role)).map((o) => [o.address, o.name])].flat();
  const milestones = h('div', { id: 'milestones' });
  let count = 0;
  const addMilestone = (share) => {
    const i = count++;
    const docs = h('fieldset', {}, h('legend', {}, 'Documents that trigger it'),
      DOC_TYPES.map((d) => h('label', { style: null }, h('input', { type: 'checkbox', name: `m${i}_doc`, value: d, checked: d === 'bill_of_lading' && i === 0 }), ` ${label(d)} `)));
    milestones.append(h('fieldset', { class: 'milestone', 'data-index': i }, h('legend', {}, `Milestone ${i + 1}`),
      h('div', { class: 'row' },
        field(`m${i}_share`, 'Share of the amount (%)', input({ inputmode: 'decimal', value: share }), 'or leave empty and give an amount'),
        field(`m${i}_amount`, 'Or an amount', input({ inputmode: 'decimal' }), 'in major units'),
        field(`m${i}_tenor`, 'Tenor (days after the documents)', input({ type: 'number', min: 0, max: 360, value: 0 }))),
      docs));
  };
  addMilestone('100');
  const form = h('form', { id: 'new-order', novalidate: true },
    h('fieldset', {}, h('legend', {}, 'Parties'), h('div', { class: 'row' },
      field('seller', 'Seller', select(pick('trader'), '')),
      field('buyer_bank', 'Your bank (buyer\'s bank)', select(pick('bank'), '')),
      field('seller_bank', 'Seller\'s bank', select(pick('bank'), '')),
      field('carrier', 'Carrier (attests the bill of lading)', select(pick('carrier', true), '')),
      field('inspector', 'Inspector (attests the inspection certificate)', select(pick('inspector', true), '')))),
    h('fieldset', {}, h('legend', {}, 'Goods'), h('div', { class: 'row' },
      field('goods', 'Description', input({ value: '' })),
      field('quantity', 'Quantity', input({ inputmode: 'decimal' })),
      field('unit', 'Unit', input({ value: 'kg' })),
      field('port_of_loading', 'Port of loading (UN/LOCODE)', input({ maxlength: 5 })),
      field('port_of_discharge', 'Port of discharge (UN/LOCODE)', input({ maxlength: 5 })))),
    h('fieldset', {}, h('legend', {}, 'Terms'), h('div', { class: 'row' },
      field('currency', 'Currency (ISO 4217)', input({ value: 'USD', maxlength: 3 })),
      field('amount', 'Amount', input({ inputmode: 'decimal' }), 'in major units, e.g. 240000.00'),
      field('incoterm', 'Incoterm (2020)', select(INCOTERMS.map((t) => [t, t]), 'FOB')),
      field('charges', 'Bank charges', select([['shared', 'shared'], ['debtor', 'paid by the buyer'], ['creditor', 'paid by the seller']], 'shared')),
      field('latest_shipment', 'Latest shipment date', input({ type: 'date', value: inDays(30) })),
      field('expiry', 'Expiry date', input({ type: 'date', value: inDays(75) })))),
    h('h2', {}, 'Payment milestones'), milestones,
    h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: () => addMilestone('') }, 'Add a milestone')),
    h('p', { class: 'error form-error', role: 'alert' }),
    h('button', { type: 'submit' }, 'Propose the order'));
  const build = (d) => {
    const currency = String(d.get('currency') || '').trim().toUpperCase();
    const amount = toMinor(d.get('amount'), currency || 'USD');
    if (amount.error) return { field: 'amount', error: amount.error };
    const ms = [];
    for (let i = 0; i < count; i++) {
      const m = { documents: d.getAll(`m${i}_doc`), tenor_days: Number(d.get(`m${i}_tenor`) || 0) };
      const share = String(d.get(`m${i}_share`) || '').trim();
      const amt = String(d.get(`m${i}_amount`) || '').trim();
      if (amt) {
        const a = toMinor(amt, currency || 'USD');
        if (a.error) return { field: `m${i}_amount`, error: a.error };
        m.amount_minor = a.minor;
      } else if (share) {
        const pct = Number(share.replace(',', '.'));
        if (!Number.isFinite(pct)) return { field: `m${i}_share`, error: 'A share is a percentage, e.g. 30' };
        m.share_bps = Math.round(pct * 100);
      } else return { field: `m${i}_share`, error: 'Give a share or an amount' };
      ms.push(m);
    }
    const opt = (k) => { const v = String(d.get(k) || '').trim(); return v || undefined; };
    const details = { line_items: opt('goods') ? [{ description: opt('goods'), quantity: opt('quantity') || '1', unit: opt('unit') || 'unit' }] : [] };
    if (opt('port_of_loading')) details.port_of_loading = opt('port_of_loading').toUpperCase();
    if (opt('port_of_discharge')) details.port_of_discharge = opt('port_of_discharge').toUpperCase();
    return { body: {
      seller: d.get('seller'), buyer_bank: d.get('buyer_bank'), seller_bank: d.get('seller_bank'),
      carrier: opt('carrier'), inspector: opt('inspector'), currency, amount_minor: amount.minor,
      incoterm: d.get('incoterm'), charges: d.get('charges'), latest_shipment: d.get('latest_shipment'), expiry: d.get('expiry'),
      milestones: ms, details } };
  };
  const fieldOf = (code) => ({
    INVALID_AMOUNT: 'amount', AMOUNT_TOO_LARGE: 'amount', MILESTONES_DO_NOT_SUM: 'amount', INVALID_CURRENCY: 'currency',
    INVALID_INCOTERM: 'incoterm', INVALID_DATES: 'expiry', INVALID_ATTESTER: 'carrier', LATE_SHIPMENT: 'latest_shipment',
    INVALID_PORT: 'port_of_loading', INVALID_ADDRESS: 'seller',
  })[code] || null;
  submitForm(form, build, (b) => api('POST', '/v1/orders', b), fieldOf, (r) => {
    flash(`Order #${r.data.id} proposed to ${nameOf(r.data.seller)}.`);
    location.hash = `#/orders/${r.data.id}`;
  });
  page.append(form);
}

function docName(t) { return label(t); }

/** Banking days from now until `unix` (weekends and the bank's declared holidays skipped). */
function bankingDaysLeft(unix, holidays) {
  const end = new Date(Number(unix) * 1000);
  let d = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()));
  let n = 0;
  if (end < d) return -1;
  while (d < end) {
    d = new Date(d.getTime() + 86400000);
    const wd = d.getUTCDay();
    if (wd !== 0 && wd !== 6 && !holidays.has(isoDay(d))) n++;
  }
  return n;
}

async function holidaysOf(bank) {
  if (!S.holidays.has(bank)) {
    const r = await api('GET', `/v1/banks/${bank}/holidays`);
    S.holidays.set(bank, new Set(r.ok ? r.data.holidays.map((x) => x.day) : []));
  }
  return S.holidays.get(bank);
}

async function documentViewer(o, d) {
  const box = h('div', { class: 'viewer' });
  const res = await fetch(`/v1/orders/${o.id}/documents/${d.doc_type}/content`, { credentials: 'same-origin' });
  if (!res.ok) {
    const e = await res.json().catch(() => null);
    box.append(h('p', { class: 'error', text: e && e.error ? e.error.message : res.statusText }));
    return box;
  }
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  if (blob.type.startsWith('image/png') || blob.type.startsWith('image/jpeg')) box.append(h('img', { class: 'doc', src: url, alt: `${docName(d.doc_type)} as presented` }));
  else box.append(h('iframe', { class: 'doc', src: url, title: `${docName(d.doc_type)} as presented`, sandbox: '' }));
  // The download is the server's (an inert attachment under its own sandbox policy), not
  // the blob, which would open as a page of this origin in a new tab.
  box.append(h('p', {}, h('a', { href: `/v1/orders/${o.id}/documents/${d.doc_type}/content` }, 'Download the file')));
  return box;
}

function uploadZone(o, docType) {
  const fileInput = h('input', { type: 'file', id: `upload-${docType}`, accept: '.pdf,.png,.jpg,.jpeg,.tif,.tiff,application/pdf,image/png,image/jpeg,image/tiff' });
  const msg = h('span', { class: 'error', role: 'alert', id: `upload-${docType}-error` });
  const send = async (file) => {
    msg.textContent = 'Uploading…';
    const r = await api('PUT', `/v1/orders/${o.id}/documents/${docType}`, undefined, { body: file, type: file.type || 'application/octet-stream' });
    if (!r.ok) { msg.textContent = r.error.message; msg.dataset.code = r.error.code; return; }
    const doc = (r.data.documents || []).find((x) => x.doc_type === docType);
    flash(`${docName(docType)} presented; hash anchored on chain: ${doc ? doc.hash : ''}`);
    render();
  };
  fileInput.addEventListener('change', () => { if (fileInput.files[0]) send(fileInput.files[0]); });
  const zone = h('div', { class: 'drop', 'data-doc': docType },
    h('label', { for: fileInput.id }, `Drop the ${docName(docType)} here, or choose the file: `), fileInput, msg);
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => { e.preventDefault(); zone.classList.remove('over'); if (e.dataTransfer.files[0]) send(e.dataTransfer.files[0]); });
  return zone;
}

async function orderPage(page, id) {
  const r = await api('GET', `/v1/orders/${id}`);
  if (!r.ok) { notFound(page, r); return; }
  const o = r.data;
  const base = `/v1/orders/${o.id}`;
  page.append(h('h1', {}, `Order #${o.id} `, state(o.state)));
  const detail = o.details || {};
  const goods = (detail.line_items || []).map((l) => `${l.description} (${l.quantity} ${l.unit})`).join('; ');
  page.append(h('dl', { class: 'kv' },
    h('dt', {}, 'Buyer'), h('dd', {}, nameOf(o.buyer)), h('dt', {}, 'Seller'), h('dd', {}, nameOf(o.seller)),
    h('dt', {}, 'Buyer\'s bank'), h('dd', {}, nameOf(o.buyer_bank)), h('dt', {}, 'Seller\'s bank'), h('dd', {}, nameOf(o.seller_bank)),
    o.carrier ? [h('dt', {}, 'Carrier'), h('dd', {}, nameOf(o.carrier))] : null,
    o.inspector ? [h('dt', {}, 'Inspector'), h('dd', {}, nameOf(o.inspector))] : null,
    h('dt', {}, 'Amount'), h('dd', { id: 'order-amount' }, money(o.amount_minor, o.currency)),
    h('dt', {}, 'Paid'), h('dd', { id: 'order-paid' }, money(o.paid_minor, o.currency)),
    h('dt', {}, 'Incoterm'), h('dd', {}, `${o.incoterm} ${detail.port_of_loading || ''}${detail.port_of_discharge ? ' → ' + detail.port_of_discharge : ''}`),
    h('dt', {}, 'Goods'), h('dd', {}, goods || (o.details ? '—' : 'details not held by this node')),
    h('dt', {}, 'Latest shipment'), h('dd', {}, ymd(o.latest_shipment)), h('dt', {}, 'Expiry'), h('dd', {}, ymd(o.expiry)),
    h('dt', {}, 'Bank charges'), h('dd', {}, label(o.charges)), o.cover ? [h('dt', {}, 'Cover'), h('dd', {}, label(o.cover))] : null,
    o.dispute_raised_by ? [h('dt', {}, 'Dispute'), h('dd', { class: 'error' }, `raised by ${nameOf(o.dispute_raised_by)}`)] : null,
    h('dt', {}, 'Details hash'), h('dd', { class: 'hash' }, o.details_hash)));

  // What the signed-in organisation can do now (the API decides; these are its routes).
  const acts = h('div', { id: 'order-actions' });
  if (isMe(o.seller) && o.state === 'proposed') {
    const reason = input({ placeholder: 'reason' });
    acts.append(h('h2', {}, 'Your decision'),
      action('Accept the order', () => api('POST', `${base}/accept`, {}), { done: 'Order accepted.' }),
      h('div', { class: 'actions' }, field('reject_reason', 'Reason to reject', reason),
        action('Reject the order', () => api('POST', `${base}/reject`, { reason: reason.value }), { class: 'danger', done: 'Order rejected.' })));
  }
  if (isMe(o.buyer) && o.state === 'proposed') acts.append(action('Withdraw the proposal', () => api('POST', `${base}/cancel`, {}), { class: 'secondary' }));
  if (isMe(o.buyer_bank) && o.state === 'accepted') {
    const cover = select([['earmark', 'earmark the buyer\'s funds'], ['bank_risk', 'at the bank\'s own risk']], 'earmark');
    acts.append(h('h2', {}, 'Your undertaking'), h('div', { class: 'actions' }, field('cover', 'How the bank covers it', cover),
      action('Commit the undertaking', () => api('POST', `${base}/commit`, { cover: cover.value }), { done: 'Undertaking committed.' })));
  }
  if (o.pending_amendment && (isMe(o.buyer) || isMe(o.seller))) {
    const a = o.pending_amendment;
    const approved = (a.approved_by || []).concat([a.proposer]).some(isMe);
    acts.append(h('h2', {}, 'Amendment'), h('p', {}, `Proposed by ${nameOf(a.proposer)}: latest shipment ${day(a.latest_shipment)}, expiry ${day(a.expiry)}.`),
      approved ? h('p', {}, 'Waiting for the other party.') : action('Approve the amendment', () => api('POST', `${base}/amendments/${a.amendment_id}/approve`, {})));
  }
  if ((isMe(o.buyer) || isMe(o.seller)) && o.state === 'committed') {
    if (!o.dispute_raised_by) {
      const reason = input({});
      acts.append(h('div', { class: 'actions' }, field('dispute_reason', 'Raise a dispute (reason)', reason),
        action('Raise a dispute', () => api('POST', `${base}/disputes`, { reason: reason.value }), { class: 'danger' })));
    } else if (isMe(o.dispute_raised_by)) acts.append(action('Withdraw the dispute', () => api('POST', `${base}/disputes/resolve`, {})));
  }
  page.append(acts);

  // Milestones.
  page.append(h('h2', {}, 'Payment milestones'), h('table', { id: 'milestones' },
    h('thead', {}, h('tr', {}, ['#', 'Amount', 'Documents', 'Tenor', 'Due', 'State', 'Reference'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, o.milestones.map((m) => h('tr', { 'data-milestone': m.index },
      h('td', {}, m.index + 1), h('td', { class: 'num' }, money(m.amount_minor, o.currency)),
      h('td', {}, m.documents.map(docName).join(', ')), h('td', {}, `${m.tenor_days} days`), h('td', {}, day(m.due_date)),
      h('td', {}, state(m.state), m.financing ? ` financed (${label(m.financing.kind)})` : ''), h('td', { class: 'hash' }, m.payment_reference || '—'))))));

  // Documents: what is needed, what was presented, what each party does with them.
  const needed = [...new Set(o.milestones.flatMap((m) => m.documents))];
  const docsBox = h('div', { id: 'documents' }, h('h2', {}, 'Documents'));
  const holidays = await holidaysOf(o.buyer_bank);
  for (const t of needed) {
    const d = o.documents.find((x) => x.doc_type === t);
    const card = h('div', { class: 'card', 'data-doc': t }, h('h3', {}, docName(t), ' ', d ? state(d.state) : h('span', { class: 'state' }, 'not presented')));
    if (d) {
      card.append(h('p', {}, `Version ${d.version}, presented ${when(d.submitted_at)}`, d.attested ? `, attested (shipped ${ymd(d.shipment_date)})` : '', d.deemed ? ', deemed accepted' : ''),
        h('p', {}, 'Hash anchored on chain: ', h('span', { class: 'hash', 'data-hash': d.hash }, d.hash)));
      if (d.state === 'submitted' && d.examine_by) {
        const left = bankingDaysLeft(d.examine_by, holidays);
        card.append(h('p', { class: 'deadline' }, `Examination by ${day(d.examine_by)}: `, left < 0 ? 'period passed' : `${left} banking day${left === 1 ? '' : 's'} left (UCP 600 art. 14(b))`));
      }
      if (d.discrepancies.length) card.append(h('p', { class: 'error' }, `Discrepancies: ${d.discrepancies.join('; ')}`));
      const attester = t === 'bill_of_lading' ? o.carrier : t === 'inspection_certificate' ? o.inspector : null;
      if (attester && isMe(attester) && d.state === 'submitted' && !d.attested) {
        // UCP 600 art. 20(a)(ii), 14(c): shipped on or before the presentation, at most 21 days before.
        if (t === 'bill_of_lading') {
          const shipped = input({ type: 'date', value: isoDay(new Date(d.submitted_at * 1000)) });
          card.append(h('div', { class: 'actions' }, field(`shipment_${t}`, 'On-board (shipment) date', shipped),
            action('Attest', () => api('POST', `${base}/documents/${t}/attest`, { shipment_date: shipped.value }), { done: `${docName(t)} attested.` })));
        } else {
          card.append(action('Attest', () => api('POST', `${base}/documents/${t}/attest`, {}), { done: `${docName(t)} attested.` }));
        }
      }
      if (isMe(o.buyer_bank) && d.state === 'submitted') {
        card.append(await documentViewer(o, d));
        const disc = h('textarea', { rows: 3, cols: 50 });
        card.append(h('div', { class: 'actions' },
          action('Accept the document', () => api('POST', `${base}/documents/${t}/accept`, {}), { done: `${docName(t)} accepted.` }),
          field(`discrepancies_${t}`, 'Discrepancies (one per line)', disc),
          action('Reject with discrepancies', () => api('POST', `${base}/documents/${t}/reject`, { discrepancies: disc.value.split('\n').map((x) => x.trim()).filter(Boolean) }), { class: 'danger' })));
      } else if (isMe(o.buyer) || isMe(o.seller) || isMe(o.seller_bank)) {
        card.append(h('p', {}, h('a', { href: `${base}/documents/${t}/content` }, 'Download')));
      }
    }
    if (isMe(o.seller) && o.state === 'committed' && (!d || d.state === 'rejected')) card.append(uploadZone(o, t));
    docsBox.append(card);
  }
  page.append(docsBox);

  const pay = await api('GET', `${base}/payments`);
  if (pay.ok && pay.data.length) page.append(h('h2', {}, 'Payments'), paymentTable(pay.data));

  page.append(h('h2', {}, 'Timeline'), h('ol', { id: 'timeline' }, o.timeline.map((e) =>
    h('li', { 'data-kind': e.kind }, `${when(e.at)} — ${label(e.kind.replace(/([a-z])([A-Z])/g, '$1_$2')).toLowerCase()} (block ${e.block}) `, h('span', { class: 'hash' }, e.tx_hash.slice(0, 18) + '…')))));
}

function paymentTable(rows) {
  return h('table', { class: 'payments' },
    h('thead', {}, h('tr', {}, ['Order', 'Milestone', 'EndToEndId', 'Payer', 'Payee', 'Amount', 'Due', 'State', 'Bank reference'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.map((p) => h('tr', { 'data-e2e': p.end_to_end_id },
      h('td', {}, h('a', { href: `#/orders/${p.order_id}` }, `#${p.order_id}`)), h('td', {}, p.milestone + 1),
      h('td', { class: 'hash' }, p.end_to_end_id), h('td', {}, nameOf(p.payer)), h('td', {}, nameOf(p.payee)),
      h('td', { class: 'num' }, money(p.amount_minor, p.currency)), h('td', {}, day(p.due_date)),
      h('td', {}, state(p.state), p.failure_reason ? ` ${p.failure_reason}` : ''), h('td', { class: 'hash' }, p.bank_reference || '—')))));
}

async function paymentsPage(page) {
  page.append(h('h1', {}, 'Payments'));
  const r = await api('GET', '/v1/payments?limit=100');
  if (!r.ok) { page.append(h('p', { class: 'error', text: r.error.message })); return; }
  page.append(r.data.length ? paymentTable(r.data) : h('p', {}, 'No payments yet.'));
}

async function ordersWithDocuments(filter) {
  const r = await api('GET', '/v1/orders?limit=100');
  if (!r.ok) return { error: r.error };
  const out = [];
  for (const o of r.data.items.filter((x) => x.state === 'committed')) {
    const d = await api('GET', `/v1/orders/${o.id}`);
    if (d.ok) for (const doc of d.data.documents) if (filter(d.data, doc)) out.push([d.data, doc]);
  }
  return { items: out };
}

async function examinePage(page) {
  page.append(h('h1', {}, 'Documents to examine'), h('p', {}, 'Presentations on orders your bank committed, the nearest examination deadline first (UCP 600 art. 14(b): five banking days).'));
  const r = await ordersWithDocuments((o, d) => isMe(o.buyer_bank) && d.state === 'submitted');
  if (r.error) { page.append(h('p', { class: 'error', text: r.error.message })); return; }
  r.items.sort((a, b) => a[1].examine_by - b[1].examine_by);
  if (!r.items.length) { page.append(h('p', {}, 'Nothing waits for your examination.')); return; }
  const rows = [];
  for (const [o, d] of r.items) {
    const left = bankingDaysLeft(d.examine_by, await holidaysOf(o.buyer_bank));
    rows.push(h('tr', { 'data-order': o.id, 'data-doc': d.doc_type }, h('td', {}, h('a', { href: `#/orders/${o.id}` }, `#${o.id}`)), h('td', {}, docName(d.doc_type)),
      h('td', {}, nameOf(o.seller)), h('td', {}, d.attested ? 'yes' : 'no'), h('td', {}, day(d.examine_by)), h('td', {}, left < 0 ? 'passed' : String(left))));
  }
  page.append(h('table', { id: 'examine' }, h('thead', {}, h('tr', {}, ['Order', 'Document', 'Presented by', 'Attested', 'Examine by', 'Banking days left'].map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, rows)));
}

async function attestPage(page) {
  page.append(h('h1', {}, 'Documents waiting for your attestation'));
  const r = await ordersWithDocuments((o, d) => d.state === 'submitted' && !d.attested &&
    ((d.doc_type === 'bill_of_lading' && isMe(o.carrier)) || (d.doc_type === 'inspection_certificate' && isMe(o.inspector))));
  if (r.error) { page.append(h('p', { class: 'error', text: r.error.message })); return; }
  if (!r.items.length) { page.append(h('p', {}, 'Nothing waits for your attestation.')); return; }
  page.append(h('ul', { id: 'attest' }, r.items.map(([o, d]) => h('li', {}, h('a', { href: `#/orders/${o.id}` }, `Order #${o.id}: ${docName(d.doc_type)} from ${nameOf(o.seller)}`)))));
}

// ---------------------------------------------------------------- consent and credit

async function consentsPage(page) {
  page.append(h('h1', {}, 'Verification requests and consents'));
  const r = await api('GET', '/v1/consents');
  if (!r.ok) { page.append(h('p', { class: 'error', text: r.error.message })); return; }
  const { consents, requests, reads } = r.data;
  const mine = requests.filter((q) => isMe(q.firm));
  page.append(h('h2', {}, 'Requests from financiers'));
  if (!mine.length) page.append(h('p', {}, 'No request.'));
  for (const q of mine) {
    const card = h('div', { class: 'card', 'data-request': q.id }, h('p', {}, `${nameOf(q.financier)} asks to read your trade history: “${q.purpose}” `, state(q.state)));
    if (q.state === 'open') {
      const until = input({ type: 'date', value: inDays(90) });
      card.append(h('div', { class: 'actions' }, field(`grant_${q.id}`, 'Access until', until),
        action('Grant access', () => api('POST', `/v1/verification-requests/${q.id}/grant`, { expires_at: until.value }), { done: 'Access granted.' }),
        action('Decline', () => api('POST', `/v1/verification-requests/${q.id}/decline`, {}), { class: 'secondary' })));
    }
    page.append(card);
  }
  page.append(h('h2', {}, 'Consents you gave'));
  const given = consents.filter((c) => isMe(c.firm));
  page.append(given.length ? h('ul', {}, given.map((c) => h('li', {}, `${nameOf(c.financier)} until ${day(c.expires_at)} `, state(c.state),
    c.state === 'granted' ? action('Revoke', () => api('POST', `/v1/consents/${c.financier}/revoke`, {}), { class: 'danger' }) : null))) : h('p', {}, 'None.'));
  page.append(h('h2', {}, 'Who read your history'));
  page.append(reads.length ? h('table', { id: 'reads' }, h('thead', {}, h('tr', {}, ['When', 'Reader', 'What'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, reads.map((x) => h('tr', {}, h('td', {}, when(x.at)), h('td', {}, nameOf(x.reader)), h('td', {}, label(x.action)))))) : h('p', {}, 'Nobody yet.'));
}

async function financierPage(page) {
  page.append(h('h1', {}, 'Verify a firm'));
  const firms = [...S.orgs.values()].filter((o) => o.roles.includes('trader'));
  const form = h('form', { id: 'verification' },
    h('div', { class: 'row' }, field('firm', 'Firm', select([['', 'Choose…']].concat(firms.map((f) => [f.address, f.name])), '')),
      field('purpose', 'Purpose', input({ value: 'receivables finance' }))),
    h('p', { class: 'error form-error', role: 'alert' }), h('button', { type: 'submit' }, 'Ask for access'));
  submitForm(form, (d) => ({ body: { firm: d.get('firm'), purpose: d.get('purpose') } }), (b) => api('POST', '/v1/verification-requests', b),
    (code) => (code === 'INVALID_ADDRESS' ? 'firm' : null), () => { flash('Request sent.'); render(); });
  page.append(form);
  const r = await api('GET', '/v1/consents');
  if (r.ok) {
    page.append(h('h2', {}, 'Your requests and consents'));
    const rows = r.data.requests.filter((q) => isMe(q.financier)).map((q) => {
      const c = r.data.consents.find((x) => x.firm === q.firm && isMe(x.financier));
      return h('li', { 'data-firm': q.firm }, `${nameOf(q.firm)}: request `, state(q.state), c ? [' · consent ', state(c.state), ` until ${day(c.expires_at)} `] : ' ',
        h('a', { href: `#/firms/${q.firm}` }, 'Credit profile'));
    });
    page.append(rows.length ? h('ul', { id: 'my-requests' }, rows) : h('p', {}, 'None yet.'));
  }
  page.append(h('h2', {}, 'Authenticity check'));
  const check = h('form', { id: 'authenticity' }, h('div', { class: 'row' },
    field('order_id', 'Order number', input({ inputmode: 'numeric' })), field('invoice_hash', 'or invoice hash', input({})), field('document_hash', 'or document hash', input({}))),
    h('p', { class: 'error form-error', role: 'alert' }), h('button', { type: 'submit' }, 'Check on chain'), h('div', { id: 'authenticity-result' }));
  submitForm(check, (d) => {
    const q = new URLSearchParams();
    for (const k of ['order_id', 'invoice_hash', 'document_hash']) if (String(d.get(k) || '').trim()) q.set(k, String(d.get(k)).trim());
    return { body: q.toString() };
  }, (q) => api('GET', `/v1/authenticity?${q}`), () => 'order_id', (res) => {
    const a = res.data;
    check.querySelector('#authenticity-result').replaceChildren(a.exists
      ? h('p', { class: 'ok' }, `On chain as of block ${a.as_of_block}: order #${a.order_id}, ${label(a.state)}, ${nameOf(a.buyer)} buys from ${nameOf(a.seller)}, ${money(a.amount_minor, a.currency)}${a.financed ? ', financed' : ''}${a.invoice ? `; invoice ${label(a.invoice.status)}` : ''}.`)
      : h('p', { class: 'error' }, 'Not on chain.'));
  });
  page.append(check);
}

function figure(profile, name) { return profile.figures.find((f) => f.name === name); }

function proofList(firm, f) {
  const list = h('ul', { class: 'refs' });
  const det = h('details', { 'data-figure': f.name }, h('summary', {}, `${f.proof.count} cited transaction${f.proof.count === 1 ? '' : 's'}`), list);
  for (const ref of (f.proof.references || []).slice(0, 20)) {
    const out = h('span', { class: 'proof-result', role: 'status' });
    list.append(h('li', {}, `${ref.kind} on order #${ref.order_id}, block ${ref.block} `,
      h('button', { type: 'button', class: 'secondary check-proof', onclick: async () => {
        const q = new URLSearchParams({ log_index: ref.log_index, kind: ref.kind, order_id: ref.order_id, block: ref.block });
        const r = await api('GET', `/v1/proofs/${ref.tx_hash}?${q}`);
        if (!r.ok) { out.className = 'proof-result error'; out.textContent = r.error.message; return; }
        out.className = r.data.verified ? 'proof-result ok' : 'proof-result error';
        out.textContent = r.data.verified ? ` verified on chain: block ${r.data.block.number} (${r.data.block.hash.slice(0, 12)}…), ${when(r.data.block.timestamp)}` : ` does not match: ${r.data.mismatches.join('; ')}`;
      } }, 'Check on chain'), out));
  }
  if (!f.proof.references) list.append(h('li', {}, h('span', {}, `Listed at ${f.proof.list}`)));
  return det;
}

async function firmPage(page, firm) {
  const r = await api('GET', `/v1/firms/${firm}/credit-profile`);
  page.append(h('h1', {}, `Credit profile: ${nameOf(firm)}`));
  if (!r.ok) { page.append(h('p', { class: 'error', 'data-code': r.error.code, text: r.error.message })); return; }
  const p = r.data;
  page.append(h('p', {}, `As of block ${p.as_of_block}. Every figure is computed from events on chain; open its cited transactions and check any of them against the chain.`));
  const card = (title, body, f) => h('section', { class: 'card', 'data-figure': f ? f.name : null }, h('h2', {}, title), body, f ? proofList(firm, f) : null);
  const vol = (f) => (f && Object.keys(f.value).length ? Object.entries(f.value).map(([c, v]) => money(v, c)).join(', ') : 'none');
  const cb = figure(p, 'completed_as_buyer'); const cs = figure(p, 'completed_as_seller');
  if (cb) page.append(card('Completed orders as buyer', h('p', {}, `${cb.value} orders; volume ${vol(figure(p, 'volume_as_buyer'))}`), cb));
  if (cs) page.append(card('Completed orders as seller', h('p', {}, `${cs.value} orders; volume ${vol(figure(p, 'volume_as_seller'))}`), cs));
  const ot = figure(p, 'on_time_payment_rate');
  if (ot) {
    const v = ot.value || {};
    const pct = v.rate_bps === null || v.rate_bps === undefined ? null : Number(v.rate_bps) / 100;
    const text = pct === null ? 'No payment received yet.' : `${pct.toLocaleString(LOCALE)} % (${v.on_time} of ${v.paid} payments on time)`;
    page.append(card('On-time payment rate', h('div', {}, h('p', {}, text),
      pct === null ? null : h('div', { class: 'meter', role: 'meter', 'aria-valuenow': pct, 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-label': 'on-time rate' }, h('div', { style: null, 'data-width': pct }))), ot));
  }
  const dl = figure(p, 'days_late');
  if (dl) page.append(card('Days late', h('p', {}, `${dl.value.late} late payments; average ${dl.value.average} days, worst ${dl.value.worst}`), dl));
  const conc = figure(p, 'concentration');
  if (conc) page.append(card('Concentration', h('ul', {}, (conc.value || []).map((c) => h('li', {}, `${c.currency}: ${nameOf(c.largest_counterparty)} ${(c.share_bps / 100).toLocaleString(LOCALE)} % of volume`))), conc));
  const trend = figure(p, 'quarterly_trend');
  if (trend) {
    const qs = trend.value || [];
    const max = Math.max(1, ...qs.map((q) => q.orders));
    page.append(card('Completed orders per quarter', h('div', {},
      h('div', { class: 'bars', role: 'img', 'aria-label': qs.map((q) => `${q.quarter}: ${q.orders} orders`).join(', ') },
        qs.map((q) => h('div', { class: 'bar', 'data-height': Math.round((q.orders / max) * 150), title: `${q.quarter}: ${q.orders}` }))),
      h('div', { class: 'barlabels' }, qs.map((q) => h('span', {}, q.quarter))),
      h('ul', {}, qs.map((q) => h('li', {}, `${q.quarter}: ${q.orders} orders, ${Object.entries(q.volume || {}).map(([c, v]) => money(v, c)).join(', ')}`)))), trend));
  }
  for (const f of p.figures) {
    if (['completed_as_buyer', 'completed_as_seller', 'volume_as_buyer', 'volume_as_seller', 'on_time_payment_rate', 'days_late', 'concentration', 'quarterly_trend'].includes(f.name)) continue;
    const v = typeof f.value === 'object' ? Object.entries(f.value || {}).map(([k, x]) => `${label(k)}: ${typeof x === 'object' ? JSON.stringify(x) : x}`).join(', ') : String(f.value);
    page.append(card(label(f.name).replace(/^./, (c) => c.toUpperCase()), h('p', {}, v), f));
  }
  const history = await api('GET', `/v1/firms/${firm}/orders?limit=100`);
  if (history.ok) {
    page.append(h('h2', {}, 'Trade history'), orderTable(history.data.items, (o) => (o.state === 'committed' || o.state === 'accepted')
      ? h('a', { href: `#/offer/${o.id}/${o.currency}` }, 'Offer financing') : null));
  }
  // Sizes set from data attributes: the CSP allows no inline style.
  page.querySelectorAll('[data-height]').forEach((el) => { el.style.height = `${el.dataset.height}px`; });
  page.querySelectorAll('[data-width]').forEach((el) => { el.style.width = `${el.dataset.width}%`; });
}

// ---------------------------------------------------------------- financing

async function financingsPage(page) {
  page.append(h('h1', {}, 'Financings'));
  const r = await api('GET', '/v1/financings?limit=100');
  if (!r.ok) { page.append(h('p', { class: 'error', text: r.error.message })); return; }
  const items = r.data.items || [];
  if (!items.length) page.append(h('p', {}, 'No financing yet.'));
  for (const f of items) {
    const base = `/v1/financings/${f.id}`;
    const card = h('div', { class: 'card', 'data-financing': f.id }, h('h2', {}, `${label(f.kind)} #${f.id} on order #${f.order_id}, milestone ${f.milestone + 1} `, state(f.state)),
      h('p', {}, `${nameOf(f.financier)} → ${nameOf(f.firm)}: ${money(f.amount_minor, f.currency)}, ${(f.rate_bps / 100).toLocaleString(LOCALE)} %${f.extra_days ? `, ${f.extra_days} extra days` : ''}`));
    if (f.review && f.review.length) card.append(h('ul', { class: 'review' }, f.review.map((x) => h('li', { class: 'error' }, `Flagged for review (${label(x.code)}, like financing #${x.financing_id}): ${x.reason}`))));
    if (isMe(f.firm) && f.state === 'offered') card.append(action('Accept the offer', () => api('POST', `${base}/accept`, {})), action('Decline', () => api('POST', `${base}/decline`, {}), { class: 'secondary' }));
    if (isMe(f.financier) && f.state === 'offered') card.append(action('Withdraw', () => api('POST', `${base}/withdraw`, {}), { class: 'secondary' }));
    if (isMe(f.financier) && f.state === 'accepted' && f.kind === 'receivable' && !f.advance_reference) {
      const ref = input({});
      card.append(h('div', { class: 'actions' }, field(`advance_${f.id}`, 'Advance payment reference', ref), action('Record the advance', () => api('POST', `${base}/advance`, { reference: ref.value }))));
    }
    if (isMe(f.firm) && f.advance_reference && !f.advance_acknowledged) card.append(action('Acknowledge the advance', () => api('POST', `${base}/advance/acknowledge`, {})));
    page.append(card);
  }
}

/** A financier's offer on one milestone of a firm's order: checked first (the contract's
 * refusal by simulation, near-duplicate invoices), then sent. */
function offerPage(page, orderId, currency) {
  page.append(h('h1', {}, `Offer financing on order #${orderId}`));
  const kind = select([['receivable', 'receivables finance (advance the seller)'], ['payable', 'payables finance (pay the seller, the buyer repays later)']], 'receivable');
  const form = h('form', { id: 'offer' },
    h('div', { class: 'row' },
      field('milestone', 'Milestone', input({ type: 'number', min: 1, value: 1 })),
      field('kind', 'Kind', kind),
      field('advance', `Advance (${currency}, receivables)`, input({ inputmode: 'decimal' })),
      field('extra_days', 'Extra days for the buyer (payables)', input({ type: 'number', min: 1, max: 360 })),
      field('rate', 'Rate or fee (%)', input({ inputmode: 'decimal', value: '2.5' })),
      field('deadline_days', 'Days to make it binding', input({ type: 'number', min: 1, max: 30, value: 10 }))),
    h('fieldset', {}, h('legend', {}, 'The seller\'s invoice'), h('div', { class: 'row' },
      field('invoice_number', 'Number', input({})), field('invoice_date', 'Date', input({ type: 'date', value: inDays(0) })),
      field('invoice_amount', `Amount (${currency})`, input({ inputmode: 'decimal' })))),
    h('p', { class: 'error form-error', role: 'alert' }), h('div', { id: 'offer-check' }),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', id: 'check-offer' }, 'Check the offer'), h('button', { type: 'submit' }, 'Send the offer')));
  const build = (d) => {
    const body = { kind: d.get('kind'), rate_bps: Math.round(Number(String(d.get('rate') || '0').replace(',', '.')) * 100), deadline_days: Number(d.get('deadline_days') || 10) };
    if (body.kind === 'receivable') {
      const a = toMinor(d.get('advance'), currency);
      if (a.error) return { field: 'advance', error: a.error };
      body.advance_minor = a.minor;
    } else body.extra_days = Number(d.get('extra_days') || 0);
    const inv = toMinor(d.get('invoice_amount'), currency);
    if (inv.error) return { field: 'invoice_amount', error: inv.error };
    body.invoice = { number: String(d.get('invoice_number') || ''), date: d.get('invoice_date'), amount_minor: inv.minor, currency };
    return { body, milestone: Math.max(0, Number(d.get('milestone') || 1) - 1) };
  };
  const fieldOf = (code) => ({ INVALID_ADVANCE: 'advance', INVALID_RATE: 'rate', INVALID_FEE: 'rate', INVALID_DEADLINE: 'deadline_days', MILESTONE_NOT_FOUND: 'milestone', INVALID_MILESTONE_STATE: 'milestone', VALIDATION_FAILED: null })[code] || null;
  form.querySelector('#check-offer').addEventListener('click', async () => {
    clearErrors(form);
    const built = build(new FormData(form));
    if (built.error) { fieldError(form, built.field, built.error); return; }
    const r = await api('POST', '/v1/financings/check', Object.assign({ order_id: Number(orderId), milestone: built.milestone }, built.body));
    const out = form.querySelector('#offer-check');
    if (!r.ok) { fieldError(form, fieldOf(r.error.code), r.error.message, r.error.code); return; }
    out.replaceChildren(
      r.data.refusal ? h('p', { class: 'error' }, `The contract would refuse it: ${r.data.refusal.message}`) : h('p', { class: 'ok' }, 'The contract would take this offer.'),
      ...(r.data.review || []).map((x) => h('p', { class: 'error' }, `Flagged for review (${label(x.code)}, like financing #${x.financing_id}): ${x.reason}`)));
  });
  submitForm(form, (d) => { const b = build(d); return b.error ? b : { body: b }; },
    (b) => api('POST', `/v1/orders/${orderId}/milestones/${b.milestone}/financing-offers`, b.body), fieldOf, (r) => {
      flash(`Offer #${r.data.id} sent.`);
      location.hash = '#/financings';
    });
  page.append(form);
}

// ---------------------------------------------------------------- operator

async function adminPage(page) {
  page.append(h('h1', {}, 'Operator'));
  const chain = await api('GET', '/v1/chain');
  if (chain.ok) page.append(h('dl', { class: 'kv', id: 'chain' }, h('dt', {}, 'Chain id'), h('dd', {}, chain.data.chain_id),
    h('dt', {}, 'Head'), h('dd', {}, chain.data.head), h('dt', {}, 'Indexed'), h('dd', {}, chain.data.indexed),
    h('dt', {}, 'Indexer lag'), h('dd', {}, `${Math.max(0, chain.data.head - chain.data.indexed)} blocks`)));
  page.append(h('h2', {}, 'Onboard an organisation'));
  const roles = h('fieldset', {}, h('legend', {}, 'Roles'), ['trader', 'bank', 'carrier', 'inspector', 'financier'].map((r) => h('label', {}, h('input', { type: 'checkbox', name: 'roles', value: r }), ` ${r} `)));
  const form = h('form', { id: 'onboard' }, h('div', { class: 'row' }, field('name', 'Registered name', input({})),
    field('address', 'Own key address (leave empty for a custodial key)', input({ placeholder: '0x…' })),
    field('iban', 'Bank account IBAN (banks)', input({})), field('bic', 'BIC (banks)', input({}))), roles,
    h('p', { class: 'error form-error', role: 'alert' }), h('button', { type: 'submit' }, 'Onboard'), h('div', { id: 'onboarded' }));
  submitForm(form, (d) => {
    const body = { name: d.get('name'), roles: d.getAll('roles') };
    if (String(d.get('address') || '').trim()) body.address = String(d.get('address')).trim();
    if (String(d.get('iban') || '').trim()) body.bank_account = { iban: String(d.get('iban')).trim(), bic: String(d.get('bic') || '').trim() };
    return { body };
  }, (b) => api('POST', '/v1/organisations', b), (code) => ({ INVALID_NAME: 'name', ORGANISATION_EXISTS: 'name', NAME_CONFUSABLE: 'name', EMPTY_NAME: 'name', INVALID_ADDRESS: 'address', INVALID_IBAN: 'iban', INVALID_BIC: 'bic' })[code] || null, async (r) => {
    await loadDirectory();
    form.querySelector('#onboarded').replaceChildren(h('p', { class: 'ok' }, `${r.data.organisation.name} onboarded. Its first API token (shown once): `, h('code', { class: 'hash' }, r.data.token)));
  });
  page.append(form);
  page.append(h('h2', {}, 'Organisations'), h('table', { id: 'organisations' }, h('thead', {}, h('tr', {}, ['Name', 'Roles', 'Address', 'Custody', 'Standing'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, [...S.orgs.values()].map((o) => h('tr', {}, h('td', {}, o.name), h('td', {}, o.roles.join(', ')), h('td', { class: 'hash' }, o.address), h('td', {}, o.custody || '—'), h('td', {}, o.suspended ? 'suspended' : 'active'))))));
  const tokens = await api('GET', '/v1/tokens');
  if (tokens.ok) {
    page.append(h('h2', {}, 'API tokens'));
    const issue = h('form', { id: 'issue-token' }, h('div', { class: 'row' },
      field('organisation', 'Organisation', select([...S.orgs.values()].map((o) => [o.address, o.name]), '')), field('token_name', 'Token name', input({ value: 'integration' }))),
      h('p', { class: 'error form-error', role: 'alert' }), h('button', { type: 'submit' }, 'Issue a token'), h('div', { id: 'issued' }));
    submitForm(issue, (d) => ({ body: { organisation: d.get('organisation'), name: d.get('token_name') } }), (b) => api('POST', '/v1/tokens', b), (c) => (c === 'VALIDATION_FAILED' ? 'token_name' : null),
      (r) => { issue.querySelector('#issued').replaceChildren(h('p', { class: 'ok' }, 'Issued (shown once): ', h('code', { class: 'hash' }, r.data.token))); });
    page.append(issue, h('table', { id: 'tokens' }, h('thead', {}, h('tr', {}, ['Organisation', 'Name', 'Created', 'Expires', 'Last used', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, tokens.data.map((t) => h('tr', {}, h('td', {}, nameOf(t.organisation)), h('td', {}, t.name), h('td', {}, when(t.created_at)), h('td', {}, when(t.expires_at)), h('td', {}, when(t.last_used_at)),
        h('td', {}, t.revoked_at ? 'revoked' : action('Revoke', () => api('POST', `/v1/tokens/${t.id}/revoke`, {}), { class: 'danger' })))))));
  }
}

// ---------------------------------------------------------------- start

window.addEventListener('hashchange', () => {
  S.dirty = false;
  takeOfferedToken();
  refuseOfferedToken();
  render();
});
document.addEventListener('DOMContentLoaded', async () => {
  await loadSession();
  render();
});
