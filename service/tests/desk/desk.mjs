// The credit desk's page in a real browser (issue 23): headless Chromium from the
// distribution (/usr/bin/chromium, never a downloaded one) driven by puppeteer-core.
//
// Starts a real `zkmargin serve` on loopback (with --desk-wasm), publishes a signed
// market and submits two bundles through the CLI (one valid, one invalid), then opens
// /desk/ and checks: a wrong token shows an alert and no data; the token opens both
// verdicts with the right outcome, the filters, a verdict's detail, an account's
// standing, the markets; and the in-browser verification of a valid and a tampered
// bundle, during which the page sends the bundle nowhere. A screenshot of each screen is
// saved under target/desk-screenshots/.
//
//   node --test service/tests/desk/desk.mjs     (after `npm ci` in service/tests/desk)
//
// Paths (defaults under target/): ZKMARGIN_BIN, ZKMARGIN_WASM, ZKMARGIN_PARAMS,
// DESK_SCREENSHOTS, CHROMIUM (default /usr/bin/chromium); DESK_DOCS_SHOT=docs/desk.png also
// writes the README's picture. .ci/desk.sh builds and runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const target = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(root, 'target');
const zk = process.env.ZKMARGIN_BIN ?? path.join(target, 'release', 'zkmargin');
const wasm = process.env.ZKMARGIN_WASM ?? path.join(target, 'wasm32-unknown-unknown', 'release', 'zkmargin_verifier.wasm');
const params = process.env.ZKMARGIN_PARAMS ?? path.join(root, 'params');
const shots = process.env.DESK_SCREENSHOTS ?? path.join(target, 'desk-screenshots');
const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
const example = (file) => path.join(root, 'examples', file);

const TOKEN = 'desk-browser-token-5d1f0c';
const AS_OF = '2026-11-25T07:30:00Z';

const work = mkdtempSync(path.join(tmpdir(), 'zkmargin-desk-'));
const file = (name) => path.join(work, name);

function zkmargin(...args) {
  return execFileSync(zk, args, { encoding: 'utf8', env: { ...process.env, ZKMARGIN_PARAMS: params }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Keys, the signed market, the venues' attestations, a policy and the desk's token. */
function world() {
  for (const name of ['publisher', 'deribit', 'okx', 'binance']) zkmargin('keygen', '--out', file(name));
  zkmargin('sign-market', '--key', file('publisher.key'), '--market', example('market.json'), '--out', file('market.sig'));
  const rows = JSON.parse(zkmargin('commit', '--json', '--portfolio', example('portfolio.json')));
  for (const row of rows) {
    zkmargin('attest', '--key', file(`${row.venue}.key`), '--venue', row.venue, '--account', row.account,
      '--commitment', row.commitment, '--as-of', AS_OF, '--out', file(`${row.venue}.att`));
  }
  const key = (name) => readFileSync(file(`${name}.pub`), 'utf8').trim();
  writeFileSync(file('policy.json'), JSON.stringify({
    publishers: [key('publisher')],
    venues: { deribit: [key('deribit')], okx: [key('okx')], binance: [key('binance')] },
    max_age_seconds: 86400,
    require_nonce: true,
    nonce_ttl_seconds: 3600,
    standing_ttl_seconds: 86400,
    max_k: 14,
  }));
  writeFileSync(file('token'), `${TOKEN}\n`);
}

/** `zkmargin serve` on a free loopback port; resolves to [process, base URL]. */
async function serve() {
  const child = spawn(zk, ['serve', '--listen', '127.0.0.1:0', '--db', file('venue.db'), '--policy', file('policy.json'),
    '--token-file', file('token'), '--workers', '2', '--desk-wasm', wasm],
  { env: { ...process.env, ZKMARGIN_PARAMS: params }, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`zkmargin serve exited with ${code}`)));
  });
  const base = line.trim().replace(/^listening on /, '');
  assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
  return [child, base];
}

async function metric(base, pattern) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => pattern.test(l));
  return line ? Number(line.split(' ').pop()) : 0;
}

test('the credit desk in headless Chromium', { timeout: 300_000 }, async (t) => {
  mkdirSync(shots, { recursive: true });
  world();
  const [service, base] = await serve();
  let browser;
  t.after(async () => {
    await browser?.close();
    service.kill();
    rmSync(work, { recursive: true, force: true });
  });

  // The three parties through the CLI: a published market, a valid bundle, and an invalid
  // one (a statement that claims more than was proved, under a fresh nonce).
  zkmargin('publish', '--server', base, '--market', example('market.json'), '--market-sig', file('market.sig'));
  const nonce = zkmargin('challenge', '--server', base).trim();
  zkmargin('prove', '--market', example('market.json'), '--portfolio', example('portfolio.json'), '--level', 'initial',
    '--threshold', '1000', '--nonce', nonce, '--attestation', file('deribit.att'), '--attestation', file('okx.att'),
    '--attestation', file('binance.att'), '--out', file('proof.json'));
  const valid = JSON.parse(zkmargin('submit', '--server', base, '--proof', file('proof.json')));
  assert.equal(valid.valid, true);
  const bundle = JSON.parse(readFileSync(file('proof.json'), 'utf8'));
  const raised = structuredClone(bundle);
  raised.statement.threshold = '1000.000001';
  raised.statement.nonce = zkmargin('challenge', '--server', base).trim();
  writeFileSync(file('raised.json'), JSON.stringify(raised));
  let invalid;
  try {
    zkmargin('submit', '--server', base, '--proof', file('raised.json'));
  } catch (e) {
    assert.equal(e.status, 1);
    invalid = JSON.parse(e.stdout);
  }
  assert.equal(invalid?.valid, false);
  // For the in-browser check: one proof byte flipped.
  const tampered = structuredClone(bundle);
  const proof = Buffer.from(tampered.proof, 'hex');
  proof[proof.length >> 1] ^= 1;
  tampered.proof = proof.toString('hex');
  writeFileSync(file('tampered.json'), JSON.stringify(tampered));

  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    userDataDir: mkdtempSync(path.join(work, 'chromium-')),
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    defaultViewport: { width: 1360, height: 900 },
  });
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/401/.test(m.text())) problems.push(`console: ${m.text()}`); });
  const requests = [];
  page.on('request', (r) => requests.push({ url: r.url(), method: r.method(), body: r.postData() ?? '' }));
  const shot = (name) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  const text = (selector) => page.$eval(selector, (e) => e.textContent.trim());
  const rows = (table) => page.$$eval(`${table} tbody tr[data-id], ${table} tbody tr[data-account]`, (trs) => trs.length);

  await t.test('the page and its files come from the service, under a strict policy', async () => {
    const response = await page.goto(`${base}/desk`, { waitUntil: 'networkidle0' });
    assert.equal(new URL(page.url()).pathname, '/desk/');
    assert.match(response.headers()['content-security-policy'], /default-src 'self'/);
    assert.equal(await page.$eval('#token', (e) => e.type), 'password');
    assert.equal(await page.$eval('label[for=token]', (e) => e.textContent.trim()), 'Desk token');
  });

  await t.test('a wrong token shows an alert and no data', async () => {
    await page.type('#token', 'not-the-desk-token');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('#token-alert').textContent.length > 0);
    assert.equal(await page.$eval('#token-alert', (e) => e.getAttribute('role')), 'alert');
    assert.match(await text('#token-alert'), /not accepted/);
    assert.equal(await page.$eval('#view-verdicts', (e) => e.hidden), true);
    assert.equal(await rows('#verdicts-table'), 0);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await shot('1-token-refused');
  });

  await t.test('the token opens both verdicts with their outcome', async () => {
    await page.type('#token', TOKEN);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#verdicts-table tbody tr[data-id]');
    assert.equal(await page.$eval('#token-alert', (e) => e.textContent), '');
    assert.equal(await rows('#verdicts-table'), 2);
    const outcome = (id) => text(`#verdicts-table tr[data-id="${id}"] .outcome`);
    assert.match(await outcome(valid.id), /^✓ Valid$/);
    assert.match(await outcome(invalid.id), /^✗ Invalid$/);
    // Newest first: the invalid one came last.
    assert.equal(await page.$eval('#verdicts-table tbody tr', (tr) => tr.dataset.id), invalid.id);
    assert.match(await text(`#verdicts-table tr[data-id="${valid.id}"]`), /excess ≥ 1,000\.00 USD/);
    assert.equal(await page.evaluate(() => sessionStorage.length), 1);
    await shot('2-verdicts');
    // The README's picture (DESK_DOCS_SHOT=docs/desk.png): this screen, without the empty page below.
    if (process.env.DESK_DOCS_SHOT) {
      const bottom = await page.$eval('#view-verdicts', (e) => e.getBoundingClientRect().bottom);
      await page.screenshot({ path: process.env.DESK_DOCS_SHOT, clip: { x: 0, y: 0, width: 1360, height: Math.ceil(bottom) + 24 } });
    }
  });

  await t.test('the filters', async () => {
    await page.select('#f-valid', 'false');
    await page.click('#filters button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#verdicts-table tbody tr[data-id]').length === 1);
    assert.equal(await page.$eval('#verdicts-table tbody tr', (tr) => tr.dataset.id), invalid.id);
    await page.select('#f-valid', '');
    await page.type('#f-venue', 'deribit');
    await page.type('#f-account', 'sub-1');
    await page.click('#filters button[type=submit]');
    // Only the valid verdict is listed under the account: an invalid bundle's accounts
    // are unproven claims, so its record keeps none.
    await page.waitForFunction(
      (id) => [...document.querySelectorAll('#verdicts-table tbody tr[data-id]')].map((tr) => tr.dataset.id).join() === id,
      {},
      valid.id,
    );
    await Promise.all([page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/proofs'), page.click('#f-clear')]);
    await page.waitForNetworkIdle();
  });

  await t.test('a refresh shows a new verdict on top and announces it', async () => {
    const again = structuredClone(raised);
    again.statement.threshold = '1000.000002';
    again.statement.nonce = zkmargin('challenge', '--server', base).trim();
    writeFileSync(file('again.json'), JSON.stringify(again));
    const third = (() => {
      try { zkmargin('submit', '--server', base, '--proof', file('again.json')); } catch (e) { return JSON.parse(e.stdout); }
      return null;
    })();
    assert.equal(third?.valid, false);
    await page.click('#refresh');
    await page.waitForFunction(() => document.querySelectorAll('#verdicts-table tbody tr[data-id]').length === 3);
    assert.equal(await page.$eval('#verdicts-table tbody tr', (tr) => tr.dataset.id), third.id);
    await page.waitForFunction(() => document.querySelector('#announce').textContent === '1 new verdict.');
    assert.equal(await page.$eval('#announce', (e) => e.getAttribute('aria-live')), 'polite');
  });

  await t.test("a verdict's detail", async () => {
    // By keyboard: Tab from the filters to the valid verdict's link (a visible focus
    // ring on the way), Enter.
    await page.focus('#f-clear');
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate((id) => document.activeElement?.closest('tr')?.dataset.id === id, valid.id)) break;
    }
    const focused = await page.evaluate(() => {
      const style = getComputedStyle(document.activeElement);
      return { row: document.activeElement.closest('tr')?.dataset.id, outline: `${style.outlineStyle} ${style.outlineWidth}` };
    });
    assert.deepEqual(focused, { row: valid.id, outline: 'solid 3px' });
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => !document.querySelector('#view-proof').hidden && document.querySelector('#proof-body h2'));
    const detail = await text('#view-proof');
    assert.match(detail, /✓ Valid/);
    assert.match(detail, /Total excess at least1,000\.00 USD/);
    assert.match(detail, new RegExp(valid.id));
    for (const account of ['deribit/sub-1', 'okx/main', 'binance/iso-btc']) assert.match(detail, new RegExp(account));
    assert.doesNotMatch(detail, /not in the policy/);
    await shot('3-verdict-detail');
    await page.goto(`${base}/desk/#proof/${invalid.id}`, { waitUntil: 'networkidle0' });
    await page.waitForFunction(() => document.querySelector('#proof-body h2'));
    const bad = await text('#view-proof');
    assert.match(bad, /✗ Invalid/);
    assert.match(bad, /1,000\.000001 USD/);
    assert.match(bad, /no bundle for this verdict/);
    await shot('4-invalid-detail');
  });

  await t.test("an account's standing", async () => {
    await page.click('a[data-view=accounts]');
    await page.waitForSelector('#accounts-table tbody tr[data-account]');
    assert.equal(await rows('#accounts-table'), 3);
    const sub1 = await text('#accounts-table tr[data-account="deribit/sub-1"]');
    assert.match(sub1, /In good standing/);
    assert.match(sub1, new RegExp(valid.id.slice(0, 8)));
    assert.match(await text('#ttl-note'), /1 d/);
    await shot('5-standing');
  });

  await t.test('the stored markets and their signatures', async () => {
    await page.click('a[data-view=markets]');
    await page.waitForSelector('#markets-table tbody tr th');
    const market = await text('#markets-table tbody tr');
    assert.match(market, new RegExp(bundle.market.id));
    assert.match(market, /listed publisher/);
    await shot('6-markets');
  });

  await t.test('verified in this browser: valid, then tampered; the bundle goes nowhere', async () => {
    const posts = () => metric(base, /^zkmargin_http_requests_total\{method="POST",route="\/v1\/proofs"/);
    const postsBefore = await posts();
    await page.click('a[data-view=verify]');
    await page.waitForFunction(() => !document.querySelector('#verify-fields').disabled);
    requests.length = 0;
    const check = async (bundleFile, outcome, screenshot) => {
      const input = await page.$('#bundle-file');
      await input.uploadFile(bundleFile);
      await page.waitForFunction(() => document.querySelector('#bundle-name').textContent.length > 0);
      await page.evaluate(() => { document.querySelector('#verify-result').textContent = ''; });
      await page.click('#verify-button');
      await page.waitForSelector('#verify-result [data-outcome]', { timeout: 120_000 });
      assert.equal(await page.$eval('#verify-result [data-outcome]', (e) => e.dataset.outcome), outcome, await text('#verify-result'));
      assert.match(await text('#verify-result'), /in this browser in \d+\.\d\d s/);
      await shot(screenshot);
    };
    await check(file('proof.json'), 'valid', '7-verify-valid');
    assert.match(await text('#verify-result'), /excess at least1,000\.00 USD/);
    await check(file('tampered.json'), 'invalid', '8-verify-invalid');
    // Nothing left the page but GETs of the verifier, its parameters and the stored
    // market; no request carried any part of a bundle.
    const secrets = [bundle.proof.slice(0, 64), tampered.proof.slice(0, 64), bundle.statement.nonce,
      bundle.statement.accounts[0].commitment];
    assert.ok(requests.length > 0);
    for (const r of requests) {
      assert.equal(r.method, 'GET', `${r.method} ${r.url}`);
      for (const s of secrets) assert.ok(!r.url.includes(s) && !r.body.includes(s), `${r.url} carries the bundle`);
    }
    const paths = requests.map((r) => new URL(r.url).pathname);
    console.log(`requests during the in-browser checks: ${paths.join(' ')}`);
    assert.ok(paths.includes(`/v1/markets/${bundle.market.digest}`), paths.join(' '));
    // The recorder sees the worker's own requests too (the module and its parameters).
    assert.ok(paths.includes('/desk/verifier.wasm') && paths.some((p) => p.startsWith('/desk/params/')), paths.join(' '));
    assert.ok(paths.every((p) => ['/desk/worker.js', '/desk/calls.mjs', '/desk/verifier.wasm', `/v1/markets/${bundle.market.digest}`, '/healthz', '/v1/policy'].includes(p) || /^\/desk\/params\/\d+$/.test(p)), paths.join(' '));
    assert.equal(await posts(), postsBefore, 'a bundle was posted to the service');
  });

  await t.test('without --desk-wasm the in-browser check is off, and says how to turn it on', async () => {
    const plain = spawn(zk, ['serve', '--listen', '127.0.0.1:0', '--db', file('plain.db'), '--policy', file('policy.json'),
      '--token-file', file('token')], { env: { ...process.env, ZKMARGIN_PARAMS: params }, stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const line = await new Promise((resolve) => createInterface({ input: plain.stdout }).once('line', resolve));
      const other = await browser.newPage();
      await other.goto(`${line.trim().replace(/^listening on /, '')}/desk/#verify`, { waitUntil: 'networkidle0' });
      await other.waitForFunction(() => !document.querySelector('#wasm-off').hidden);
      assert.match(await other.$eval('#wasm-off', (e) => e.textContent), /disabled.*--desk-wasm/);
      assert.equal(await other.$eval('#verify-fields', (e) => e.disabled), true);
      await other.screenshot({ path: path.join(shots, '9-verify-disabled.png'), fullPage: true });
      await other.close();
    } finally {
      plain.kill();
    }
  });

  await t.test('a token refused later clears everything read with it', async () => {
    await page.click('#signout');
    await page.waitForFunction(() => !document.querySelector('#view-signin').hidden);
    await page.type('#token', 'stolen-or-stale');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('#token-alert').textContent.includes('not accepted'));
    for (const table of ['#verdicts-table', '#accounts-table', '#markets-table']) assert.equal(await rows(table), 0);
    assert.equal(await page.$eval('#proof-body', (e) => e.children.length), 0);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  assert.deepEqual(problems, []);
});
