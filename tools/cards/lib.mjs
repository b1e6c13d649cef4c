// Shared helpers for gen-samples.mjs and check.mjs.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const TOOL_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(TOOL_DIR, "..", "..");
export const CARDS_DIR = join(REPO_ROOT, "adaptive-cards");
export const SAMPLES_DIR = join(CARDS_DIR, "samples");
export const LOCALES_DIR = join(REPO_ROOT, "locales");
export const LOCALES = ["fr-CA", "en", "pt"];
/** The table of locales/<locale>.toml that holds the card strings (`t.*` in the templates). */
export const CARDS_TABLE = "cards";

export function readJson(path) {
  const text = readFileSync(path, "utf8");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: invalid JSON: ${e.message}`);
  }
}

/** Card template names: adaptive-cards/<name>.json */
export function templateNames(cardsDir = CARDS_DIR) {
  return readdirSync(cardsDir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -".json".length))
    .sort();
}

/**
 * Sample files: adaptive-cards/samples/<card>[.<variant>].<locale>.json
 * Returns [{ file, name, card, variant, locale }].
 */
export function sampleFiles(samplesDir = SAMPLES_DIR) {
  return readdirSync(samplesDir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((file) => {
      const name = file.slice(0, -".json".length);
      const parts = name.split(".");
      const locale = parts.pop();
      const card = parts.shift();
      const variant = parts.length ? parts.join(".") : null;
      return { file, name, card, variant, locale };
    });
}

/** Every `${...}` binding in a template, as expression strings, in document order. */
export function bindings(template) {
  const out = [];
  const walk = (v) => {
    if (typeof v === "string") {
      for (const m of v.matchAll(/\$\{([^}]*)\}/g)) out.push(m[1]);
    } else if (Array.isArray(v)) {
      v.forEach(walk);
    } else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        walk(k);
        walk(x);
      }
    }
  };
  walk(template);
  return out;
}

/** The `t.*` keys a template uses, in first-use order. */
export function stringKeys(template) {
  const keys = [];
  for (const b of bindings(template)) {
    const m = /^t\.([A-Za-z0-9_]+)$/.exec(b);
    if (m && !keys.includes(m[1])) keys.push(m[1]);
  }
  return keys;
}

/** Top-level data names (other than t) a template binds, flags included. */
export function dataKeys(template) {
  const keys = [];
  for (const b of bindings(template)) {
    const m = /^!?([A-Za-z_][A-Za-z0-9_]*)/.exec(b);
    if (m && m[1] !== "t" && !keys.includes(m[1])) keys.push(m[1]);
  }
  return keys;
}

async function importToml() {
  try {
    return await import("smol-toml");
  } catch (e) {
    const err = new Error(`cannot load smol-toml (${e.message}); run: npm ci --prefix tools/cards`);
    err.setup = true;
    throw err;
  }
}

/**
 * The card strings: the [cards] table of locales/fr-CA.toml, en.toml and pt.toml.
 * Returns { key: { "fr-CA": text, en: text, pt: text, note?: text } } in fr-CA key order.
 * A note is the run of `#` comment lines directly above the key in fr-CA.toml (the
 * reference table). Throws when a file lacks the table, holds a non-string value in it,
 * or when the three tables do not have the same keys.
 */
export async function readCardStrings(localesDir = LOCALES_DIR) {
  const { parse } = await importToml();
  const tables = {};
  for (const locale of LOCALES) {
    const path = join(localesDir, `${locale}.toml`);
    let doc;
    try {
      doc = parse(readFileSync(path, "utf8"));
    } catch (e) {
      throw new Error(`${path}: ${e.message}`);
    }
    const table = doc[CARDS_TABLE];
    if (!table || typeof table !== "object" || Array.isArray(table)) {
      throw new Error(`${path}: no [${CARDS_TABLE}] table`);
    }
    for (const [k, v] of Object.entries(table)) {
      if (typeof v !== "string") throw new Error(`${path}: ${CARDS_TABLE}.${k} is not a string`);
    }
    tables[locale] = table;
  }
  const [ref, ...others] = LOCALES;
  const refKeys = Object.keys(tables[ref]);
  for (const locale of others) {
    const keys = Object.keys(tables[locale]);
    const missing = refKeys.filter((k) => !keys.includes(k));
    const extra = keys.filter((k) => !refKeys.includes(k));
    if (missing.length || extra.length) {
      throw new Error(`locales/${locale}.toml [${CARDS_TABLE}]: ` +
        [missing.length && `missing ${missing.join(", ")}`, extra.length && `not in ${ref}.toml: ${extra.join(", ")}`]
          .filter(Boolean).join("; "));
    }
  }
  const notes = tableComments(readFileSync(join(localesDir, `${ref}.toml`), "utf8"), CARDS_TABLE);
  const strings = {};
  for (const k of refKeys) {
    strings[k] = Object.fromEntries(LOCALES.map((l) => [l, tables[l][k]]));
    if (notes[k]) strings[k].note = notes[k];
  }
  return strings;
}

/** `# comment` lines directly above each bare `key = ` line of one TOML table, joined by spaces. */
function tableComments(text, tableName) {
  const notes = {};
  let inTable = false;
  let pending = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      inTable = header[1] === tableName;
      pending = [];
    } else if (!inTable) {
      continue;
    } else if (line.startsWith("#")) {
      pending.push(line.replace(/^#+\s?/, ""));
    } else {
      const key = /^([A-Za-z0-9_-]+)\s*=/.exec(line);
      if (key && pending.length) notes[key[1]] = pending.join(" ");
      pending = [];
    }
  }
  return notes;
}
