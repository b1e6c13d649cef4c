// Self-test of the Teams test host (host.html + host.js) against the pinned @microsoft/teams-js,
// without the Rust service: dummy tab pages on a second origin make the same SDK calls as /tab and
// /tab/config, and headless Chromium (driven by playwright-core, no browser download) checks what
// arrives on both sides.
//
//   cd tests/tab-host && npm ci && node selftest.mjs
//
// Servers (all on 127.0.0.1, random ports):
//   host, HTTPS  - host folder + SDK + axe; the browser reaches it as
//                  https://local.teams.office.com:8080 (see README: why an allow-listed origin)
//   host, HTTP   - the same files at http://127.0.0.1:<port>, for the negative control
//   tab,  HTTP   - dummy tab.html / config.html / tab-trusting.html, a different origin
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const SDK_PATH = '/node_modules/@microsoft/teams-js/dist/umd/MicrosoftTeams.min.js';
const AXE_PATH = '/node_modules/axe-core/axe.min.js';
const TEAMS_HOST = 'local.teams.office.com';
const TEAMS_PORT = 8080;
const HOST_ORIGIN = `https://${TEAMS_HOST}:${TEAMS_PORT}`;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const sdkVersion = JSON.parse(
  fs.readFileSync(path.join(here, 'node_modules/@microsoft/teams-js/package.json'), 'utf8'),
).version;
// Subresource-integrity hash of the npm file, and the one Microsoft publishes for its CDN copy
// (package README): equal, so a page that keeps integrity= works against the local copy.
const sdkIntegrity = 'sha384-' + crypto.createHash('sha384').update(fs.readFileSync(path.join(here, SDK_PATH))).digest('base64');
const cdnIntegrity = (fs.readFileSync(path.join(here, 'node_modules/@microsoft/teams-js/README.md'), 'utf8')
  .match(/integrity="(sha384-[^"]+)"/) || [])[1];
// The hash the service ships with (tab.teams_js_integrity in config/defaults.toml).
const configIntegrity = (fs.readFileSync(path.join(here, '../../config/defaults.toml'), 'utf8')
  .match(/^teams_js_integrity\s*=\s*"(sha384-[^"]+)"/m) || [])[1];

// Everything stops after this long, whatever happens.
const watchdog = setTimeout(() => {
  console.error('selftest: watchdog expired after 120 s');
  process.exit(2);
}, 120_000);

// ------------------------------------------------------------------ servers
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.map': 'application/json' };
const HOST_FILES = new Set(['/host.html', '/host.js', SDK_PATH, SDK_PATH + '.map', AXE_PATH]);

function hostHandler(req, res) {
  const url = new URL(req.url, 'http://x');
  if (!HOST_FILES.has(url.pathname)) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  const file = path.join(here, url.pathname);
  fs.readFile(file, (err, body) => {
    if (err) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(String(err.code));
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
      'cache-control': 'no-store',
      'access-control-allow-origin': '*',
    });
    res.end(body);
  });
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

// The dummy tab pages. `sdk` is the SDK URL on the host server, as the Rust page will have it.
function contentPage(sdk, initArgs) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Dummy tab</title>
<script src="${sdk}" integrity="${sdkIntegrity}" crossorigin="anonymous"></script></head><body>
<h1>Dummy tab</h1>
<p>Theme: <span id="theme">(none)</span></p>
<pre id="result"></pre>
<script>
(async () => {
  const out = { done: false };
  const show = () => { document.getElementById('result').textContent = JSON.stringify(out); };
  try {
    // 1. initialize
    await microsoftTeams.app.initialize(${initArgs});
    out.initialized = true;
    // 2. context
    const ctx = await microsoftTeams.app.getContext();
    out.context = {
      locale: ctx.app.locale,
      theme: ctx.app.theme,
      tenant: ctx.user.tenant ? ctx.user.tenant.id : null,
      upn: ctx.user.userPrincipalName || ctx.user.loginHint,
      loginHint: ctx.user.loginHint,
      frameContext: ctx.page.frameContext,
      hostName: ctx.app.host.name,
      clientType: ctx.app.host.clientType,
      teamId: ctx.team ? ctx.team.internalId : null,
      channelId: ctx.channel ? ctx.channel.id : null,
    };
    // 3. theme handler
    microsoftTeams.app.registerOnThemeChangeHandler((theme) => {
      document.getElementById('theme').textContent = theme;
    });
    // 4. SSO token
    try {
      out.token = await microsoftTeams.authentication.getAuthToken();
    } catch (e) {
      out.tokenError = e instanceof Error ? e.message : String(e);
    }
  } catch (e) {
    out.error = e instanceof Error ? e.message : String(e);
  }
  out.done = true;
  show();
})();
</script></body></html>`;
}

function configPage(sdk) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Dummy tab config</title>
<script src="${sdk}"></script></head><body>
<h1>Dummy configuration</h1>
<pre id="result"></pre>
<script>
(async () => {
  const out = { ready: false, saves: 0 };
  const show = () => { document.getElementById('result').textContent = JSON.stringify(out); };
  try {
    await microsoftTeams.app.initialize();
    microsoftTeams.pages.config.registerOnSaveHandler((evt) => {
      out.saves += 1;
      microsoftTeams.pages.config
        .setConfig({
          entityId: 'octopus-reset',
          contentUrl: location.origin + '/tab.html?channel=1',
          websiteUrl: location.origin + '/',
          suggestedDisplayName: 'Password reset',
        })
        .then(() => evt.notifySuccess(), (e) => { out.setConfigError = e.message; show(); evt.notifyFailure(e.message); });
    });
    microsoftTeams.pages.config.setValidityState(true);
    out.ready = true;
  } catch (e) {
    out.error = e instanceof Error ? e.message : String(e);
  }
  show();
})();
</script></body></html>`;
}

function makeTabHandler(getSdkUrls) {
  return (req, res) => {
    const url = new URL(req.url, 'http://x');
    const { httpsSdk, httpSdk, httpHostOrigin } = getSdkUrls();
    let body = null;
    if (url.pathname === '/tab.html') body = contentPage(httpsSdk, '');
    else if (url.pathname === '/tab-plain.html') body = contentPage(httpSdk, '');
    else if (url.pathname === '/tab-trusting.html') body = contentPage(httpSdk, JSON.stringify([httpHostOrigin]));
    else if (url.pathname === '/config.html') body = configPage(httpsSdk);
    if (body === null) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(body);
  };
}

// ------------------------------------------------------------------ checks
let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) {
    passed += 1;
    console.log(`ok - ${name}`);
  } else {
    failed += 1;
    console.log(`not ok - ${name}${detail === undefined ? '' : `\n    got: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}`);
  }
}
function eq(name, actual, expected) {
  check(name, JSON.stringify(actual) === JSON.stringify(expected), `${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
}

function tabFrame(page) {
  return page.frames().find((f) => f !== page.mainFrame());
}

async function openHost(context, hostBase, query) {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`    [page error] ${e.message}`));
  await page.goto(`${hostBase}/host.html?${new URLSearchParams(query)}`);
  await page.waitForFunction(() => !!document.getElementById('tab-frame') || !!window.hostError);
  return page;
}

async function tabResult(page, key, timeout = 15000) {
  const frame = await (await page.waitForSelector('#tab-frame')).contentFrame();
  await frame.waitForFunction(
    (k) => {
      const t = document.getElementById('result')?.textContent;
      return t && JSON.parse(t)[k] !== undefined && JSON.parse(t)[k] !== false;
    },
    key,
    { timeout },
  );
  return JSON.parse(await frame.textContent('#result'));
}

// ------------------------------------------------------------------ main
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tab-host-selftest-'));
const servers = [];
let context;
try {
  // A throw-away self-signed certificate for the HTTPS host server (Chromium ignores its
  // trust chain with --ignore-certificate-errors; nothing is kept).
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-keyout', path.join(tmp, 'key.pem'), '-out', path.join(tmp, 'cert.pem'),
    '-subj', `/CN=${TEAMS_HOST}`, '-addext', `subjectAltName=DNS:${TEAMS_HOST}`,
  ], { stdio: 'ignore' });

  const tlsHost = https.createServer(
    { key: fs.readFileSync(path.join(tmp, 'key.pem')), cert: fs.readFileSync(path.join(tmp, 'cert.pem')) },
    hostHandler,
  );
  const plainHost = http.createServer(hostHandler);
  let urls = {};
  const tabServer = http.createServer(makeTabHandler(() => urls));
  servers.push(tlsHost, plainHost, tabServer);
  const tlsPort = await listen(tlsHost);
  const plainPort = await listen(plainHost);
  const tabPort = await listen(tabServer);
  const plainHostOrigin = `http://127.0.0.1:${plainPort}`;
  const tabOrigin = `http://127.0.0.1:${tabPort}`;
  urls = { httpsSdk: HOST_ORIGIN + SDK_PATH, httpSdk: plainHostOrigin + SDK_PATH, httpHostOrigin: plainHostOrigin };
  console.log(`# teams-js ${sdkVersion}; host ${HOST_ORIGIN} -> 127.0.0.1:${tlsPort}; plain host ${plainHostOrigin}; tab ${tabOrigin}`);

  const userDataDir = path.join(tmp, 'profile');
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
      // The host page lives at an origin the SDK trusts out of the box; nothing leaves the machine:
      // that name goes to our loopback server, every other name fails to resolve.
      `--host-resolver-rules=MAP ${TEAMS_HOST}:${TEAMS_PORT} 127.0.0.1:${tlsPort}, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost`,
      '--ignore-certificate-errors',
    ],
  });

  eq('the npm MicrosoftTeams.min.js has the integrity hash Microsoft publishes for the CDN copy', sdkIntegrity, cdnIntegrity);
  eq('config/defaults.toml tab.teams_js_integrity is the hash of the npm MicrosoftTeams.min.js', configIntegrity, sdkIntegrity);

  // ---------------------------------------------------------------- 1: content tab, token
  {
    const page = await openHost(context, HOST_ORIGIN, {
      tab: `${tabOrigin}/tab.html`, token: 'eyJ0eXAiOiJKV1QifQ.test-sso.sig', locale: 'fr-CA', theme: 'dark',
      tenant: '11111111-2222-4333-8444-555555555555', upn: 'marie@contoso.example', frameContext: 'content',
      teamId: '19:team@thread.tacv2', channelId: '19:general@thread.tacv2',
    });
    const r = await tabResult(page, 'done');
    check('content: initialize resolved in the cross-origin tab', r.initialized === true && !r.error, r);
    eq('content: ctx.app.locale', r.context?.locale, 'fr-CA');
    eq('content: ctx.app.theme', r.context?.theme, 'dark');
    eq('content: ctx.user.tenant.id', r.context?.tenant, '11111111-2222-4333-8444-555555555555');
    eq('content: ctx.user.userPrincipalName', r.context?.upn, 'marie@contoso.example');
    eq('content: ctx.user.loginHint', r.context?.loginHint, 'marie@contoso.example');
    eq('content: ctx.page.frameContext', r.context?.frameContext, 'content');
    eq('content: ctx.team.internalId / ctx.channel.id', [r.context?.teamId, r.context?.channelId], ['19:team@thread.tacv2', '19:general@thread.tacv2']);
    eq('content: ctx.app.host', [r.context?.hostName, r.context?.clientType], ['Teams', 'web']);
    eq('content: getAuthToken resolved with the token', r.token, 'eyJ0eXAiOiJKV1QifQ.test-sso.sig');

    const theme = await page.evaluate(() => window.setTheme('contrast'));
    const frame = tabFrame(page);
    await frame.waitForFunction(() => document.getElementById('theme').textContent === 'contrast', null, { timeout: 5000 })
      .catch(() => {});
    eq('content: setTheme reached the registered handler', [theme, await frame.textContent('#theme')], ['contrast', 'contrast']);

    const log = await page.evaluate(() => window.hostLog);
    const funcs = log.map((m) => m.func);
    eq('content: host received calls 1-4 in order',
      funcs.filter((f) => ['initialize', 'getContext', 'registerHandler', 'authentication.getAuthToken'].includes(f)),
      ['initialize', 'getContext', 'registerHandler', 'authentication.getAuthToken']);
    eq('content: initialize args[0] is the SDK version', log[0]?.args?.[0], sdkVersion);
    eq('content: registerHandler args', log.find((m) => m.func === 'registerHandler')?.args, ['themeChange']);
    check('content: every message came from the tab origin, with numeric id and uuid',
      log.every((m) => m.origin === tabOrigin && typeof m.id === 'number' && typeof m.uuid === 'string'), log);
    eq('content: nothing left unanswered', log.filter((m) => m.unhandled).map((m) => m.func), []);

    // axe-core from the host server runs inside the tab frame.
    await frame.addScriptTag({ url: HOST_ORIGIN + AXE_PATH });
    const axe = await frame.evaluate(async () => {
      const res = await window.axe.run(document);
      return { version: window.axe.version, violations: res.violations.map((v) => v.id) };
    });
    check(`content: axe-core ${axe.version} served by the host runs in the tab (violations: ${axe.violations.join(',') || 'none'})`,
      typeof axe.version === 'string' && Array.isArray(axe.violations), axe);
    await page.close();
  }

  // ---------------------------------------------------------------- 2: empty token -> consent error
  {
    const page = await openHost(context, HOST_ORIGIN, { tab: `${tabOrigin}/tab.html`, token: '', locale: 'pt-BR', theme: 'default' });
    const r = await tabResult(page, 'done');
    eq('empty token: ctx locale/theme', [r.context?.locale, r.context?.theme], ['pt-BR', 'default']);
    check('empty token: getAuthToken rejected, no token', r.token === undefined && !r.error, r);
    eq('empty token: rejection message', r.tokenError, 'resourceRequiresConsent');
    await page.close();
  }

  // ---------------------------------------------------------------- 3: authError given
  {
    const page = await openHost(context, HOST_ORIGIN, { tab: `${tabOrigin}/tab.html`, token: 'unused', authError: 'CancelledByUser', locale: 'en-US' });
    const r = await tabResult(page, 'done');
    check('authError: getAuthToken rejected although a token is set', r.token === undefined, r);
    eq('authError: rejection message', r.tokenError, 'CancelledByUser');
    await page.close();
  }

  // ---------------------------------------------------------------- 4: configuration page
  {
    const page = await openHost(context, HOST_ORIGIN, {
      tab: `${tabOrigin}/config.html`, frameContext: 'settings', token: 'x', locale: 'en-US',
      teamId: '19:team@thread.tacv2', channelId: '19:general@thread.tacv2',
    });
    const r = await tabResult(page, 'ready');
    check('config: registerOnSaveHandler + setValidityState accepted by the SDK', r.ready === true && !r.error, r);
    await page.waitForFunction(() => window.validityState === true, null, { timeout: 5000 }).catch(() => {});
    eq('config: host saw setValidityState(true)', await page.evaluate(() => window.validityState), true);
    const expected = {
      entityId: 'octopus-reset',
      contentUrl: `${tabOrigin}/tab.html?channel=1`,
      websiteUrl: `${tabOrigin}/`,
      suggestedDisplayName: 'Password reset',
    };
    const saved = await page.evaluate(() => window.triggerSave());
    eq('config: triggerSave resolved with what setConfig stored', saved, expected);
    eq('config: window.savedConfig', await page.evaluate(() => window.savedConfig), expected);
    const log = await page.evaluate(() => window.hostLog);
    eq('config: host message sequence', log.map((m) => m.func),
      ['initialize', 'registerHandler', 'settings.setValidityState', 'settings.setSettings', 'settings.save.success']);
    eq('config: registerHandler args', log[1]?.args, ['save']);
    eq('config: setValidityState args', log[2]?.args, [true]);
    const sent = await page.evaluate(() => window.hostSent);
    eq('config: save event sent to the tab', sent.filter((m) => m.kind === 'event').map((m) => [m.func, m.args]), [['settings.save', [{}]]]);
    await page.close();
  }

  // ---------------------------------------------------------------- 5: plain-HTTP host (negative control)
  {
    const page = await openHost(context, plainHostOrigin, { tab: `${tabOrigin}/tab-plain.html`, token: 't' });
    await page.waitForFunction(() => window.hostSent.some((m) => m.func === 'initialize'), null, { timeout: 10000 });
    await page.waitForTimeout(2500);
    const frame = tabFrame(page);
    const text = await frame.textContent('#result');
    check('plain http host: the host answered initialize, but the SDK ignored the answer (origin not trusted)',
      text === '', text);
    await page.close();
  }

  // ---------------------------------------------------------------- 6: plain-HTTP host, tab trusts it
  {
    const page = await openHost(context, plainHostOrigin, { tab: `${tabOrigin}/tab-trusting.html`, token: 'tok-plain', locale: 'fr-CA' });
    const r = await tabResult(page, 'done');
    eq('plain http host + initialize([hostOrigin]): token and locale arrive', [r.token, r.context?.locale], ['tok-plain', 'fr-CA']);
    await page.close();
  }
} catch (e) {
  failed += 1;
  console.log(`not ok - selftest aborted: ${e && e.stack ? e.stack : e}`);
} finally {
  if (context) await context.close().catch(() => {});
  for (const s of servers) s.close();
  fs.rmSync(tmp, { recursive: true, force: true });
  clearTimeout(watchdog);
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
