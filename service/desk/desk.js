// zkmargin credit desk: the page's script (no framework, nothing from elsewhere).
//
// Reads the service's JSON API with the desk's bearer token (kept in sessionStorage, for
// this tab only), refreshes on its own every REFRESH_MS, and verifies bundles in this
// browser with the WebAssembly verifier in a Web Worker (worker.js): a bundle is read
// from the user's disk and handed to the worker, never sent anywhere.

const TOKEN_KEY = 'zkmargin-desk-token';
const REFRESH_MS = 30_000;
const VIEWS = ['signin', 'verdicts', 'proof', 'accounts', 'markets', 'verify'];

const $ = (selector) => document.querySelector(selector);

/** A DOM element: `el('td', {class: 'num'}, 'text', child, ...)`; text is never parsed as HTML. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// ---------------------------------------------------------------- formatting

const DECIMAL = /^[-+]?\d+(\.\d+)?$/;

/** A decimal string as money in the market's quote currency: `1,000,000.00 USD`
 *  (exact: no floating point; at least two decimals, more when they are not zero). */
function money(value, quote) {
  if (value === null || value === undefined || value === '') return '—';
  const text = String(value);
  if (!DECIMAL.test(text)) return text;
  const negative = text.startsWith('-');
  const [whole, fraction = ''] = text.replace(/^[-+]/, '').split('.');
  const grouped = whole.replace(/^0+(?=\d)/, '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  let cents = fraction.replace(/0+$/, '');
  if (cents.length < 2) cents = cents.padEnd(2, '0');
  const amount = `${negative && /[1-9]/.test(text) ? '−' : ''}${grouped}.${cents}`;
  return quote ? `${amount} ${quote}` : amount;
}

/** A rate without its trailing zeros: `1.500000` → `1.5`. */
function rate(value) {
  const text = String(value);
  return DECIMAL.test(text) && text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/** How the statement's fields read (money in the market's quote currency); a field not
 *  listed here is shown as it is, under its own name. */
const STATEMENT_FIELDS = {
  level: ['Margin level', (v) => v],
  threshold: ['Total excess at least', money],
  min_equity: ['Total equity at least', money],
  min_ratio: ['Every group’s equity at least', (v) => `${rate(v)} × its requirement`],
  max_leverage: ['Gross leverage at most', (v) => `${rate(v)} × equity`],
  nonce: ['Nonce', (v) => el('code', {}, v || '(none)')],
};

function fieldLabel(key) {
  return STATEMENT_FIELDS[key]?.[0] ?? key.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
}

function fieldValue(key, value, quote) {
  const format = STATEMENT_FIELDS[key]?.[1];
  return format ? format(value, quote) : String(value);
}

/** `2026-11-25T07:30:12Z` as `2026-11-25 07:30:12 UTC` in a <time>. */
function when(iso) {
  if (!iso) return '—';
  const text = String(iso).replace('T', ' ').replace(/\.\d+/, '').replace(/Z$/, ' UTC');
  return el('time', { datetime: iso }, text);
}

/** Seconds as `3 d 4 h`, `5 h 12 min`, `12 min`, `40 s`. */
function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return h ? `${d} d ${h} h` : `${d} d`;
  if (h) return m ? `${h} h ${m} min` : `${h} h`;
  if (m) return `${m} min`;
  return `${s} s`;
}

function short(hex, keep = 8) {
  const text = String(hex ?? '');
  return text.length > keep * 2 + 1 ? `${text.slice(0, keep)}…${text.slice(-4)}` : text;
}

function hexCode(hex, keep) {
  return hex ? el('code', { title: hex }, short(hex, keep)) : '—';
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function badge(valid) {
  return valid
    ? el('span', { class: 'badge valid' }, '✓ Valid')
    : el('span', { class: 'badge invalid' }, '✗ Invalid');
}

function claim(item, quote) {
  const parts = [];
  if (item.level) parts.push(item.level);
  if (item.threshold) parts.push(`excess ≥ ${money(item.threshold, quote)}`);
  const covenants = Object.entries(item.covenants ?? {}).map(([k, v]) => `${fieldLabel(k)}: ${fieldValue(k, v, quote)}`);
  return [parts.join(' · ') || '—', covenants.length ? el('span', { class: 'sub' }, covenants.join('; ')) : null];
}

// ---------------------------------------------------------------- state and API

let token = sessionStorage.getItem(TOKEN_KEY);
let policy = null;
let config = { wasm: false, max_k: 16 };
let lastRefresh = null;

/** A paginated list: its items, the cursor of the next page, whether the user paged. */
function list() {
  return { items: [], next: null, paged: false, loaded: false };
}
const lists = { verdicts: list(), accounts: list(), markets: list() };
let verdictFilter = {};

class Refused extends Error {}

async function api(path) {
  if (!token) throw new Refused();
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' });
  if (response.status === 401) throw new Refused();
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(body?.error?.message ?? `${response.status} ${response.statusText}`);
  return body;
}

function announce(text) {
  const live = $('#announce');
  live.textContent = '';
  // A fresh text node after a tick, so that the same words are announced again.
  setTimeout(() => { live.textContent = text; }, 50);
}

function setStatus(id, text, error = false) {
  const node = $(id);
  node.textContent = text;
  node.classList.toggle('error', error);
}

/** The token was refused: forget it and everything read with it, and say so. */
function refused() {
  token = null;
  policy = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearData();
  $('#token-alert').textContent = 'The token was not accepted. No data is shown: enter the desk’s token again.';
  signedIn(false);
  show('signin');
  $('#token').value = '';
  $('#token').focus();
}

function clearData() {
  for (const name of Object.keys(lists)) lists[name] = list();
  for (const table of ['#verdicts-table', '#accounts-table', '#markets-table']) $(`${table} tbody`).replaceChildren();
  for (const id of ['#verdicts-status', '#accounts-status', '#markets-status', '#ttl-note', '#quorum-note']) setStatus(id, '');
  for (const id of ['#verdicts-more', '#accounts-more', '#markets-more']) $(id).hidden = true;
  $('#proof-body').replaceChildren();
  $('#market-select').replaceChildren();
}

function signedIn(yes) {
  $('#signout').hidden = !yes;
  $('#refresh').hidden = !yes;
}

/** Runs `work`; a refused token signs out, another failure is shown in `statusId`. */
async function guarded(statusId, work) {
  try {
    await work();
  } catch (error) {
    if (error instanceof Refused) refused();
    else if (statusId) setStatus(statusId, `Could not read from the service: ${error.message}`, true);
  }
}

// ---------------------------------------------------------------- views

function currentRoute() {
  const [name, ...rest] = location.hash.replace(/^#/, '').split('/');
  return { name: VIEWS.includes(name) && name !== 'signin' ? name : 'verdicts', arg: decodeURIComponent(rest.join('/')) };
}

function show(view) {
  for (const name of VIEWS) $(`#view-${name}`).hidden = name !== view;
  const tab = view === 'proof' ? 'verdicts' : view;
  for (const link of document.querySelectorAll('.tabs a')) {
    if (link.dataset.view === tab) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${$(`#view-${view} h1`).textContent} · zkmargin credit desk`;
}

async function route(focus = true) {
  const { name, arg } = currentRoute();
  if (!token && name !== 'verify') {
    show('signin');
    return;
  }
  show(name);
  if (focus) $('#main').focus({ preventScroll: true });
  if (LISTS[name] && !lists[name].loaded) await load(name);
  else if (name === 'proof') await loadProof(arg);
  else if (name === 'verify') await prepareVerify();
}

// ---------------------------------------------------------------- verdicts

function verdictQuery(extra = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...verdictFilter, ...extra })) if (value) params.set(key, value);
  return `/v1/proofs?${params}`;
}

function verdictRow(item) {
  const quote = item.market?.quote;
  const accounts = el('ul', { class: 'accounts' }, (item.accounts ?? []).map((a) => el('li', {}, `${a.venue}/${a.account}`)));
  return el('tr', { 'data-id': item.id, 'data-key': item.id },
    el('td', {}, el('a', { href: `#proof/${encodeURIComponent(item.id)}`, 'aria-label': `Verdict ${item.id}` }, el('code', {}, short(item.id)))),
    el('td', {}, when(item.received_at)),
    el('td', { class: 'outcome' }, badge(item.valid)),
    el('td', {}, claim(item, quote)),
    el('td', {}, item.market?.id ?? hexCode(item.market?.digest), el('span', { class: 'sub' }, 'as of ', when(item.market?.as_of))),
    el('td', {}, item.accounts?.length ? accounts : '—'),
    el('td', { class: 'reason' }, item.valid ? '' : (item.reason ?? '—')));
}

function verdictSummary(state) {
  const filtered = Object.values(verdictFilter).some(Boolean) ? ' matching the filter' : '';
  return `${plural(state.items.length, 'verdict')}${filtered}, newest first${state.next ? '; older ones below' : ''}.`;
}

/** Auto-refresh: new verdicts go on top of the pages already loaded (when more than a page
 *  arrived since, the list starts again from the newest). */
async function refreshVerdicts() {
  const state = lists.verdicts;
  if (!state.loaded) return;
  const page = await api(verdictQuery());
  const known = new Set(state.items.map((v) => v.id));
  const fresh = page.items.filter((v) => !known.has(v.id));
  if (state.paged && !(fresh.length === page.items.length && page.next)) state.items = [...fresh, ...state.items];
  else Object.assign(state, { items: page.items, next: page.next, paged: false });
  render('verdicts');
  if (fresh.length) announce(`${plural(fresh.length, 'new verdict')}.`);
}

// ---------------------------------------------------------------- one verdict

function factList(pairs) {
  return el('dl', { class: 'facts' }, pairs.filter(Boolean).flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]));
}

function table(caption, headers, rows) {
  return el('div', { class: 'table-wrap' }, el('table', {},
    el('caption', { class: 'visually-hidden' }, caption),
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: headers.length, class: 'empty' }, 'None.')))));
}

function listedFor(venue, signer) {
  const keys = (policy?.venues?.[venue] ?? []).map((k) => k.toLowerCase());
  return keys.includes(String(signer).toLowerCase());
}

async function loadProof(id) {
  const body = $('#proof-body');
  $('#proof-title').textContent = 'Verdict';
  body.replaceChildren(el('p', { class: 'status' }, 'Loading…'));
  await guarded(null, async () => {
    let v;
    try {
      v = await api(`/v1/proofs/${encodeURIComponent(id)}/detail`);
    } catch (error) {
      if (error instanceof Refused) throw error;
      body.replaceChildren(el('p', { class: 'status error' }, `Could not read verdict ${id}: ${error.message}`));
      return;
    }
    const quote = v.market?.quote;
    $('#proof-title').replaceChildren('Verdict ', el('code', {}, short(v.id, 12)));
    const statement = v.statement ?? {};
    const scalars = Object.entries(statement).filter(([, value]) => typeof value === 'string' || typeof value === 'number');
    const attestations = v.attestations ?? [];
    const attested = (a) => attestations.find((x) => x.venue === a.venue && x.account === a.account);
    body.replaceChildren(
      el('p', { class: 'verdict-line' }, badge(v.valid), v.valid ? '' : ` ${v.reason ?? ''}`),
      el('div', { class: 'panel' }, factList([
        ['Verdict id', el('code', {}, v.id)],
        ['Received', when(v.received_at)],
        ['Market', [v.market?.id ?? '(not stored here)', el('span', { class: 'sub' }, 'as of ', when(v.market?.as_of))]],
        ['Market digest', v.market?.digest ? el('code', {}, v.market.digest) : '—'],
        ['Quote currency', quote ?? '—'],
        ['Bundle digest', v.bundle_digest ? el('code', {}, v.bundle_digest) : '—'],
      ])),
      el('h2', {}, 'Statement'),
      v.statement
        ? el('div', { class: 'panel' }, factList(scalars.map(([key, value]) => [fieldLabel(key), fieldValue(key, value, quote)])))
        : el('p', { class: 'note' }, 'The service kept no statement for this verdict.'),
      el('h2', {}, 'Groups'),
      table('Groups of the statement', ['Group', 'Mode'], (statement.groups ?? []).map((g) => el('tr', {}, el('td', {}, g.name), el('td', {}, g.mode)))),
      el('h2', {}, 'Accounts'),
      table('Accounts the statement covers', ['Venue', 'Account', 'Group', 'Commitment', 'Attested'],
        (statement.accounts ?? (v.accounts ?? [])).map((a) => {
          const att = attested(a);
          return el('tr', {},
            el('td', {}, a.venue), el('td', {}, a.account), el('td', {}, a.group ?? '—'), el('td', {}, hexCode(a.commitment, 10)),
            el('td', {}, att ? ['as of ', when(att.as_of)] : (v.attestations ? 'no' : '—')));
        })),
      el('h2', {}, 'Attestations'),
      v.attestations
        ? table('Venue attestations carried by the bundle', ['Account', 'As of', 'Signer', 'Listed for the venue'],
          attestations.map((a) => el('tr', {},
            el('td', {}, `${a.venue}/${a.account}`), el('td', {}, when(a.as_of)), el('td', {}, hexCode(a.signer, 10)),
            el('td', {}, listedFor(a.venue, a.signer) ? 'yes' : el('strong', {}, 'not in the policy')))))
        : el('p', { class: 'note' }, 'The service kept no bundle for this verdict (an invalid bundle is stored without its bytes), so its attestations are not shown.'),
    );
  });
}

// ---------------------------------------------------------------- standing

function standingBadge(standing) {
  if (!standing) return el('span', { class: 'badge none' }, 'No valid proof');
  if (standing.stale) return el('span', { class: 'badge stale' }, '⚠ Stale: past the standing TTL');
  return el('span', { class: 'badge valid' }, '✓ In good standing');
}

function countsUntil(standing) {
  if (!standing) return '—';
  if (!standing.stale_at) return 'no limit';
  const left = (Date.parse(standing.stale_at) - Date.now()) / 1000;
  if (left <= 0) return [when(standing.stale_at), el('span', { class: 'sub' }, `${duration(-left)} ago`)];
  const ttl = policy?.standing_ttl_seconds ?? 0;
  const soon = left < Math.max(600, ttl / 10);
  return [when(standing.stale_at), el('span', { class: soon ? 'badge soon' : 'sub' }, soon ? `stale in ${duration(left)}` : `in ${duration(left)}`)];
}

function accountRow(item) {
  const s = item.standing;
  const quote = s?.market?.quote;
  return el('tr', { 'data-account': `${item.venue}/${item.account}`, 'data-key': `${item.venue}/${item.account}` },
    el('th', { scope: 'row' }, `${item.venue}/${item.account}`),
    el('td', { class: 'standing' }, standingBadge(s)),
    el('td', {}, s ? el('a', { href: `#proof/${encodeURIComponent(s.proof)}`, 'aria-label': `Verdict ${s.proof}` }, el('code', {}, short(s.proof))) : '—'),
    el('td', {}, s ? claim(s, quote) : '—'),
    el('td', {}, s ? when(s.market_as_of) : '—'),
    el('td', { class: 'num' }, s ? duration(s.age_seconds) : '—'),
    el('td', {}, countsUntil(s)));
}

function ttlNote() {
  const ttl = policy?.standing_ttl_seconds;
  setStatus('#ttl-note', ttl
    ? `A valid proof counts for an account’s standing for ${duration(ttl)} after it is received (the policy’s standing_ttl_seconds = ${ttl}); after that the account is stale until a new proof arrives. Age is counted from the market’s as-of time.`
    : 'The policy sets no standing TTL: a valid proof counts until a newer one replaces it. Age is counted from the market’s as-of time.');
}

function accountSummary(state) {
  const good = state.items.filter((a) => a.standing && !a.standing.stale).length;
  return `${plural(state.items.length, 'account')}, ${good} in good standing${state.next ? '; more below' : ''}.`;
}

// ---------------------------------------------------------------- markets

function signerCell(signers) {
  const publishers = (policy?.publishers ?? []).map((k) => k.toLowerCase());
  return el('ul', { class: 'accounts' }, signers.map((s) => el('li', {}, hexCode(s, 10), ' ',
    publishers.includes(s.toLowerCase()) ? el('span', { class: 'sub' }, 'listed publisher') : el('strong', {}, 'not listed now'))));
}

function marketRow(m) {
  return el('tr', {},
    el('th', { scope: 'row' }, m.id),
    el('td', {}, when(m.as_of)),
    el('td', {}, m.quote ?? '—'),
    el('td', {}, hexCode(m.digest, 10)),
    el('td', {}, signerCell(m.signers ?? [])),
    el('td', {}, when(m.received_at)));
}

function quorumNote() {
  const n = policy?.publishers?.length ?? 0;
  const quorum = policy?.publisher_quorum ?? 1;
  setStatus('#quorum-note', `The policy lists ${plural(n, 'publisher')} and asks for ${plural(quorum, 'signature')} per market.`);
}

function marketSummary(state) {
  return `${plural(state.items.length, 'market')}, newest first${state.next ? '; older ones below' : ''}.`;
}

// ---------------------------------------------------------------- the three lists

/** Each paginated list: where it reads, how a row and the summary read, what notes go with it. */
const LISTS = {
  verdicts: { path: () => verdictQuery(), row: verdictRow, columns: 7, empty: 'No verdicts match.', summary: verdictSummary },
  accounts: { path: () => '/v1/accounts', row: accountRow, columns: 7, empty: 'No account is covered by a stored verdict yet.', summary: accountSummary, notes: ttlNote },
  markets: { path: () => '/v1/markets', row: marketRow, columns: 6, empty: 'No market has been published here yet.', summary: marketSummary, notes: quorumNote },
};

/** Draws a list again; keyboard focus on a row's link stays on that row's link (a refresh
 *  must not throw the reader back to the top of the page). */
function render(name) {
  const spec = LISTS[name], state = lists[name];
  const body = $(`#${name}-table tbody`);
  const focused = body.contains(document.activeElement) ? document.activeElement.closest('tr')?.dataset.key : null;
  const rows = state.items.map(spec.row);
  if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: spec.columns, class: 'empty' }, spec.empty)));
  body.replaceChildren(...rows);
  if (focused) [...body.rows].find((r) => r.dataset.key === focused)?.querySelector('a, button')?.focus();
  $(`#${name}-more`).hidden = !state.next;
  spec.notes?.();
  setStatus(`#${name}-status`, spec.summary(state));
}

/** The first page of a list (again). */
async function load(name) {
  await guarded(`#${name}-status`, async () => {
    const page = await api(LISTS[name].path());
    lists[name] = { items: page.items, next: page.next, paged: false, loaded: true };
    render(name);
  });
}

/** "Load more": the next page of a list, appended. */
async function more(name) {
  const state = lists[name];
  if (!state.next) return;
  await guarded(`#${name}-status`, async () => {
    const path = LISTS[name].path();
    const page = await api(`${path}${path.includes('?') ? '&' : '?'}before=${encodeURIComponent(state.next)}`);
    state.items.push(...page.items);
    state.next = page.next;
    state.paged = true;
    render(name);
    announce(`${page.items.length} more loaded.`);
  });
}

// ---------------------------------------------------------------- health and refresh

async function health() {
  const node = $('#health');
  let text, ok;
  try {
    const response = await fetch('/healthz', { cache: 'no-store' });
    const body = await response.json().catch(() => null);
    ok = response.ok && body?.status === 'ok';
    text = ok ? 'Service healthy' : `Service unavailable: ${body?.error?.message ?? response.status}`;
  } catch {
    ok = false;
    text = 'Service unreachable';
  }
  if (node.textContent !== text) node.textContent = text;
  node.className = `health ${ok ? 'ok' : 'down'}`;
}

async function refresh() {
  await health();
  if (token) {
    await guarded(null, async () => {
      policy = await api('/v1/policy');
      const { name } = currentRoute();
      if (name === 'verdicts') await refreshVerdicts();
      if (name === 'accounts' && !lists.accounts.paged) await load('accounts');
      if (name === 'markets' && !lists.markets.paged) await load('markets');
    });
  }
  lastRefresh = new Date();
  $('#updated').textContent = `Updated ${lastRefresh.toLocaleTimeString()}; refreshes every ${REFRESH_MS / 1000} s.`;
}

// ---------------------------------------------------------------- verify in this browser

let worker = null;
let jobs = 0;
const pending = new Map();
const chosen = { bundle: null, market: null };

function verifier() {
  if (!worker) {
    worker = new Worker('worker.js', { type: 'module' });
    worker.onmessage = (event) => {
      const job = pending.get(event.data.id);
      if (job) {
        pending.delete(event.data.id);
        job(event.data);
      }
    };
  }
  return worker;
}

async function prepareVerify() {
  const off = $('#wasm-off');
  off.hidden = config.wasm;
  $('#verify-fields').disabled = !config.wasm;
  if (!config.wasm) {
    off.replaceChildren('In-browser verification is disabled: this service was started without ',
      el('code', {}, '--desk-wasm'), '. Build the verifier with ',
      el('code', {}, 'cargo build -p zkmargin-verifier --release --target wasm32-unknown-unknown --no-default-features'),
      ' and start the service with ', el('code', {}, '--desk-wasm target/wasm32-unknown-unknown/release/zkmargin_verifier.wasm'), '.');
  }
  const stored = $('#market-stored');
  stored.disabled = !token;
  $('#market-select').disabled = !token;
  if (!token) {
    $('#market-upload').checked = true;
    return;
  }
  if (!lists.markets.loaded) await load('markets');
  const options = lists.markets.items.map((m) => el('option', { value: m.digest }, `${m.id} (as of ${m.as_of})`));
  if (!options.length) options.push(el('option', { value: '' }, 'No stored market'));
  const select = $('#market-select');
  const keep = select.value;
  select.replaceChildren(...options);
  if (keep) select.value = keep;
  matchStoredMarket();
}

/** Selects the stored market that the chosen bundle names, when it is listed. */
function matchStoredMarket() {
  const digest = chosen.bundle?.json?.market?.digest?.toLowerCase();
  if (!digest) return;
  const option = [...$('#market-select').options].find((o) => o.value === digest);
  if (option) $('#market-select').value = digest;
}

async function readFile(file) {
  const text = await file.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* the verifier says why */ }
  return { name: file.name, text, json };
}

async function chooseBundle(file) {
  chosen.bundle = await readFile(file);
  $('#bundle-name').textContent = `chosen: ${file.name}, ${file.size.toLocaleString()} bytes`;
  matchStoredMarket();
}

async function chooseMarket(file) {
  chosen.market = await readFile(file);
  $('#market-upload').checked = true;
}

async function dropped(files) {
  for (const file of files) {
    const f = await readFile(file);
    if (f.json && 'proof' in f.json && 'statement' in f.json) {
      chosen.bundle = f;
      $('#bundle-name').textContent = `dropped: ${file.name}, ${file.size.toLocaleString()} bytes`;
    } else if (f.json && 'instruments' in f.json) {
      chosen.market = f;
      $('#market-upload').checked = true;
    }
  }
  matchStoredMarket();
  announce(`Bundle: ${chosen.bundle?.name ?? 'none'}; market file: ${chosen.market?.name ?? 'none'}.`);
}

function showResult(panel) {
  $('#verify-result').replaceChildren(panel);
}

async function verify(event) {
  event.preventDefault();
  const bundleInput = $('#bundle-file');
  if (bundleInput.files[0] && chosen.bundle?.name !== bundleInput.files[0].name) await chooseBundle(bundleInput.files[0]);
  if (!chosen.bundle) {
    showResult(el('div', { class: 'panel invalid' }, el('p', {}, 'Choose a proof bundle first.')));
    bundleInput.focus();
    return;
  }
  let market;
  if ($('#market-upload').checked) {
    const marketInput = $('#market-file');
    if (marketInput.files[0] && chosen.market?.name !== marketInput.files[0].name) await chooseMarket(marketInput.files[0]);
    if (!chosen.market) {
      showResult(el('div', { class: 'panel invalid' }, el('p', {}, 'Choose a market file, or a market stored here.')));
      marketInput.focus();
      return;
    }
    market = chosen.market.text;
  } else {
    const digest = $('#market-select').value;
    if (!digest) {
      showResult(el('div', { class: 'panel invalid' }, el('p', {}, 'No stored market to verify against: choose a market file.')));
      return;
    }
    try {
      const response = await fetch(`/v1/markets/${encodeURIComponent(digest)}`, { headers: { Authorization: `Bearer ${token}` } });
      if (response.status === 401) { refused(); return; }
      if (!response.ok) throw new Error(`${response.status}`);
      market = await response.text();
    } catch (error) {
      showResult(el('div', { class: 'panel invalid' }, el('p', {}, `Could not read the stored market: ${error.message}`)));
      return;
    }
  }
  const expect = {};
  if ($('#req-level').value) expect.level = $('#req-level').value;
  if ($('#req-threshold').value.trim()) expect.threshold = $('#req-threshold').value.trim().replace(/[,_\s]/g, '');
  $('#verify-button').disabled = true;
  showResult(el('div', { class: 'panel' }, el('p', {}, 'Verifying in this browser…')));
  const id = ++jobs;
  const answer = await new Promise((resolve) => {
    pending.set(id, resolve);
    verifier().postMessage({ id, market, bundle: chosen.bundle.text, expect });
  });
  $('#verify-button').disabled = false;
  const seconds = (answer.ms / 1000).toFixed(2);
  if (answer.error) {
    showResult(el('div', { class: 'panel invalid' }, el('p', { class: 'verdict-line' }, '✗ Could not verify: ', answer.error)));
    return;
  }
  const out = answer.out ?? {};
  const quote = (() => { try { return JSON.parse(market).quote; } catch { return null; } })();
  if (answer.rc === 1) {
    showResult(el('div', { class: 'panel valid', 'data-outcome': 'valid' },
      el('p', { class: 'verdict-line' }, badge(true), ` verified in this browser in ${seconds} s`),
      factList([
        ['Market', `${out.market ?? '—'}`],
        ['Level', out.level ?? '—'],
        ['Total excess at least', money(out.threshold, quote)],
        ['Accounts', (out.accounts ?? []).map((a) => `${a.venue}/${a.account}`).join(', ') || '—'],
        ['Bundle', chosen.bundle.name],
      ])));
  } else if (answer.rc === 0) {
    showResult(el('div', { class: 'panel invalid', 'data-outcome': 'invalid' },
      el('p', { class: 'verdict-line' }, badge(false), ` checked in this browser in ${seconds} s`),
      factList([['Reason', out.reason ?? '—'], ['Bundle', chosen.bundle.name]])));
  } else {
    showResult(el('div', { class: 'panel invalid', 'data-outcome': 'error' },
      el('p', { class: 'verdict-line' }, '✗ Could not verify: ', out.error ?? `verifier exit ${answer.rc}`)));
  }
}

// ---------------------------------------------------------------- wiring

async function signIn(event) {
  event.preventDefault();
  const given = $('#token').value.trim();
  if (!given) return;
  token = given;
  $('#token-alert').textContent = '';
  try {
    policy = await api('/v1/policy');
  } catch (error) {
    if (error instanceof Refused) refused();
    else $('#token-alert').textContent = `Could not reach the service: ${error.message}`;
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $('#token').value = '';
  signedIn(true);
  if (!location.hash || location.hash === '#signin') location.hash = '#verdicts';
  else await route();
  refresh();
}

function signOut() {
  token = null;
  policy = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearData();
  signedIn(false);
  $('#token-alert').textContent = '';
  show('signin');
  $('#token').focus();
}

async function start() {
  $('#token-form').addEventListener('submit', signIn);
  $('#signout').addEventListener('click', signOut);
  $('#refresh').addEventListener('click', () => refresh());
  $('#filters').addEventListener('submit', async (event) => {
    event.preventDefault();
    const venue = $('#f-venue').value.trim(), account = $('#f-account').value.trim();
    if (account && !venue) {
      setStatus('#verdicts-status', 'An account is named within its venue: give the venue too.', true);
      $('#f-venue').focus();
      return;
    }
    verdictFilter = { valid: $('#f-valid').value, venue, account };
    await load('verdicts');
    announce($('#verdicts-status').textContent);
  });
  $('#f-clear').addEventListener('click', async () => {
    $('#filters').reset();
    verdictFilter = {};
    await load('verdicts');
    announce($('#verdicts-status').textContent);
  });
  for (const name of Object.keys(LISTS)) $(`#${name}-more`).addEventListener('click', () => more(name));
  $('#verify-form').addEventListener('submit', verify);
  $('#bundle-file').addEventListener('change', (e) => e.target.files[0] && chooseBundle(e.target.files[0]));
  $('#market-file').addEventListener('change', (e) => e.target.files[0] && chooseMarket(e.target.files[0]));
  $('#market-select').addEventListener('change', () => { $('#market-stored').checked = true; });
  const drop = $('#drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); dropped([...e.dataTransfer.files]); });
  window.addEventListener('hashchange', () => route());

  try {
    config = await (await fetch('config.json', { cache: 'no-store' })).json();
  } catch { /* the defaults: no in-browser verification */ }
  signedIn(Boolean(token));
  if (token) {
    try {
      policy = await api('/v1/policy');
    } catch (error) {
      if (error instanceof Refused) refused();
    }
  }
  await route(false);
  await refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
}

start();
