// The console in a real browser: headless Debian Chromium driven by playwright-core.
// Run by appliance/tests/browser.rs against a real `stella-appliance serve` on loopback:
//
//   NODE_PATH=.tools/node/node_modules node console_flow.js BASE PASSWORD KIT SIG SBOM OUTDIR
//
// Checks, in order (the first failure exits 1 with a message naming the step):
//  1. JavaScript off: log in and see the dashboard tiles (the console works without JS).
//  2. JavaScript on: log in, see the tiles, upload kit #2 with its signature and see the
//     numbered report, copy a client token from the tokens page, scan the SBOM through the
//     API with it, open the scan (fail), mute the critical finding, re-scan (pass).
//  3. Every page carries the CSP; the browser logs no errors (no CSP violations, no
//     script errors) on any page.
// Screenshots of every page go to OUTDIR.
'use strict';
const { chromium } = require('playwright-core');
const path = require('path');

const [base, password, kitPath, sigPath, sbomPath, outDir] = process.argv.slice(2);
const CRITICAL = 'GHSA-xvch-5gv4-984h';
const CLIENT = 'ci-payments';
const log = (...a) => console.log('[console_flow]', ...a);

function check(cond, msg) {
  if (!cond) throw new Error(`check failed: ${msg}`);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(outDir, `${name}.png`), fullPage: true });
}

async function login(page) {
  await page.goto(`${base}/login`);
  await page.fill('input[name=user]', 'admin');
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
}

async function tiles(page) {
  const labels = await page.locator('.tile .tile-label').allTextContents();
  check(labels.includes('Feed age'), `dashboard tiles ${JSON.stringify(labels)} include "Feed age"`);
  check(labels.includes('Active kit'), `dashboard tiles ${JSON.stringify(labels)} include "Active kit"`);
  return labels;
}

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    // ---- 1. JavaScript disabled: login + dashboard -----------------------------------
    {
      const ctx = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 800 } });
      const page = await ctx.newPage();
      await login(page);
      const labels = await tiles(page);
      log('no-JS dashboard tiles:', labels.join(', '));
      await shot(page, 'nojs-dashboard');
      await ctx.close();
    }

    // ---- 2. JavaScript enabled: the whole operator flow --------------------------------
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 850 } });
    const page = await ctx.newPage();
    const problems = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    const csp = [];
    page.on('response', (r) => {
      if (r.url().startsWith(base) && r.request().resourceType() === 'document') {
        csp.push([r.url(), r.headers()['content-security-policy'] || '']);
      }
    });

    await page.goto(`${base}/`);
    check(page.url().startsWith(`${base}/login`), 'an anonymous visit is sent to the login page');
    await shot(page, 'login');
    await login(page);
    await tiles(page);
    await shot(page, 'dashboard');

    // Upload kit #2 with its detached signature; the numbered report follows.
    await page.goto(`${base}/kits`);
    await page.setInputFiles('#kit', kitPath);
    await page.setInputFiles('#signature', sigPath);
    await Promise.all([page.waitForLoadState('load'), page.click('form[enctype] button[type=submit]')]);
    await page.waitForSelector('ol.checks');
    const report = await page.textContent('main');
    check(report.includes('All checks passed'), 'the kit upload report says all checks passed');
    const nChecks = await page.locator('ol.checks li.check-ok').count();
    check(nChecks >= 9, `the report lists the numbered checks (${nChecks})`);
    check((await page.locator('li.check-bad').count()) === 0, 'no failed check');
    await shot(page, 'import-report');
    await page.goto(`${base}/`);
    check((await page.textContent('main')).includes('plant-7-0002'), 'the dashboard shows kit #2 active');
    await shot(page, 'dashboard-after-import');

    // The tokens page: copy the client's re-signed token (as a CI team would).
    await page.goto(`${base}/tokens`);
    const token = (await page.inputValue(`textarea[aria-label="Token of ${CLIENT}"]`)).trim();
    check(token.split('.').length === 3, 'the token is a JWT');
    await shot(page, 'tokens');

    // CI scans the SBOM through the API with that token.
    const fs = require('fs');
    const sbom = fs.readFileSync(sbomPath);
    const scanOnce = async () => {
      const r = await fetch(`${base}/api/v1/scan`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: sbom,
      });
      check(r.status === 200, `API scan answers 200 (got ${r.status})`);
      return r.json();
    };
    const first = await scanOnce();
    check(first.verdict === 'fail', `first scan fails (got ${first.verdict})`);

    // Open the scan in the console: verdict fail, the critical finding listed.
    await page.goto(`${base}/scans/${first.scan_id}`);
    check(await page.locator('.verdict-big.verdict-fail').count() === 1, 'the scan page shows verdict fail');
    const row = page.locator('tr', { hasText: CRITICAL });
    check(await row.count() >= 1, 'the critical finding is listed');
    await shot(page, 'scan-fail');

    // Mute it: reason required, this package only.
    await Promise.all([page.waitForURL(/\/mute/), row.first().locator('a', { hasText: 'Mute' }).click()]);
    await page.fill('textarea[name=reason]', 'minimist only parses our own CLI flags');
    await page.check('input[name=scope][value=package]');
    await shot(page, 'mute-form');
    // (The sidebar's "Sign out" is a submit button too: click the form's own.)
    await Promise.all([
      page.waitForURL(new RegExp(`/scans/${first.scan_id}(\\?.*)?$`)),
      page.click('button:has-text("Mute finding")'),
    ]);
    check(await page.locator('tr.is-muted', { hasText: CRITICAL }).count() >= 1, 'the finding is greyed as muted');
    await shot(page, 'scan-muted');

    // Re-scan the same SBOM: it passes now; the console shows the new verdict.
    const second = await scanOnce();
    check(second.verdict === 'pass', `re-scan passes (got ${second.verdict})`);
    await page.goto(`${base}/scans/${second.scan_id}`);
    check(await page.locator('.verdict-big.verdict-pass').count() === 1, 'the re-scan page shows verdict pass');
    await shot(page, 'scan-pass');
    await page.goto(`${base}/scans`);
    await shot(page, 'scans');
    await page.goto(`${base}/policy`);
    await shot(page, 'policy');
    await page.goto(`${base}/audit`);
    check((await page.textContent('main')).includes('policy.mute'), 'the audit log shows the mute');
    await shot(page, 'audit');

    // ---- 3. CSP on every page, nothing refused or broken in the console log -------------
    check(csp.length >= 8, `documents seen (${csp.length})`);
    for (const [url, value] of csp) {
      check(value.includes("script-src 'self'") && value.includes("default-src 'self'"), `CSP on ${url}: ${value}`);
    }
    check(problems.length === 0, `no browser errors: ${JSON.stringify(problems)}`);
    log(JSON.stringify({ ok: true, documents: csp.length, checks: nChecks, first: first.scan_id, second: second.scan_id }));
    await ctx.close();
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error('[console_flow] FAILED:', e.message || e); process.exit(1); });
