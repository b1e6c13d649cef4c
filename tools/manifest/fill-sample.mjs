#!/usr/bin/env node
// Builds a sample app package from manifest/ the way `octopus-teams manifest --out x.zip` will:
// fills the {{PLACEHOLDERS}} of manifest.template.json, en.json and pt.json with sample values
// (random GUIDs, host octopus.example.org), adds the icons, zips the files at the zip root.
//
//   node fill-sample.mjs [--variant NAME] [--out FILE.zip]
//
// Without --out, writes into a new temporary folder. Prints the zip path (and the folder with
// the unzipped files) so `node validate.mjs` can be run on either. --variant breaks the package
// on purpose, to check that the validator rejects it; `--variant list` prints the variants.

import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { zipSync } from "fflate";
import { PNG } from "pngjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const MANIFEST_DIR = path.resolve(HERE, "..", "..", "manifest");

/** Sample values for every placeholder the templates use. */
export function sampleValues() {
  const host = "octopus.example.org";
  const ssoAppId = crypto.randomUUID();
  return {
    APP_ID: crypto.randomUUID(),
    BOT_ID: crypto.randomUUID(),
    HOST: host,
    BASE_URL: `https://${host}`,
    SSO_APP_ID: ssoAppId,
    SSO_RESOURCE: `api://${host}/${ssoAppId}`,
    VERSION: "1.0.0",
    SHORT_NAME: "Octopus",
    FULL_NAME: "Octopus – mot de passe en libre-service",
    FULL_NAME_EN: "Octopus – password self-service",
    FULL_NAME_PT: "Octopus – autoatendimento de senhas",
    DEVELOPER_NAME: "Centre de services informatiques",
    DEVELOPER_URL: "https://www.example.org/centre-de-services",
    ACCENT_COLOR: "#0E5A8A",
  };
}

/**
 * Replaces {{NAME}} inside every JSON string value (so values never need JSON escaping and the
 * template stays valid JSON). Unknown placeholders are an error.
 */
export function fill(json, values) {
  if (typeof json === "string") {
    return json.replace(/\{\{([A-Z0-9_]+)\}\}/g, (whole, name) => {
      if (!(name in values)) throw new Error(`no value for placeholder ${whole}`);
      return values[name];
    });
  }
  if (Array.isArray(json)) return json.map((v) => fill(v, values));
  if (json && typeof json === "object") {
    return Object.fromEntries(Object.entries(json).map(([k, v]) => [k, fill(v, values)]));
  }
  return json;
}

const readJson = (f) => JSON.parse(fs.readFileSync(path.join(MANIFEST_DIR, f), "utf8"));
const toBytes = (json) => Buffer.from(`${JSON.stringify(json, null, 2)}\n`, "utf8");

/** A 64x64 outline made from the real one (nearest neighbour x2). */
function upscaleOutline(buf) {
  const src = PNG.sync.read(buf);
  const dst = new PNG({ width: src.width * 2, height: src.height * 2 });
  for (let y = 0; y < dst.height; y++) {
    for (let x = 0; x < dst.width; x++) {
      const s = ((y >> 1) * src.width + (x >> 1)) * 4;
      const d = (y * dst.width + x) * 4;
      src.data.copy(dst.data, d, s, s + 4);
    }
  }
  return PNG.sync.write(dst);
}

/** The real outline with its visible pixels tinted grey-blue. */
function tintOutline(buf) {
  const png = PNG.sync.read(buf);
  for (let i = 0; i < png.data.length; i += 4) {
    if (png.data[i + 3] > 0) {
      png.data[i] = 98;
      png.data[i + 1] = 100;
      png.data[i + 2] = 167;
    }
  }
  return PNG.sync.write(png);
}

/**
 * Broken variants: each takes { manifest, en, pt, files } (files: Map name -> Buffer for the
 * icons) and the zip entry prefix, and mutates them.
 */
export const VARIANTS = {
  valid: () => {},
  "outline-64": (p) => p.files.set("outline.png", upscaleOutline(p.files.get("outline.png"))),
  "outline-colour": (p) => p.files.set("outline.png", tintOutline(p.files.get("outline.png"))),
  "color-jpeg": (p) => p.files.set("color.png", Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46])),
  "http-url": (p) => {
    p.manifest.staticTabs[0].contentUrl = p.manifest.staticTabs[0].contentUrl.replace("https://", "http://");
  },
  "uncovered-domain": (p) => {
    p.manifest.configurableTabs[0].configurationUrl = "https://elsewhere.example.net/tab/config";
  },
  "bad-valid-domain": (p) => {
    p.manifest.validDomains = [`https://${p.manifest.validDomains[0]}/`];
  },
  "short-name-31": (p) => {
    p.manifest.name.short = "Octopus mot de passe oublié 31".padEnd(31, "!");
  },
  "same-names": (p) => {
    p.manifest.name.full = p.manifest.name.short;
  },
  "developer-name-33": (p) => {
    p.manifest.developer.name = "Centre de services informatiques!";
  },
  "missing-translation": (p) => {
    delete p.pt["bots[0].commandLists[1].commands[2].description"];
  },
  "stale-translation": (p) => {
    p.en["staticTabs[1].name"] = "Chat";
  },
  "loc-version-mismatch": (p) => {
    p.en.$schema = p.en.$schema.replace(/v\d+\.\d+/, "v1.24");
  },
  "loc-manifestVersion-key": (p) => {
    p.pt.manifestVersion = p.manifest.manifestVersion;
  },
  "bad-guid": (p) => {
    p.manifest.bots[0].botId = "octopus-bot";
  },
  "bad-semver": (p) => {
    p.manifest.version = "1.0";
  },
  "unfilled-placeholder": (p) => {
    p.manifest.developer.websiteUrl = "{{DEVELOPER_URL}}";
  },
  "unknown-property": (p) => {
    p.manifest.bots[0].supportsFile = false;
  },
  "regional-only": (p) => {
    p.manifest.localizationInfo.additionalLanguages[1].languageTag = "pt-br";
  },
  "unshipped-version": (p) => {
    p.manifest.manifestVersion = "1.18";
    p.manifest.$schema = p.manifest.$schema.replace(/v\d+\.\d+/, "v1.18");
    for (const f of [p.en, p.pt]) f.$schema = f.$schema.replace(/v\d+\.\d+/, "v1.18");
  },
  "no-accent-color": (p) => {
    delete p.manifest.accentColor;
  },
  "loc-short-name-31": (p) => {
    p.en["name.short"] = "Octopus password self-service!!";
  },
  "loc-unknown-key": (p) => {
    p.en["configurableTabs[0].name"] = "Octopus";
  },
  "in-folder": (p) => {
    p.prefix = "octopus-teams/";
  },
  "extra-file": (p) => {
    p.files.set("README.txt", Buffer.from("notes\n"));
  },
};

/**
 * Builds the sample package. Returns { zip, dir, values }: `dir` holds the package files (the
 * filled manifest, localization files and icons), `zip` the same files zipped.
 */
export function buildSample({ variant = "valid", out } = {}) {
  if (!(variant in VARIANTS)) throw new Error(`unknown variant ${variant} (try --variant list)`);
  const values = sampleValues();
  const manifest = fill(readJson("manifest.template.json"), values);
  const langFiles = (manifest.localizationInfo?.additionalLanguages ?? []).map((l) => l.file);
  const p = {
    manifest,
    en: fill(readJson("en.json"), values),
    pt: fill(readJson("pt.json"), values),
    files: new Map(
      [manifest.icons.color, manifest.icons.outline].map((f) => [f, fs.readFileSync(path.join(MANIFEST_DIR, f))]),
    ),
    prefix: "",
  };
  if (langFiles.join() !== "en.json,pt.json") throw new Error(`unexpected localization files ${langFiles}`);
  VARIANTS[variant](p);

  const entries = new Map([
    ["manifest.json", toBytes(p.manifest)],
    ["en.json", toBytes(p.en)],
    ["pt.json", toBytes(p.pt)],
    ...p.files,
  ]);
  const zipPath = path.resolve(out ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), "octopus-teams-app-")), "octopus-teams.zip"));
  const dir = zipPath.replace(/\.zip$/i, "") + ".files";
  fs.mkdirSync(path.dirname(zipPath), { recursive: true });
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir);
  const mtime = new Date("2026-01-01T00:00:00Z"); // reproducible zips
  const zipInput = {};
  for (const [name, data] of entries) {
    fs.writeFileSync(path.join(dir, name), data);
    zipInput[p.prefix + name] = [new Uint8Array(data), { mtime }];
  }
  fs.writeFileSync(zipPath, zipSync(zipInput, { level: 9 }));
  return { zip: zipPath, dir, values };
}

function main(argv) {
  const args = argv.slice(2);
  const opts = {};
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--variant") opts.variant = args[++i];
    else if (args[i] === "--out") opts.out = args[++i];
    else {
      process.stderr.write("usage: node fill-sample.mjs [--variant NAME|list] [--out FILE.zip]\n");
      return 2;
    }
  }
  if (opts.variant === "list") {
    process.stdout.write(`${Object.keys(VARIANTS).join("\n")}\n`);
    return 0;
  }
  const { zip, dir } = buildSample(opts);
  process.stdout.write(`${zip}\n${dir}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    process.exitCode = main(process.argv);
  } catch (e) {
    process.stderr.write(`fill-sample: ${e.message}\n`);
    process.exitCode = 2;
  }
}
