#!/usr/bin/env node
// Validates cards as the bot actually sent them (recorded by the test suite's local Bot
// Connector or taken from invoke answers), not templates: every DIR/*.json (recursively) is one
// card, named by its file. Each must be valid against the official Adaptive Cards 1.5 JSON
// schema (schema.mjs: the same validator as check.mjs, every typed object against its own
// definition too), declare version 1.5, and keep no templating left over (`${…}`, `$when`,
// `$data`).
//
//   node tools/cards/validate.mjs DIR [--min N]
//
//   --min N   also fail when DIR holds fewer than N cards (a dump that silently stayed
//             empty proves nothing)
//
// Prints one line per failing card (its file name and every problem), then
// "N cards passed, M failed". Exits 0 only when every card passed and there were at least N;
// 1 on a failed card; 2 on usage or setup errors. Uses no network after the schema's setup
// step (see schema.mjs).
import { readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { readJson } from "./lib.mjs";
import { ensureSchema, schemaValidator } from "./schema.mjs";

function usage(message) {
  if (message) console.error(`validate.mjs: ${message}`);
  console.error("usage: node tools/cards/validate.mjs DIR [--min N]");
  process.exit(2);
}

const args = process.argv.slice(2);
let dir = null;
let min = 0;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--min") {
    min = Number(args[++i]);
    if (!Number.isInteger(min) || min < 0) usage("--min needs a whole number");
  } else if (args[i].startsWith("--")) usage(`unknown argument ${args[i]}`);
  else if (dir) usage("one directory only");
  else dir = resolve(args[i]);
}
if (!dir) usage("no directory given");
try {
  if (!statSync(dir).isDirectory()) usage(`${dir} is not a directory`);
} catch {
  usage(`no directory ${dir}`);
}

function jsonFiles(d) {
  return readdirSync(d, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? jsonFiles(join(d, e.name)) : e.name.endsWith(".json") ? [join(d, e.name)] : []))
    .sort();
}

/** Templating that must not survive into a sent card. */
function leftovers(card) {
  const errors = [];
  const text = JSON.stringify(card);
  const bindings = [...new Set(text.match(/\$\{[^}]*\}?/g) ?? [])];
  if (bindings.length) errors.push(`unexpanded binding(s): ${bindings.join(", ")}`);
  const visit = (v, path) => {
    if (Array.isArray(v)) return v.forEach((x, i) => visit(x, `${path}/${i}`));
    if (!v || typeof v !== "object") return;
    for (const [k, x] of Object.entries(v)) {
      if (k === "$when" || k === "$data") errors.push(`${path}/${k}: templating key left in the card`);
      visit(x, `${path}/${k}`);
    }
  };
  visit(card, "");
  return errors;
}

let validate;
try {
  validate = schemaValidator(ensureSchema({ log: (m) => console.error(m) }));
} catch (e) {
  console.error(`validate.mjs: ${e.message}`);
  process.exit(e.setup ? 2 : 1);
}

let passed = 0;
let failed = 0;
for (const file of jsonFiles(dir)) {
  const name = relative(dir, file);
  let card;
  try {
    card = readJson(file);
  } catch (e) {
    console.log(`FAIL ${name}: ${e.message}`);
    failed++;
    continue;
  }
  const errors = [];
  if (card?.type !== "AdaptiveCard") errors.push(`"type" is ${JSON.stringify(card?.type)}, not "AdaptiveCard"`);
  if (card?.version !== "1.5") errors.push(`"version" is ${JSON.stringify(card?.version)}, not "1.5"`);
  errors.push(...leftovers(card), ...validate(card));
  if (errors.length) {
    console.log(`FAIL ${name}:\n  - ${errors.join("\n  - ")}`);
    failed++;
  } else {
    passed++;
  }
}
console.log(`${passed} cards passed, ${failed} failed (${dir})`);
if (passed + failed < min) {
  console.log(`FAIL: ${passed + failed} card(s) in ${dir}, expected at least ${min}`);
  process.exit(1);
}
process.exit(failed ? 1 : 0);
