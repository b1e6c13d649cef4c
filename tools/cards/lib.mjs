// Shared helpers for gen-samples.mjs and check.mjs.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const TOOL_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(TOOL_DIR, "..", "..");
export const CARDS_DIR = join(REPO_ROOT, "adaptive-cards");
export const SAMPLES_DIR = join(CARDS_DIR, "samples");
export const STRINGS_FILE = join(CARDS_DIR, "i18n", "strings.json");
export const LOCALES = ["fr-CA", "en", "pt"];

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
