// Tests for validate.mjs and the manifest/ templates: `npm test` (node --test) in tools/manifest.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { buildSample, MANIFEST_DIR, VARIANTS } from "../fill-sample.mjs";

const TOOL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const VALIDATE = path.join(TOOL_DIR, "validate.mjs");
const OUT = fs.mkdtempSync(path.join(os.tmpdir(), "octopus-teams-validate-test-"));

/** The placeholders `octopus-teams manifest` fills (keep in sync with manifest/README.md). */
const PLACEHOLDERS = [
  "APP_ID", "BOT_ID", "HOST", "BASE_URL", "SSO_APP_ID", "SSO_RESOURCE", "VERSION",
  "SHORT_NAME", "FULL_NAME", "FULL_NAME_EN", "FULL_NAME_PT", "DEVELOPER_NAME", "DEVELOPER_URL",
  "ACCENT_COLOR",
];

function validate(target) {
  const r = spawnSync(process.execPath, [VALIDATE, target], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function placeholdersIn(file) {
  const text = fs.readFileSync(path.join(MANIFEST_DIR, file), "utf8");
  JSON.parse(text); // the templates stay valid JSON
  return new Set([...text.matchAll(/\{\{([^}]*)\}\}/g)].map((m) => m[1]));
}

test("templates are valid JSON and use only the documented placeholders", () => {
  const used = new Set();
  for (const f of ["manifest.template.json", "en.json", "pt.json"]) {
    for (const p of placeholdersIn(f)) {
      assert.ok(PLACEHOLDERS.includes(p), `${f} uses undocumented placeholder {{${p}}}`);
      used.add(p);
    }
  }
  assert.deepEqual([...used].sort(), [...PLACEHOLDERS].sort());
});

test("localization files declare the manifest's schema version", () => {
  const m = JSON.parse(fs.readFileSync(path.join(MANIFEST_DIR, "manifest.template.json"), "utf8"));
  assert.match(m.$schema, new RegExp(`/v${m.manifestVersion.replace(".", "\\.")}/MicrosoftTeams\\.schema\\.json$`));
  for (const f of ["en.json", "pt.json"]) {
    const loc = JSON.parse(fs.readFileSync(path.join(MANIFEST_DIR, f), "utf8"));
    assert.equal(
      loc.$schema,
      `https://developer.microsoft.com/json-schemas/teams/v${m.manifestVersion}/MicrosoftTeams.Localization.schema.json`,
    );
  }
});

test("the filled sample package is valid, zipped and as a folder", () => {
  const { zip, dir } = buildSample({ out: path.join(OUT, "valid.zip") });
  for (const target of [zip, dir]) {
    const r = validate(target);
    assert.equal(r.code, 0, r.out + r.err);
    assert.equal(r.out, "package valid\n");
  }
});

// variant -> a line the validator must print for it
const EXPECTED = {
  "outline-64": "outline.png: outline icon is 64x64, must be 32x32",
  "outline-colour": "outline.png: outline icon has",
  "color-jpeg": "color.png: color icon is not a PNG file",
  "http-url": "manifest.json: /staticTabs/0/contentUrl: http://octopus.example.org/tab",
  "uncovered-domain": "host elsewhere.example.net is not covered by validDomains",
  "bad-valid-domain": "/validDomains/0: \"https://octopus.example.org/\" must be a host name without scheme",
  "short-name-31": "manifest.json: /name/short: 31 characters, at most 30 allowed",
  "same-names": "manifest.json: /name/full: must differ from name.short",
  "developer-name-33": "manifest.json: /developer/name: 33 characters, at most 32 allowed",
  "missing-translation": "pt.json: bots[0].commandLists[1].commands[2].description: translation missing",
  "stale-translation": "en.json: staticTabs[1].name: translates a string that manifest.json does not have",
  "loc-version-mismatch": "en.json: $schema: is for manifest version 1.24 but manifest.json is 1.30",
  "loc-manifestVersion-key": "pt.json: manifestVersion: not allowed in a localization file",
  "bad-guid": "manifest.json: /bots/0/botId: botId must be a GUID",
  "bad-semver": "manifest.json: /version: \"1.0\" must be a semantic version",
  "unfilled-placeholder": "manifest.json: /developer/websiteUrl: unfilled placeholder {{DEVELOPER_URL}}",
  "unknown-property": "manifest.json: /bots/0: unknown property 'supportsFile' (schema)",
  "regional-only": "pt-br has no language-only \"pt\" file",
  "unshipped-version": "manifest.json: /manifestVersion: no schema for 1.18 in @microsoft/app-manifest",
  "no-accent-color": "must have required property 'accentColor' (schema)",
  "loc-short-name-31": "en.json: name.short: 31 characters, at most 30 allowed",
  "loc-unknown-key": "en.json: configurableTabs[0].name: not a localizable key (schema)",
  "in-folder": "files are inside a folder: zip the files themselves",
  "extra-file": "README.txt: file is not referenced by manifest.json",
};

test("every broken variant has an expectation", () => {
  assert.deepEqual(Object.keys(EXPECTED).sort(), Object.keys(VARIANTS).filter((v) => v !== "valid").sort());
});

for (const [variant, line] of Object.entries(EXPECTED)) {
  test(`rejects variant ${variant}`, () => {
    const { zip } = buildSample({ variant, out: path.join(OUT, `${variant}.zip`) });
    const r = validate(zip);
    assert.equal(r.code, 1, r.out + r.err);
    assert.ok(r.out.includes(line), `expected "${line}" in:\n${r.out}`);
    assert.ok(!r.out.includes("package valid"), r.out);
    assert.match(r.out, /package invalid: \d+ problems?\n$/);
  });
}

test("a missing path exits 2 with a message", () => {
  const r = validate(path.join(OUT, "does-not-exist.zip"));
  assert.equal(r.code, 2);
  assert.match(r.err, /no such file or folder/);
});
