// Self-test of the botbuilder-js baseline bot, entirely on 127.0.0.1.
//
// Starts local stand-ins for the Bot Framework channel side:
//   - OpenID metadata   GET /v1/.well-known/openidconfiguration -> {issuer, jwks_uri}
//   - JWKS              GET /v1/.well-known/keys -> one fresh RSA key (kid, endorsements ["msteams"])
//   - token endpoint    POST /token (client_credentials) -> {access_token, expires_in}
//   - Bot Connector     POST {serviceUrl}v3/conversations/{id}/activities[/{replyTo}] -> {id}
// then runs bot.mjs as a child process and checks:
//   1. an authenticated Teams message activity -> 200, exactly one reply on the connector,
//      carrying the expanded welcome card and "Authorization: Bearer <stand-in token>";
//   2. the same activity with a JWT signed by another key (same kid) -> 401, no reply;
//   3. a second authenticated message -> 200, one more reply, token endpoint not called again.
// Prints one summary line (--verbose: also the checks and the first recorded reply, on
// stderr); exits non-zero on any failure.

import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import net from 'node:net';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const cardsDir = path.resolve(here, '..', '..', 'adaptive-cards');
const sdkVersion = JSON.parse(readFileSync(path.join(here, 'node_modules', 'botbuilder', 'package.json'), 'utf8')).version;

const APP_ID = randomUUID();
const APP_PASSWORD = randomBytes(24).toString('base64url');
const TENANT_ID = randomUUID();
const ISSUER = 'https://api.botframework.com';
const KID = `selftest-${randomBytes(6).toString('hex')}`;
const ACCESS_TOKEN = `stand-in-token-${randomBytes(16).toString('hex')}`;

const checks = [];
function check(name, ok, detail = '') {
    checks.push({ name, ok: Boolean(ok), detail });
}

// ---------------------------------------------------------------- helpers
const b64url = (buf) => Buffer.from(buf).toString('base64url');

function signJwt(privateKey, kid, payload) {
    const header = { alg: 'RS256', typ: 'JWT', kid };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
    const signature = sign('RSA-SHA256', Buffer.from(input), privateKey);
    return `${input}.${b64url(signature)}`;
}

function readBody(req) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        req.on('error', reject);
    });
}

function listen(server) {
    return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(server.address().port));
    });
}

async function freePort() {
    const srv = net.createServer();
    const port = await listen(srv);
    await new Promise((r) => srv.close(r));
    return port;
}

async function waitForPort(port, child, timeoutMs = 20000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`bot.mjs exited early with code ${child.exitCode}`);
        const ok = await new Promise((resolve) => {
            const s = net.connect(port, '127.0.0.1');
            s.once('connect', () => { s.destroy(); resolve(true); });
            s.once('error', () => resolve(false));
        });
        if (ok) return;
        await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`bot.mjs did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

// Independent expansion of the welcome template (plain ${path} substitution),
// so the check does not rely on adaptivecards-templating itself.
function expandSimple(node, data) {
    if (typeof node === 'string') {
        return node.replace(/\$\{([A-Za-z0-9_.]+)\}/g, (_, p) => p.split('.').reduce((o, k) => o[k], data));
    }
    if (Array.isArray(node)) return node.map((n) => expandSimple(n, data));
    if (node && typeof node === 'object') {
        return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, expandSimple(v, data)]));
    }
    return node;
}

// ---------------------------------------------------------------- stand-ins
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const { privateKey: wrongKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = publicKey.export({ format: 'jwk' });

const seen = { metadata: 0, jwks: 0, tokenRequests: [], replies: [], unexpected: [] };

const channel = createServer(async (req, res) => {
    const body = await readBody(req);
    const url = new URL(req.url, 'http://127.0.0.1');
    const json = (status, obj) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(obj));
    };
    if (req.method === 'GET' && url.pathname === '/v1/.well-known/openidconfiguration') {
        seen.metadata++;
        return json(200, {
            issuer: ISSUER,
            authorization_endpoint: 'https://invalid.example/unused',
            jwks_uri: `${channelBase}/v1/.well-known/keys`,
            id_token_signing_alg_values_supported: ['RS256'],
            token_endpoint_auth_methods_supported: ['private_key_jwt'],
        });
    }
    if (req.method === 'GET' && url.pathname === '/v1/.well-known/keys') {
        seen.jwks++;
        return json(200, { keys: [{ kty: 'RSA', use: 'sig', kid: KID, n: jwk.n, e: jwk.e, endorsements: ['msteams'] }] });
    }
    if (req.method === 'POST' && url.pathname === '/token') {
        const form = Object.fromEntries(new URLSearchParams(body));
        seen.tokenRequests.push({ contentType: req.headers['content-type'], form });
        if (form.grant_type !== 'client_credentials' || form.client_id !== APP_ID || form.client_secret !== APP_PASSWORD) {
            return json(401, { error: 'invalid_client' });
        }
        return json(200, { token_type: 'Bearer', expires_in: 3600, ext_expires_in: 3600, access_token: ACCESS_TOKEN });
    }
    const m = /^\/connector\/v3\/conversations\/([^/]+)\/activities(?:\/([^/]+))?$/.exec(url.pathname);
    if (req.method === 'POST' && m) {
        let activity = null;
        try { activity = JSON.parse(body); } catch { /* recorded as null */ }
        seen.replies.push({
            conversationId: decodeURIComponent(m[1]),
            replyToId: m[2] === undefined ? undefined : decodeURIComponent(m[2]),
            authorization: req.headers.authorization,
            activity,
        });
        return json(200, { id: `reply-${seen.replies.length}` });
    }
    seen.unexpected.push(`${req.method} ${req.url}`);
    return json(404, { error: 'not found' });
});

const channelPort = await listen(channel);
const channelBase = `http://127.0.0.1:${channelPort}`;
const serviceUrl = `${channelBase}/connector/`;

// ---------------------------------------------------------------- bot
const botPort = await freePort();
const childOut = [];
const child = spawn(process.execPath, [path.join(here, 'bot.mjs')], {
    cwd: here,
    env: {
        ...process.env,
        PORT: String(botPort),
        MICROSOFT_APP_ID: APP_ID,
        MICROSOFT_APP_PASSWORD: APP_PASSWORD,
        MICROSOFT_APP_TENANT_ID: TENANT_ID,
        OPENID_METADATA_URL: `${channelBase}/v1/.well-known/openidconfiguration`,
        TOKEN_ISSUER: ISSUER,
        TOKEN_URL: `${channelBase}/token`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
});
child.stdout.on('data', (d) => childOut.push(['out', d.toString()]));
child.stderr.on('data', (d) => childOut.push(['err', d.toString()]));

function activity(id) {
    return {
        type: 'message',
        id,
        timestamp: new Date().toISOString(),
        localTimestamp: new Date().toISOString(),
        serviceUrl,
        channelId: 'msteams',
        from: { id: '29:1selftest-user', name: 'Utilisateur Test', aadObjectId: randomUUID() },
        conversation: { conversationType: 'personal', tenantId: TENANT_ID, id: 'a:1selftest;messageid=1' },
        recipient: { id: `28:${APP_ID}`, name: 'Octopus' },
        text: 'aide',
        textFormat: 'plain',
        locale: 'fr-CA',
        channelData: { tenant: { id: TENANT_ID } },
    };
}

function channelToken(key) {
    const now = Math.floor(Date.now() / 1000);
    return signJwt(key, KID, { serviceurl: serviceUrl, nbf: now - 60, exp: now + 3600, iss: ISSUER, aud: APP_ID });
}

async function post(act, token) {
    const res = await fetch(`http://127.0.0.1:${botPort}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${token}` },
        body: JSON.stringify(act),
    });
    return { status: res.status, body: await res.text() };
}

const settle = () => new Promise((r) => setTimeout(r, 200));

let fatal = null;
try {
    await waitForPort(botPort, child);
    const expectedCard = expandSimple(
        JSON.parse(readFileSync(path.join(cardsDir, 'welcome.json'), 'utf8')),
        JSON.parse(readFileSync(path.join(cardsDir, 'samples', 'welcome.fr-CA.json'), 'utf8')),
    );

    // 1. authenticated message
    const logsBefore = childOut.length;
    const good = activity('1700000000001');
    const r1 = await post(good, channelToken(privateKey));
    await settle();
    check('authenticated message -> 200', r1.status === 200, `got ${r1.status} ${r1.body}`);
    check('exactly one reply recorded', seen.replies.length === 1, `got ${seen.replies.length}`);
    const reply = seen.replies[0];
    if (reply) {
        check('reply posted to the conversation, replying to the inbound activity',
            reply.conversationId === good.conversation.id && reply.replyToId === good.id,
            `conversation ${reply.conversationId}, replyTo ${reply.replyToId}`);
        check('reply Authorization is the stand-in token', reply.authorization === `Bearer ${ACCESS_TOKEN}`,
            `got ${reply.authorization}`);
        const atts = reply.activity?.attachments ?? [];
        check('reply is a message with one Adaptive Card attachment',
            reply.activity?.type === 'message' && atts.length === 1 &&
            atts[0].contentType === 'application/vnd.microsoft.card.adaptive',
            JSON.stringify(reply.activity)?.slice(0, 300));
        check('card content is the expanded welcome.fr-CA card', isDeepStrictEqual(atts[0]?.content, expectedCard),
            JSON.stringify(atts[0]?.content)?.slice(0, 300));
    }
    check('OpenID metadata and JWKS fetched from the stand-in', seen.metadata >= 1 && seen.jwks >= 1,
        `metadata ${seen.metadata}, jwks ${seen.jwks}`);
    const tr = seen.tokenRequests[0];
    check('one client_credentials token request with the app id/secret and Bot Framework scope',
        seen.tokenRequests.length === 1 && tr.form.grant_type === 'client_credentials' &&
        tr.form.client_id === APP_ID && tr.form.client_secret === APP_PASSWORD &&
        tr.form.scope === 'https://api.botframework.com/.default' &&
        /^application\/x-www-form-urlencoded/.test(tr.contentType ?? ''),
        JSON.stringify(seen.tokenRequests.map((t) => ({ ...t.form, client_secret: '***' }))));
    check('bot logged nothing for the request', childOut.length === logsBefore,
        childOut.slice(logsBefore).map(([, s]) => s).join('').slice(0, 300));

    // 2. bad signature: same claims and kid, signed with another key
    const repliesBefore = seen.replies.length;
    const r2 = await post(activity('1700000000002'), channelToken(wrongKey));
    await settle();
    check('bad signature -> 401', r2.status === 401, `got ${r2.status} ${r2.body.slice(0, 200)}`);
    check('no reply for the rejected request', seen.replies.length === repliesBefore, `got ${seen.replies.length - repliesBefore}`);

    // 3. second authenticated message: the app token is served from the SDK's cache
    const r3 = await post(activity('1700000000003'), channelToken(privateKey));
    await settle();
    check('second authenticated message -> 200 with one more reply',
        r3.status === 200 && seen.replies.length === repliesBefore + 1, `got ${r3.status}, replies ${seen.replies.length}`);
    check('app token reused from cache (no second token request)', seen.tokenRequests.length === 1,
        `token requests ${seen.tokenRequests.length}`);
    check('no unexpected requests on the stand-ins', seen.unexpected.length === 0, seen.unexpected.join(', '));
} catch (err) {
    fatal = err;
} finally {
    child.kill('SIGTERM');
    channel.close();
    channel.closeAllConnections?.();
}

if (process.argv.includes('--verbose')) {
    console.error(JSON.stringify({ botbuilder: sdkVersion, checks, tokenRequests: seen.tokenRequests.map((t) => ({ ...t, form: { ...t.form, client_secret: '***' } })), firstReply: seen.replies[0] }, null, 2));
}

const failed = checks.filter((c) => !c.ok);
if (fatal || failed.length) {
    for (const c of failed) console.error(`FAIL ${c.name}: ${c.detail}`);
    if (fatal) console.error(`FATAL ${fatal.stack ?? fatal}`);
    const logs = childOut.map(([, s]) => s).join('');
    if (logs) console.error(`--- bot.mjs output ---\n${logs.slice(-4000)}`);
}
const passed = checks.length - failed.length;
console.log(`botbuilder-baseline: ${passed} passed, ${failed.length + (fatal ? 1 : 0)} failed` +
    (fatal ? ' (fatal error)' : ''));
process.exit(fatal || failed.length ? 1 : 0);
