#!/usr/bin/env node
// Offline validator for the octopus-teams Microsoft Teams app package.
//
//   node validate.mjs PATH_TO_ZIP_OR_DIR
//
// Checks manifest.json against the official JSON schema of its manifestVersion and each
// localization file against the matching localization schema (both shipped in the npm
// package @microsoft/app-manifest; nothing is fetched), then the store/sideloading rules the
// schemas do not express: icon format and sizes, white-on-transparent outline, string lengths,
// GUIDs, https URLs covered by validDomains, well-formed validDomains, complete translations,
// identical manifest version everywhere, files at the zip root, semver version.
//
// Prints one line per problem ("<file>: <where>: <what>") and exits 1, or prints
// "package valid" and exits 0. Exit 2: the path could not be read or the validator is broken.

import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

import Ajv04 from "ajv-draft-04";
import Ajv2020 from "ajv/dist/2020.js";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { unzipSync } from "fflate";
import { PNG } from "pngjs";

const require = createRequire(import.meta.url);

/** Root folder of the Teams schemas inside @microsoft/app-manifest. */
export const SCHEMA_ROOT = path.join(
  path.dirname(require.resolve("@microsoft/app-manifest/package.json")),
  "build",
  "json-schemas",
  "teams",
);
const SCHEMA_URL_BASE = "https://developer.microsoft.com/json-schemas/teams/";
const MANIFEST_SCHEMA = "MicrosoftTeams.schema.json";
const LOCALIZATION_SCHEMA = "MicrosoftTeams.Localization.schema.json";

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const NIL_GUID = "00000000-0000-0000-0000-000000000000";
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const ZIP_SIGNATURE = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]*)\s*\}\}/g;
// Version in a schema URL: .../teams/v1.30/MicrosoftTeams....json (optionally .../en-us/...)
const SCHEMA_URL_VERSION = /\/json-schemas\/teams\/v([0-9]+\.[0-9]+|DevPreview)\//i;

// Store rules (Teams app manifest reference; the same limits the schemas carry, checked here so
// the message is explicit and also applies to localization files).
const LENGTHS = [
  ["name.short", 30],
  ["name.full", 100],
  ["description.short", 80],
  ["description.full", 4000],
];
const DEVELOPER_NAME_MAX = 32;
const ICON_SIZES = { color: 192, outline: 32, color32x32: 32 };
// Identity providers must not be listed in validDomains (Teams SSO / auth docs).
const IDP_DOMAINS = ["login.microsoftonline.com", "login.windows.net", "login.live.com"];

/** Problems collected while validating one package. */
class Problems {
  constructor() {
    this.lines = [];
  }
  add(file, where, what) {
    this.lines.push(where ? `${file}: ${where}: ${what}` : `${file}: ${what}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading the package

/**
 * Reads a package from a .zip file or a folder into { files: Map<name, Buffer>, isZip }.
 * Zip-level problems (folders, nested files) are reported here.
 */
export function readPackage(inputPath, problems) {
  const stat = fs.statSync(inputPath);
  const files = new Map();
  if (stat.isDirectory()) {
    for (const entry of fs.readdirSync(inputPath, { withFileTypes: true })) {
      if (entry.isFile()) files.set(entry.name, fs.readFileSync(path.join(inputPath, entry.name)));
    }
    return { files, isZip: false };
  }
  const buf = fs.readFileSync(inputPath);
  if (!buf.subarray(0, 4).equals(ZIP_SIGNATURE)) {
    throw new Error(`${inputPath} is neither a folder nor a zip file`);
  }
  const entries = unzipSync(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  const folders = new Set();
  for (const [name, data] of Object.entries(entries)) {
    const slash = name.indexOf("/");
    if (slash !== -1 || name.includes("\\")) {
      if (name.startsWith("__MACOSX/")) {
        problems.add(path.basename(inputPath), name, "macOS metadata folder in the zip: remove it");
        continue;
      }
      const folder = name.split(/[\\/]/)[0];
      if (!folders.has(folder)) {
        folders.add(folder);
        problems.add(
          path.basename(inputPath),
          `${folder}/`,
          "files are inside a folder: zip the files themselves so manifest.json is at the zip root",
        );
      }
      continue;
    }
    files.set(name, Buffer.from(data));
  }
  return { files, isZip: true };
}

function parseJsonFile(name, buf, problems) {
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    problems.add(name, "", "is not valid UTF-8");
    return undefined;
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch (e) {
    problems.add(name, "", `is not valid JSON (${e.message})`);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Schemas (offline, from @microsoft/app-manifest)

const validators = new Map();

/** Lists the manifest versions for which @microsoft/app-manifest ships a Teams schema. */
export function shippedVersions() {
  return fs
    .readdirSync(SCHEMA_ROOT)
    .filter((d) => fs.existsSync(path.join(SCHEMA_ROOT, d, MANIFEST_SCHEMA)))
    .map((d) => d.replace(/^v/, ""));
}

function ajvFor(schema) {
  const draft = String(schema.$schema ?? "");
  const options = {
    allErrors: true,
    strict: false,
    // The Teams schemas' patterns are ECMAScript regexes written without the `u` flag in mind
    // (e.g. a lone `]` in the localization schema); compile them the way browsers would.
    unicodeRegExp: false,
    // Never fetch anything: every $ref must resolve to a schema registered below.
    loadSchema: undefined,
  };
  const ajv = draft.includes("draft-04")
    ? new Ajv04(options)
    : draft.includes("2020-12")
      ? new Ajv2020(options)
      : new Ajv(options);
  addFormats(ajv);
  return ajv;
}

/**
 * Returns the compiled validator for `file` (manifest or localization schema) of `version`,
 * or undefined when the package ships no such schema. All schema files of that version are
 * registered under their public URLs (with and without /en-us/) so cross-file $refs resolve
 * from disk.
 */
function schemaValidator(version, file) {
  const key = `${version}/${file}`;
  if (validators.has(key)) return validators.get(key);
  const dir = path.join(SCHEMA_ROOT, `v${version}`);
  if (!fs.existsSync(path.join(dir, file))) {
    validators.set(key, undefined);
    return undefined;
  }
  const load = (f) =>
    // Same clean-up as the package's own loader: some old schemas contain a `\a` escape that
    // is not a valid regex escape.
    JSON.parse(fs.readFileSync(path.join(dir, f), "utf8").replace(/\\a/g, "\\x07"));
  const main = load(file);
  const ajv = ajvFor(main);
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith(".json"))) {
    if (f === file) continue;
    const s = load(f);
    if (s.$schema !== main.$schema) continue;
    delete s.id;
    delete s.$id;
    ajv.addSchema(s, `${SCHEMA_URL_BASE}v${version}/${f}`);
    ajv.addSchema(s, `${SCHEMA_URL_BASE.replace("json-schemas", "en-us/json-schemas")}v${version}/${f}`);
  }
  delete main.id;
  delete main.$id;
  const validate = ajv.compile(main); // throws MissingRefError if a $ref cannot be resolved
  validators.set(key, { validate, schema: main });
  return validators.get(key);
}

function reportSchemaErrors(name, errors, skip, problems, isLocalization = false) {
  const seen = new Set();
  for (const err of errors ?? []) {
    let where = err.instancePath || "/";
    if (isLocalization && err.keyword === "additionalProperties") where = err.params.additionalProperty;
    else if (isLocalization) where = where.replace(/^\//, "").replace(/~1/g, "/").replace(/~0/g, "~") || "/";
    if (skip(where, err.keyword, err)) continue;
    let what = err.message ?? err.keyword;
    if (err.keyword === "additionalProperties") {
      what = isLocalization ? "not a localizable key" : `unknown property '${err.params.additionalProperty}'`;
    } else if (err.keyword === "enum") {
      what = `must be one of ${err.params.allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
    } else if (err.keyword === "const") {
      what = `must be ${JSON.stringify(err.params.allowedValue)}`;
    }
    const line = `${where}: ${what} (schema)`;
    if (seen.has(line)) continue;
    seen.add(line);
    problems.add(name, where, `${what} (schema)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

const chars = (s) => [...s].length;

function get(obj, dotted) {
  return dotted.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

/** Walks every string leaf: cb(value, pointer "/a/0/b", locKey "a[0].b"). */
function walkStrings(value, cb, pointer = "", locKey = "") {
  if (typeof value === "string") {
    cb(value, pointer || "/", locKey);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => walkStrings(v, cb, `${pointer}/${i}`, `${locKey}[${i}]`));
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      const esc = k.replace(/~/g, "~0").replace(/\//g, "~1");
      walkStrings(v, cb, `${pointer}/${esc}`, locKey ? `${locKey}.${k}` : k);
    }
  }
}

function schemaVersionOf(url) {
  const m = typeof url === "string" ? SCHEMA_URL_VERSION.exec(url) : null;
  return m ? m[1] : undefined;
}

// ---------------------------------------------------------------------------------------------
// Rules

function checkPlaceholders(name, json, problems) {
  walkStrings(json, (s, pointer) => {
    for (const m of s.matchAll(PLACEHOLDER)) {
      problems.add(name, pointer, `unfilled placeholder ${m[0]}`);
    }
  });
}

function checkNames(name, get_, problems, pointerOf) {
  for (const [key, max] of LENGTHS) {
    const v = get_(key);
    if (v === undefined) continue;
    if (typeof v !== "string" || v.trim() === "") {
      problems.add(name, pointerOf(key), "must be a non-empty string");
      continue;
    }
    if (chars(v) > max) problems.add(name, pointerOf(key), `${chars(v)} characters, at most ${max} allowed`);
  }
  const norm = (s) => (typeof s === "string" ? s.trim().toLowerCase() : s);
  const ns = get_("name.short");
  const nf = get_("name.full");
  if (typeof ns === "string" && typeof nf === "string" && norm(ns) === norm(nf)) {
    problems.add(name, pointerOf("name.full"), "must differ from name.short");
  }
  const ds = get_("description.short");
  const df = get_("description.full");
  if (typeof ds === "string" && typeof df === "string" && ds.trim() !== "") {
    if (norm(ds) === norm(df)) {
      problems.add(name, pointerOf("description.full"), "must differ from description.short");
    } else if (norm(df).includes(norm(ds))) {
      problems.add(name, pointerOf("description.full"), "must not repeat description.short");
    }
  }
}

function checkGuid(name, pointer, value, what, problems) {
  if (value === undefined) return;
  if (typeof value !== "string" || !GUID.test(value)) {
    problems.add(name, pointer, `${what} must be a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx), got ${JSON.stringify(value)}`);
  } else if (value === NIL_GUID) {
    problems.add(name, pointer, `${what} is the nil GUID: use the real app registration id`);
  }
}

/** Returns the normalised entries (lower case) of well-formed validDomains entries. */
function checkValidDomains(m, problems) {
  const out = [];
  const seen = new Set();
  const list = Array.isArray(m.validDomains) ? m.validDomains : [];
  list.forEach((d, i) => {
    const where = `/validDomains/${i}`;
    if (typeof d !== "string") return; // schema reports it
    const entry = d.trim().toLowerCase();
    // A URL or host:port instead of a host: report it, but keep its host for the coverage
    // checks so the URLs it was meant to cover are not reported as well.
    const hostOf = (s) => {
      try {
        return new URL(s.includes("://") ? s : `https://${s}`).hostname;
      } catch {
        return undefined;
      }
    };
    if (/^[a-z][a-z0-9+.-]*:\/\//.test(entry)) {
      problems.add("manifest.json", where, `"${d}" must be a host name without scheme (e.g. "octopus.example.org")`);
      if (hostOf(entry)) out.push(hostOf(entry));
      return;
    }
    if (/[/?#:@\s]/.test(entry)) {
      problems.add("manifest.json", where, `"${d}" must be a bare host name: no path, port, query or spaces`);
      if (!/\s/.test(entry) && hostOf(entry)) out.push(hostOf(entry));
      return;
    }
    const labels = entry.split(".");
    const wildcard = labels[0] === "*";
    const rest = wildcard ? labels.slice(1) : labels;
    const labelOk = (l) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(l) || /^xn--[a-z0-9-]+$/.test(l);
    if (entry.length > 253 || rest.length < 2 || !rest.every(labelOk) || labels.slice(1).includes("*")) {
      problems.add(
        "manifest.json",
        where,
        `"${d}" is not a valid domain (expected host.example.org or *.example.org, wildcard only as the whole first label)`,
      );
      return;
    }
    if (/^[0-9]+$/.test(rest[rest.length - 1])) {
      problems.add("manifest.json", where, `"${d}": IP addresses are not allowed, use a DNS name`);
      return;
    }
    if (IDP_DOMAINS.some((idp) => entry === idp || (wildcard && idp.endsWith(`.${rest.join(".")}`)))) {
      problems.add("manifest.json", where, `"${d}" is an identity provider's domain: do not list it`);
    }
    if (seen.has(entry)) problems.add("manifest.json", where, `"${d}" is listed twice`);
    seen.add(entry);
    out.push(entry);
  });
  return out;
}

function covered(host, domains) {
  const h = host.toLowerCase().replace(/\.$/, "");
  return domains.some((d) => (d.startsWith("*.") ? h.endsWith(d.slice(1)) && h.length > d.length - 1 : h === d));
}

function checkUrls(m, domains, problems, coveredPaths) {
  walkStrings(m, (value, pointer, locKey) => {
    const key = locKey.split(".").pop().replace(/\[\d+\]$/, "");
    if (!/url$/i.test(key) || key === "sharePointPreviewImage") return;
    coveredPaths.add(pointer);
    if (value.includes("{{")) return; // reported as an unfilled placeholder
    let url;
    try {
      url = new URL(value);
    } catch {
      problems.add("manifest.json", pointer, `${JSON.stringify(value)} is not an absolute URL`);
      return;
    }
    if (url.protocol !== "https:") {
      problems.add("manifest.json", pointer, `${value} must use https`);
      return;
    }
    if (url.username || url.password) {
      problems.add("manifest.json", pointer, `${value} must not carry credentials`);
    }
    // developer.* pages open in the browser, never inside Teams: they need not be in validDomains.
    if (pointer.startsWith("/developer/")) return;
    if (!covered(url.hostname, domains)) {
      problems.add("manifest.json", pointer, `host ${url.hostname} is not covered by validDomains`);
    }
  });
  const wai = m.webApplicationInfo;
  if (wai && typeof wai.resource === "string") {
    const res = wai.resource;
    let url;
    try {
      url = new URL(res);
    } catch {
      problems.add("manifest.json", "/webApplicationInfo/resource", `${JSON.stringify(res)} is not a URI`);
      return;
    }
    if (url.protocol === "api:") {
      // api://host/appId (or api://host/botid-appId): the host must be the tab's domain.
      const host = res.slice("api://".length).split("/")[0];
      if (!host.includes(".")) {
        problems.add("manifest.json", "/webApplicationInfo/resource", `${res} must be api://<tab domain>/<app id>`);
      } else if (!covered(host, domains)) {
        problems.add("manifest.json", "/webApplicationInfo/resource", `host ${host} is not covered by validDomains`);
      }
      if (typeof wai.id === "string" && !res.toLowerCase().includes(wai.id.toLowerCase())) {
        problems.add("manifest.json", "/webApplicationInfo/resource", `${res} does not end with webApplicationInfo.id ${wai.id}`);
      }
    } else if (url.protocol !== "https:") {
      problems.add("manifest.json", "/webApplicationInfo/resource", `${res} must be an api:// or https:// URI`);
    }
  }
}

function checkIcons(m, files, problems) {
  const icons = m.icons ?? {};
  for (const [kind, size] of Object.entries(ICON_SIZES)) {
    const file = icons[kind];
    if (file === undefined) continue;
    const where = `/icons/${kind}`;
    if (typeof file !== "string") continue; // schema
    if (!files.has(file)) {
      problems.add("manifest.json", where, `${file} is not in the package`);
      continue;
    }
    const buf = files.get(file);
    if (!buf.subarray(0, 8).equals(PNG_SIGNATURE)) {
      problems.add(file, "", `${kind} icon is not a PNG file`);
      continue;
    }
    let png;
    try {
      png = PNG.sync.read(buf);
    } catch (e) {
      problems.add(file, "", `${kind} icon is not a readable PNG (${e.message})`);
      continue;
    }
    if (png.width !== size || png.height !== size) {
      problems.add(file, "", `${kind} icon is ${png.width}x${png.height}, must be ${size}x${size}`);
    }
    const { data } = png;
    const n = png.width * png.height;
    let transparent = 0;
    let visible = 0;
    let notWhite = 0;
    for (let i = 0; i < data.length; i += 4) {
      const a = data[i + 3];
      if (a === 0) transparent++;
      else {
        if (a >= 128) visible++;
        if (data[i] !== 255 || data[i + 1] !== 255 || data[i + 2] !== 255) notWhite++;
      }
    }
    if (kind === "outline") {
      if (notWhite > 0) {
        problems.add(file, "", `outline icon has ${notWhite} visible pixel(s) that are not white #FFFFFF (only white + transparency allowed)`);
      }
      if (transparent < n / 10) {
        problems.add(file, "", "outline icon must have a transparent background");
      }
      if (visible === 0) problems.add(file, "", "outline icon is empty (no opaque pixel)");
    } else if (visible === 0) {
      problems.add(file, "", `${kind} icon is empty (no opaque pixel)`);
    }
  }
}

/** Whether `key` names a localizable string according to the localization schema. */
function isLocalizable(key, locSchema) {
  if (key === "$schema" || key === "localizationKeys") return false;
  if (Object.hasOwn(locSchema.properties ?? {}, key)) return true;
  return Object.keys(locSchema.patternProperties ?? {}).some((p) => new RegExp(p).test(key));
}

/** The manifest's localizable strings, as localization keys ("bots[0].commandLists[0]..."). */
function localizableKeys(m, locSchema) {
  const keys = new Map();
  walkStrings(m, (value, pointer, locKey) => {
    if (isLocalizable(locKey, locSchema)) keys.set(locKey, value);
  });
  return keys;
}

function checkLocalization(m, files, problems, referenced) {
  const info = m.localizationInfo;
  if (!info || typeof info !== "object") return;
  const version = m.manifestVersion;
  const loc = schemaValidator(version, LOCALIZATION_SCHEMA);
  const tags = new Map();
  const langFiles = [];
  if (typeof info.defaultLanguageFile === "string") {
    langFiles.push({ where: "/localizationInfo/defaultLanguageFile", tag: info.defaultLanguageTag, file: info.defaultLanguageFile });
  }
  (Array.isArray(info.additionalLanguages) ? info.additionalLanguages : []).forEach((l, i) => {
    if (!l || typeof l !== "object") return;
    const where = `/localizationInfo/additionalLanguages/${i}`;
    const tag = String(l.languageTag ?? "").toLowerCase();
    if (tag && tag === String(info.defaultLanguageTag ?? "").toLowerCase()) {
      problems.add("manifest.json", where, `languageTag ${l.languageTag} is the default language: its strings belong in manifest.json`);
    }
    if (tags.has(tag)) problems.add("manifest.json", where, `languageTag ${l.languageTag} is listed twice`);
    tags.set(tag, l.file);
    langFiles.push({ where, tag: l.languageTag, file: l.file });
  });
  // Resolution is default -> language -> language-region: a regional file without its
  // language-only file leaves the other regions on the default language.
  for (const tag of tags.keys()) {
    const lang = tag.split("-")[0];
    if (tag.includes("-") && !tags.has(lang)) {
      problems.add(
        "manifest.json",
        "/localizationInfo/additionalLanguages",
        `${tag} has no language-only "${lang}" file: other ${lang} regions fall back to ${info.defaultLanguageTag}`,
      );
    }
  }
  const keys = loc ? localizableKeys(m, loc.schema) : new Map();
  for (const { where, file } of langFiles) {
    if (typeof file !== "string") continue;
    referenced.add(file);
    if (!files.has(file)) {
      problems.add("manifest.json", where, `${file} is not in the package`);
      continue;
    }
    const json = parseJsonFile(file, files.get(file), problems);
    if (json === undefined) continue;
    if (typeof json !== "object" || Array.isArray(json) || json === null) {
      problems.add(file, "", "must be a JSON object");
      continue;
    }
    const fileVersion = schemaVersionOf(json.$schema);
    if (json.$schema === undefined) {
      problems.add(file, "$schema", `missing: set it to ${SCHEMA_URL_BASE}v${version}/${LOCALIZATION_SCHEMA}`);
    } else if (fileVersion === undefined || !/Localization\.schema\.json$/.test(json.$schema)) {
      problems.add(file, "$schema", `${json.$schema} is not a Teams localization schema URL`);
    } else if (fileVersion !== version) {
      problems.add(file, "$schema", `is for manifest version ${fileVersion} but manifest.json is ${version}: both must be the same`);
    }
    if ("manifestVersion" in json) {
      problems.add(file, "manifestVersion", "not allowed in a localization file: its manifest version is the one in $schema");
    }
    if (loc) {
      const ok = loc.validate(json);
      const lengthKeys = new Set(LENGTHS.map(([k]) => k));
      reportSchemaErrors(
        file,
        ok ? [] : loc.validate.errors,
        (where, kw) => (lengthKeys.has(where) && kw === "maxLength") || (where === "manifestVersion" && kw === "additionalProperties"),
        problems,
        true,
      );
    }
    checkNames(file, (k) => json[k], problems, (k) => k);
    checkPlaceholders(file, json, problems);
    for (const key of keys.keys()) {
      const v = json[key];
      if (v === undefined) problems.add(file, key, "translation missing");
      else if (typeof v !== "string" || v.trim() === "") problems.add(file, key, "translation is empty");
    }
    for (const key of Object.keys(json)) {
      if (!keys.has(key) && loc && isLocalizable(key, loc.schema)) {
        problems.add(file, key, "translates a string that manifest.json does not have");
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Entry point

/** Validates the package at `inputPath`; returns the list of problem lines (empty = valid). */
export function validatePackage(inputPath) {
  const problems = new Problems();
  const { files, isZip } = readPackage(inputPath, problems);
  if (!files.has("manifest.json")) {
    problems.add(path.basename(inputPath), "", "manifest.json is missing at the package root");
    return problems.lines;
  }
  const m = parseJsonFile("manifest.json", files.get("manifest.json"), problems);
  if (m === undefined) return problems.lines;
  if (typeof m !== "object" || m === null || Array.isArray(m)) {
    problems.add("manifest.json", "", "must be a JSON object");
    return problems.lines;
  }

  const version = m.manifestVersion;
  const coveredPaths = new Set(); // paths whose lengths/patterns the rules below report
  const referenced = new Set(["manifest.json"]);

  // Manifest version and $schema
  if (typeof version !== "string") {
    problems.add("manifest.json", "/manifestVersion", "missing");
  } else {
    const sv = schemaVersionOf(m.$schema);
    if (m.$schema !== undefined && sv !== version) {
      problems.add("manifest.json", "/$schema", `${m.$schema} does not match manifestVersion ${version}`);
    }
  }
  const main = typeof version === "string" ? schemaValidator(version, MANIFEST_SCHEMA) : undefined;
  if (typeof version === "string" && !main) {
    problems.add(
      "manifest.json",
      "/manifestVersion",
      `no schema for ${version} in @microsoft/app-manifest (has ${shippedVersions().sort((a, b) => a.localeCompare(b, "en", { numeric: true })).join(", ")})`,
    );
  }

  // Rules
  if (typeof m.version === "string" && !SEMVER.test(m.version)) {
    problems.add("manifest.json", "/version", `${JSON.stringify(m.version)} must be a semantic version MAJOR.MINOR.PATCH (e.g. 1.0.0)`);
  } else if (m.version === undefined) {
    problems.add("manifest.json", "/version", "missing");
  }
  coveredPaths.add("/version");

  checkNames("manifest.json", (k) => get(m, k), problems, (k) => `/${k.replace(".", "/")}`);
  if (m.name && typeof m.name === "object" && m.name.full === undefined) {
    problems.add("manifest.json", "/name/full", "missing (required since manifest 1.17)");
  }
  for (const [k] of LENGTHS) coveredPaths.add(`/${k.replace(".", "/")}`);
  const dev = m.developer?.name;
  if (typeof dev === "string") {
    if (dev.trim() === "") problems.add("manifest.json", "/developer/name", "must be a non-empty string");
    if (chars(dev) > DEVELOPER_NAME_MAX) {
      problems.add("manifest.json", "/developer/name", `${chars(dev)} characters, at most ${DEVELOPER_NAME_MAX} allowed`);
    }
  }
  coveredPaths.add("/developer/name");

  checkGuid("manifest.json", "/id", m.id, "id", problems);
  coveredPaths.add("/id");
  (Array.isArray(m.bots) ? m.bots : []).forEach((b, i) => {
    checkGuid("manifest.json", `/bots/${i}/botId`, b?.botId, "botId", problems);
    coveredPaths.add(`/bots/${i}/botId`);
  });
  (Array.isArray(m.staticTabs) ? m.staticTabs : []).forEach((t, i) => {
    checkGuid("manifest.json", `/staticTabs/${i}/contentBotId`, t?.contentBotId, "contentBotId", problems);
    coveredPaths.add(`/staticTabs/${i}/contentBotId`);
  });
  if (m.webApplicationInfo) {
    checkGuid("manifest.json", "/webApplicationInfo/id", m.webApplicationInfo.id, "webApplicationInfo.id", problems);
    coveredPaths.add("/webApplicationInfo/id");
  }

  const domains = checkValidDomains(m, problems);
  checkUrls(m, domains, problems, coveredPaths);
  checkPlaceholders("manifest.json", m, problems);
  checkIcons(m, files, problems);
  for (const f of Object.values(m.icons ?? {})) if (typeof f === "string") referenced.add(f);
  checkLocalization(m, files, problems, referenced);

  // Schema last, without repeating what the rules above already said about the same value.
  if (main) {
    const ok = main.validate(m);
    reportSchemaErrors(
      "manifest.json",
      ok ? [] : main.validate.errors,
      (where, kw) => coveredPaths.has(where) && ["maxLength", "pattern", "format", "type"].includes(kw),
      problems,
    );
  }

  // Files nobody references (zip only: a build folder may hold other things).
  if (isZip) {
    for (const name of files.keys()) {
      if (!referenced.has(name)) {
        problems.add(path.basename(inputPath), name, "file is not referenced by manifest.json: remove it from the package");
      }
    }
  }
  return problems.lines;
}

function main(argv) {
  const args = argv.slice(2);
  if (args.length !== 1 || args[0] === "-h" || args[0] === "--help") {
    process.stderr.write("usage: node validate.mjs PATH_TO_ZIP_OR_DIR\n");
    return 2;
  }
  let lines;
  try {
    lines = validatePackage(args[0]);
  } catch (e) {
    process.stderr.write(`validate: ${e.code === "ENOENT" ? `${args[0]}: no such file or folder` : e.message}\n`);
    return 2;
  }
  if (lines.length > 0) {
    for (const l of lines) process.stdout.write(`${l}\n`);
    process.stdout.write(`package invalid: ${lines.length} problem${lines.length === 1 ? "" : "s"}\n`);
    return 1;
  }
  process.stdout.write("package valid\n");
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv);
}
