#!/usr/bin/env node
// Expands, validates and renders every Adaptive Card template in adaptive-cards/
// with every sample in adaptive-cards/samples/.
//
//   node tools/cards/check.mjs [--out DIR] [--expanded DIR] [--width PX] [--cards DIR]
//                              [--locales DIR] [--expanded-in DIR] [--compare DIR]
//
//   --out DIR          PNG screenshots, one per sample   (default: target/card-screenshots)
//   --expanded DIR     expanded card JSON, one per sample (default: target/cards-expanded),
//                      written by the official expander (adaptivecards-templating) so the
//                      Rust expander's output can be compared with it
//   --width PX         card width in the screenshots      (default: 480); every card is
//                      also laid out at 320 px (phone) and saved as <name>.narrow.png
//   --cards DIR        templates (DIR/*.json) and samples (DIR/samples/) to check
//                      (default: adaptive-cards)
//   --locales DIR      string tables: the [cards] table of DIR/fr-CA.toml, en.toml, pt.toml
//                      (default: locales)
//   --expanded-in DIR  do not expand: check the already-expanded cards DIR/<sample>.json
//                      (<card>[.<variant>].<locale>.json, one per sample, e.g. the Rust
//                      expander's output) with every check below, schema and renderer included
//   --compare DIR      also expand every sample with the official expander and fail when
//                      DIR/<sample>.json is missing or not equal to it as JSON
//
// Exits 0 only when every card passed (1 on a failed check, 2 on usage or setup errors).
// Needs `npm ci --prefix tools/cards`, python3 with pip (setup step: the first run installs
// the pinned Adaptive Cards 1.5 JSON schema from PyPI into tools/cards/.pydeps, see
// schema.mjs) and Chromium at /usr/bin/chromium (or $CHROMIUM). Otherwise uses no network:
// the renderer is served from node_modules by a server on 127.0.0.1, and every other
// request is refused.
import { createServer } from "node:http";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import {
  CARDS_DIR, CARDS_TABLE, LOCALES, LOCALES_DIR, REPO_ROOT, TOOL_DIR,
  bindings, readCardStrings, readJson, sampleFiles, stringKeys, templateNames,
} from "./lib.mjs";
import { SCHEMA_PACKAGE, ensureSchema, schemaValidator } from "./schema.mjs";

const MAX_CARD_BYTES = 20 * 1024;
const NARROW_WIDTH = 320; // a phone-sized chat bubble
const SCHEMA_URL = "http://adaptivecards.io/schemas/adaptive-card.json";
const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run",
];
// Properties whose strings a person sees (or hears): they must be pure bindings.
const VISIBLE_PROPS = new Set([
  "text", "title", "label", "placeholder", "errorMessage", "fallbackText", "altText",
  "speak", "tooltip", "value", "valueOn", "valueOff",
]);
const SIMPLE_PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const WHEN = /^\$\{!?[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\}$/;

function usage(message) {
  if (message) console.error(`check.mjs: ${message}`);
  console.error("usage: node tools/cards/check.mjs [--out DIR] [--expanded DIR] [--width PX] [--cards DIR]\n" +
    "                                  [--locales DIR] [--expanded-in DIR] [--compare DIR]");
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    out: join(REPO_ROOT, "target", "card-screenshots"),
    expanded: join(REPO_ROOT, "target", "cards-expanded"),
    width: 480,
    cards: CARDS_DIR,
    locales: LOCALES_DIR,
    expandedIn: null,
    compare: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) usage(`${a} needs a value`);
      return v;
    };
    if (a === "--out") opts.out = resolve(value());
    else if (a === "--expanded") opts.expanded = resolve(value());
    else if (a === "--cards") opts.cards = resolve(value());
    else if (a === "--locales") opts.locales = resolve(value());
    else if (a === "--expanded-in") opts.expandedIn = resolve(value());
    else if (a === "--compare") opts.compare = resolve(value());
    else if (a === "--width") {
      opts.width = Number(value());
      if (!Number.isInteger(opts.width) || opts.width < 200 || opts.width > 2000) usage("--width must be an integer between 200 and 2000");
    } else if (a === "-h" || a === "--help") usage();
    else usage(`unknown argument ${a}`);
  }
  for (const [flag, dir] of [["--expanded-in", opts.expandedIn], ["--compare", opts.compare]]) {
    if (dir && !existsSync(dir)) usage(`${flag}: no directory ${dir}`);
  }
  if (opts.expandedIn && opts.expandedIn === opts.expanded) usage("--expanded-in and --expanded must differ");
  if (opts.compare && opts.compare === opts.expanded) usage("--compare and --expanded must differ");
  return opts;
}

async function importDeps() {
  try {
    const templating = await import("adaptivecards-templating");
    const { chromium } = await import("playwright-core");
    return { templating, chromium };
  } catch (e) {
    console.error(`check.mjs: cannot load the npm dependencies (${e.message}).\nRun: npm ci --prefix tools/cards`);
    process.exit(2);
  }
}

// ---------- static checks on a template ----------

function lintTemplate(name, tpl, raw) {
  const errors = [];
  if (tpl.type !== "AdaptiveCard") errors.push(`"type" must be "AdaptiveCard"`);
  if (tpl.version !== "1.5") errors.push(`"version" must be "1.5"`);
  if (tpl.$schema !== SCHEMA_URL) errors.push(`"$schema" must be ${SCHEMA_URL}`);
  if (Buffer.byteLength(raw) > MAX_CARD_BYTES) errors.push(`template is ${Buffer.byteLength(raw)} bytes (max ${MAX_CARD_BYTES})`);
  if ("refresh" in tpl) errors.push(`no "refresh" in templates (the bot adds it at runtime)`);
  if (Array.isArray(tpl.actions) && tpl.actions.some((a) => a.type === "Action.Execute")) {
    errors.push("Action.Execute must sit in an ActionSet, not in the card's actions");
  }
  for (const b of bindings(tpl)) {
    const expr = b.startsWith("!") ? b.slice(1) : b;
    if (!SIMPLE_PATH.test(expr)) errors.push(`binding \${${b}} is not a simple path`);
  }
  const visit = (v, path, inFallback) => {
    if (Array.isArray(v)) return v.forEach((x, i) => visit(x, `${path}[${i}]`, inFallback));
    if (!v || typeof v !== "object") return;
    for (const [k, x] of Object.entries(v)) {
      const p = `${path}.${k}`;
      if (k === "$data") errors.push(`${p}: "$data" is not allowed`);
      if (k === "$when" && (typeof x !== "string" || !WHEN.test(x))) errors.push(`${p}: "$when" must be "\${flag}" or "\${!flag}"`);
      if (k.startsWith("$") && !["$when", "$schema"].includes(k)) errors.push(`${p}: unsupported templating key`);
      if (VISIBLE_PROPS.has(k) && typeof x === "string" && x.replace(/\$\{[^}]*\}/g, "").trim() !== "") {
        errors.push(`${p}: literal text ${JSON.stringify(x)} (bind it from data, e.g. \${t.key})`);
      }
    }
    if (v.type === "Media") errors.push(`${path}: Media is not supported in Teams`);
    if (v.type === "Image" && !v.altText) errors.push(`${path}: Image without altText`);
    if (typeof v.type === "string" && v.type.startsWith("Action.") && v.style && v.style !== "default") {
      errors.push(`${path}: action style "${v.style}" (Teams ignores positive/destructive)`);
    }
    if (v.type === "Action.Execute") {
      const fb = v.fallback;
      if (!v.verb) errors.push(`${path}: Action.Execute without verb`);
      if (v.verb === "cancel" && v.associatedInputs !== "none") {
        errors.push(`${path}: "cancel" must not validate or send inputs ("associatedInputs": "none")`);
      }
      if (!fb || fb.type !== "Action.Submit") {
        errors.push(`${path}: Action.Execute "${v.verb}" needs a fallback Action.Submit`);
      } else {
        const want = { ...(v.data ?? {}), action: v.verb };
        if (JSON.stringify(sortKeys(fb.data ?? {})) !== JSON.stringify(sortKeys(want))) {
          errors.push(`${path}: fallback data ${JSON.stringify(fb.data)} must be ${JSON.stringify(want)}`);
        }
        if (fb.title !== v.title) errors.push(`${path}: fallback title differs from the Execute title`);
        if ((fb.associatedInputs ?? "auto") !== (v.associatedInputs ?? "auto")) errors.push(`${path}: fallback associatedInputs differs`);
      }
    }
    for (const [k, x] of Object.entries(v)) visit(x, `${path}.${k}`, inFallback || k === "fallback");
  };
  visit(tpl, name, false);
  return errors;
}

function sortKeys(o) {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

// ---------- checks on a sample and its expansion ----------

function checkSample(sample, tpl, strings) {
  const errors = [];
  const t = sample.data.t;
  if (!t || typeof t !== "object") return ["sample has no string table under \"t\""];
  const keys = stringKeys(tpl);
  for (const k of keys) {
    // strings is null when the string tables failed to load (reported once).
    if (typeof t[k] !== "string" || !t[k].trim()) errors.push(`t.${k} missing or empty`);
    else if (strings?.[k] && strings[k][sample.locale] !== t[k]) {
      errors.push(`t.${k} differs from ${CARDS_TABLE}.${k} in locales/${sample.locale}.toml (run node tools/cards/gen-samples.mjs)`);
    }
    if (strings && !strings[k]) errors.push(`t.${k} is not in the [${CARDS_TABLE}] table of locales/*.toml`);
  }
  for (const k of Object.keys(t)) if (!keys.includes(k)) errors.push(`t.${k} is not used by ${sample.card}.json`);
  return errors;
}

function checkExpanded(card) {
  const errors = [];
  const text = JSON.stringify(card);
  if (text.includes("${")) {
    const left = [...new Set(text.match(/\$\{[^}]*\}/g))];
    errors.push(`unexpanded binding(s) left (missing data?): ${left.join(", ")}`);
  }
  if (text.includes("\"$when\"")) errors.push("a $when survived expansion");
  const bytes = Buffer.byteLength(JSON.stringify(card));
  if (bytes > MAX_CARD_BYTES) errors.push(`expanded card is ${bytes} bytes (max ${MAX_CARD_BYTES})`);
  return errors;
}

/** Strings a person must see on the rendered card (fallback parts excluded). */
function visibleTexts(card) {
  const out = [];
  const visit = (v) => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!v || typeof v !== "object") return;
    if (v.type === "TextBlock" && v.text) out.push(v.text);
    if (typeof v.type === "string" && v.type.startsWith("Action.") && v.title) out.push(v.title);
    if (typeof v.type === "string" && v.type.startsWith("Input.") && v.label) out.push(v.label);
    if (v.type === "FactSet") for (const f of v.facts ?? []) out.push(f.title, f.value);
    for (const [k, x] of Object.entries(v)) if (k !== "fallback") visit(x);
  };
  visit(card.body ?? []);
  visit(card.actions ?? []);
  return out.filter((s) => typeof s === "string" && s.trim());
}

/** Buttons the card shows (fallbacks excluded), in document order, and its inputs. */
function actionSpecs(card) {
  const actions = [];
  const inputs = [];
  const visit = (v) => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!v || typeof v !== "object") return;
    if (typeof v.type === "string" && v.type.startsWith("Action.")) actions.push(v);
    if (typeof v.type === "string" && v.type.startsWith("Input.")) inputs.push(v);
    for (const [k, x] of Object.entries(v)) if (k !== "fallback") visit(x);
  };
  visit(card.body ?? []);
  visit(card.actions ?? []);
  return { actions, inputs };
}

/**
 * Deep JSON equality: objects regardless of key order, arrays in order, no type coercion.
 * Returns where a and b differ (JSON pointers), at most `max`.
 */
function jsonDiff(a, b, path = "", out = [], max = 10) {
  if (out.length >= max) return out;
  const kind = (v) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
  const show = (v) => { const s = JSON.stringify(v); return s.length > 80 ? `${s.slice(0, 77)}...` : s; };
  if (kind(a) !== kind(b)) {
    out.push(`${path || "/"}: ${show(a)} vs ${show(b)}`);
  } else if (kind(a) === "array") {
    if (a.length !== b.length) out.push(`${path || "/"}: ${a.length} items vs ${b.length}`);
    for (let i = 0; i < Math.min(a.length, b.length); i++) jsonDiff(a[i], b[i], `${path}/${i}`, out, max);
  } else if (kind(a) === "object") {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const p = `${path}/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`;
      if (!(k in b)) out.push(`${p}: only in the official expansion`);
      else if (!(k in a)) out.push(`${p}: not in the official expansion`);
      else jsonDiff(a[k], b[k], p, out, max);
      if (out.length >= max) break;
    }
  } else if (kind(a) === "string" && a !== b) {
    // Show where the strings part, with a little context.
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    const clip = (x) => JSON.stringify(`${i > 30 ? "…" : ""}${x.slice(Math.max(0, i - 30), i + 30)}${x.length > i + 30 ? "…" : ""}`);
    out.push(`${path || "/"}: from character ${i}: ${clip(a)} vs ${clip(b)}`);
  } else if (a !== b) {
    out.push(`${path || "/"}: ${show(a)} vs ${show(b)}`);
  }
  return out;
}

/**
 * Expanded cards in DIR, by sample file name: Map(file → { card } | { error }).
 * Files in DIR that match no sample are reported through `fail`.
 */
function readExpandedDir(dir, flag, samples, fail) {
  const known = new Set(samples.map((s) => s.file));
  const found = new Map();
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
    if (!known.has(file)) {
      fail(`${flag} ${join(dir, file)}`, ["no sample of that name in the samples directory"]);
      continue;
    }
    try {
      found.set(file, { card: readJson(join(dir, file)) });
    } catch (e) {
      found.set(file, { error: e.message });
    }
  }
  return found;
}

function sameJson(a, b) {
  return JSON.stringify(sortKeys(a ?? {})) === JSON.stringify(sortKeys(b ?? {}));
}

/**
 * Clicks every button of a freshly rendered card and checks what the renderer
 * would send: verb and data (inputs merged unless associatedInputs is "none"),
 * OpenUrl targets, and client-side validation of required inputs (with a
 * screenshot of the error state).
 */
async function exercise(page, card, hostConfig, width, shotBase) {
  const errors = [];
  const { actions, inputs } = actionSpecs(card);
  const render = () => page.evaluate(([c, hc, w]) => window.renderFresh(c, hc, w), [card, hostConfig, width]);
  const titles = await render();
  if (titles.length !== actions.length) {
    return [`${titles.length} buttons rendered for ${actions.length} actions`];
  }
  const FILL = "trej";
  for (let i = 0; i < actions.length; i++) {
    const spec = actions[i];
    const who = `button "${spec.title}"`;
    // innerText gives no-break spaces (French typography) back as plain ones.
    const plain = (t) => String(t).replace(/[\u00a0\u202f]/g, " ");
    if (plain(titles[i]) !== plain(spec.title)) errors.push(`${who}: rendered as "${titles[i]}"`);
    await render();
    await page.locator("#bubble button").nth(i).click();
    let { executed, text } = await page.evaluate(() => window.afterClick());
    if (spec.type === "Action.OpenUrl") {
      if (executed.length !== 1 || executed[0].url !== spec.url) errors.push(`${who}: did not open ${spec.url}`);
      if (!/^https:\/\//.test(spec.url)) errors.push(`${who}: URL is not https: ${spec.url}`);
      continue;
    }
    const sendsInputs = (spec.associatedInputs ?? "auto") !== "none";
    const missing = sendsInputs ? inputs.filter((x) => x.isRequired && !x.value) : [];
    if (missing.length) {
      if (executed.length) errors.push(`${who}: sent although required input(s) are empty`);
      for (const x of missing) {
        if (!text.includes(x.errorMessage)) errors.push(`${who}: error message for "${x.id}" not shown`);
      }
      await page.locator("#bubble").screenshot({ path: `${shotBase}.invalid.png` });
      for (const x of missing) await page.locator(`#bubble input`).nth(inputs.indexOf(x)).fill(FILL);
      await page.locator("#bubble button").nth(i).click();
      ({ executed } = await page.evaluate(() => window.afterClick()));
    }
    if (executed.length !== 1) {
      errors.push(`${who}: expected one action, got ${executed.length}`);
      continue;
    }
    const got = executed[0];
    if (got.type !== spec.type) errors.push(`${who}: executed ${got.type}, expected ${spec.type}`);
    if (spec.verb !== undefined && got.verb !== spec.verb) errors.push(`${who}: verb ${got.verb}, expected ${spec.verb}`);
    const want = { ...(spec.data ?? {}) };
    if (sendsInputs) for (const x of inputs) want[x.id] = missing.includes(x) ? FILL : (x.value ?? "");
    if (!sameJson(got.data, want)) errors.push(`${who}: sends ${JSON.stringify(got.data)}, expected ${JSON.stringify(want)}`);
  }
  return errors;
}

// ---------- local server and browser ----------

function startServer() {
  const files = {
    "/": [join(TOOL_DIR, "harness", "index.html"), "text/html; charset=utf-8"],
    "/harness.js": [join(TOOL_DIR, "harness", "harness.js"), "text/javascript; charset=utf-8"],
    "/adaptivecards.js": [join(TOOL_DIR, "node_modules", "adaptivecards", "dist", "adaptivecards.min.js"), "text/javascript; charset=utf-8"],
  };
  const server = createServer((req, res) => {
    const entry = files[new URL(req.url, "http://127.0.0.1").pathname];
    if (!entry) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": entry[1], "cache-control": "no-store" });
    res.end(readFileSync(entry[0]));
  });
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => ok(server));
  });
}

async function launchBrowser(chromium) {
  const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
  if (!existsSync(executablePath)) {
    console.error(`check.mjs: no Chromium at ${executablePath} (apt-get install chromium, or set CHROMIUM)`);
    process.exit(2);
  }
  const userDataDir = mkdtempSync(join(tmpdir(), "octopus-cards-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1000, height: 800 },
    deviceScaleFactor: 2,
    locale: "fr-CA",
    offline: false,
  });
  return { context, userDataDir };
}

// ---------- main ----------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { templating, chromium } = await importDeps();
  const failures = [];
  const fail = (who, errs) => { for (const e of errs) failures.push(`${who}: ${e}`); };

  let validateSchema;
  try {
    const schemaFile = ensureSchema();
    validateSchema = schemaValidator(schemaFile);
    console.log(`Schema: official Adaptive Cards 1.5 JSON schema from ${SCHEMA_PACKAGE},`);
    console.log(`  ${relative(REPO_ROOT, schemaFile)} (Ajv, draft-06), then the official renderer.`);
  } catch (e) {
    console.error(`check.mjs: ${e.message}`);
    process.exit(e.setup ? 2 : 1);
  }

  const cardsDir = opts.cards;
  const samplesDir = join(cardsDir, "samples");
  let strings = null;
  try {
    strings = await readCardStrings(opts.locales);
  } catch (e) {
    if (e.setup) {
      console.error(`check.mjs: ${e.message}`);
      process.exit(2);
    }
    fail(`locales [${CARDS_TABLE}]`, [e.message]);
  }
  const templates = new Map();
  for (const name of templateNames(cardsDir)) {
    const path = join(cardsDir, `${name}.json`);
    const raw = readFileSync(path, "utf8");
    let tpl;
    try {
      tpl = JSON.parse(raw);
    } catch (e) {
      fail(`${name}.json`, [`invalid JSON: ${e.message}`]);
      continue;
    }
    const errs = lintTemplate(name, tpl, raw);
    console.log(`${errs.length ? "FAIL" : "ok  "} template ${name}.json (${Buffer.byteLength(raw)} bytes, ${stringKeys(tpl).length} strings)`);
    for (const e of errs) console.log(`       - ${e}`);
    fail(`${name}.json`, errs);
    templates.set(name, tpl);
  }

  const samples = [];
  for (const s of sampleFiles(samplesDir)) {
    const tpl = templates.get(s.card);
    if (!tpl) {
      fail(`samples/${s.file}`, [`no template adaptive-cards/${s.card}.json`]);
      continue;
    }
    let data;
    try {
      data = readJson(join(samplesDir, s.file));
    } catch (e) {
      fail(`samples/${s.file}`, [e.message]);
      continue;
    }
    samples.push({ ...s, data, tpl });
  }
  for (const name of templates.keys()) {
    const locales = new Set(samples.filter((s) => s.card === name).map((s) => s.locale));
    for (const l of LOCALES) if (!locales.has(l)) fail(`${name}.json`, [`no ${l} sample`]);
  }

  // Cards from elsewhere (e.g. the Rust expander): checked instead of / compared with ours.
  const given = opts.expandedIn ? readExpandedDir(opts.expandedIn, "--expanded-in", samples, fail) : null;
  const compared = opts.compare ? readExpandedDir(opts.compare, "--compare", samples, fail) : null;
  // The official expansion is needed unless the cards are given and nothing is compared.
  const expandOfficially = !given || !!compared;
  if (given) console.log(`Checking the expanded cards in ${opts.expandedIn} (not expanding them here).`);
  if (compared) console.log(`Comparing the cards in ${opts.compare} with the official expansion.`);

  mkdirSync(opts.out, { recursive: true });
  if (expandOfficially) mkdirSync(opts.expanded, { recursive: true });

  const server = await startServer();
  const base = `http://127.0.0.1:${server.address().port}`;
  const { context, userDataDir } = await launchBrowser(chromium);
  let passed = 0;
  try {
    // Nothing leaves the machine: only our own server answers.
    await context.route("**/*", (route) =>
      route.request().url().startsWith(`${base}/`) ? route.continue() : route.abort());
    const page = context.pages()[0] ?? (await context.newPage());
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(`${base}/`);
    await page.waitForFunction(() => window.harnessReady === true, null, { timeout: 10000 });
    const hostConfig = readJson(join(TOOL_DIR, "teams-light.hostconfig.json"));

    for (const s of samples) {
      const errs = checkSample(s, s.tpl, strings);
      let official;
      if (expandOfficially) {
        try {
          official = new templating.Template(s.tpl).expand({ $root: s.data });
          writeFileSync(join(opts.expanded, s.file), JSON.stringify(official, null, 2) + "\n");
        } catch (e) {
          errs.push(`expansion failed: ${e.message}`);
        }
      }
      if (compared) {
        const other = compared.get(s.file);
        if (!other) errs.push(`--compare: no ${s.file} in ${opts.compare}`);
        else if (other.error) errs.push(`--compare: ${other.error}`);
        else if (official) {
          const diffs = jsonDiff(official, other.card);
          if (diffs.length) errs.push(...diffs.map((d) => `--compare: differs from the official expansion (official vs ${s.file}) at ${d}`));
        }
      }
      let card = official;
      if (given) {
        const entry = given.get(s.file);
        card = entry?.card;
        if (!entry) errs.push(`--expanded-in: no ${s.file} in ${opts.expandedIn}`);
        else if (entry.error) errs.push(`--expanded-in: ${entry.error}`);
        else if (!card || typeof card !== "object" || Array.isArray(card)) {
          errs.push("--expanded-in: not a JSON object");
          card = undefined;
        }
      }
      let result = { errors: [], info: {} };
      if (card) {
        errs.push(...checkExpanded(card));
        errs.push(...validateSchema(card).map((e) => `schema: ${e}`));
        pageErrors.length = 0;
        await page.mouse.move(0, 0);
        result = await page.evaluate(
          ([c, hc, texts, width]) => window.checkCard(c, hc, texts, width),
          [card, hostConfig, visibleTexts(card), opts.width],
        );
        errs.push(...result.errors, ...pageErrors.map((m) => `page error: ${m}`));
        const shot = join(opts.out, `${s.name}.png`);
        await page.locator("#bubble").screenshot({ path: shot });
        if (!result.errors.length) {
          // Phone-sized layout: nothing truncated or overflowing at NARROW_WIDTH either.
          const narrow = await page.evaluate(
            ([c, hc, texts, width]) => window.checkCard(c, hc, texts, width),
            [card, hostConfig, visibleTexts(card), NARROW_WIDTH],
          );
          await page.locator("#bubble").screenshot({ path: join(opts.out, `${s.name}.narrow.png`) });
          errs.push(...narrow.errors.map((e) => `(${NARROW_WIDTH}px) ${e}`));
          errs.push(...(await exercise(page, card, hostConfig, opts.width, join(opts.out, s.name))));
        }
      }
      const i = result.info ?? {};
      const detail = card ? `${i.height ?? "?"}px tall, ${i.buttons ?? 0} button(s), ${i.fallbackSubmits ?? 0} fallback submit(s)` : "not rendered";
      console.log(`${errs.length ? "FAIL" : "ok  "} ${s.name.padEnd(30)} ${detail}`);
      for (const e of errs) console.log(`       - ${e}`);
      if (errs.length) fail(`samples/${s.file}`, errs);
      else passed++;
    }
  } finally {
    await context.close().catch(() => {});
    server.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }

  console.log("");
  console.log(`screenshots: ${opts.out}`);
  if (expandOfficially) console.log(`expanded JSON (official expander): ${opts.expanded}`);
  const failedCards = samples.length - passed;
  console.log(`${passed} passed, ${failedCards} failed`);
  if (failures.length) {
    console.error(`\ncard check FAILED (${failures.length} problem(s)):`);
    for (const f of failures) console.error(`  ${f}`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(`check.mjs: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
