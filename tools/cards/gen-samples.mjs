#!/usr/bin/env node
// Writes adaptive-cards/samples/*.json and adaptive-cards/strings.md from the [cards]
// tables of locales/fr-CA.toml, en.toml and pt.toml (the card strings) and the scenarios below.
//
//   node tools/cards/gen-samples.mjs          rewrite the files
//   node tools/cards/gen-samples.mjs --check  exit 1 if any file would change
//
// Each sample holds the data one card needs for one scenario in one locale,
// with the strings that card uses under `t`, exactly as the Rust service is
// expected to pass them to its expander. Needs `npm ci --prefix tools/cards` (smol-toml).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CARDS_DIR, CARDS_TABLE, LOCALES, SAMPLES_DIR,
  dataKeys, readCardStrings, readJson, sampleFiles, stringKeys, templateNames,
} from "./lib.mjs";

// Values that vary by locale (as the service would format them).
const LOCALE_DATA = {
  "fr-CA": { expiresAt: "15 h 42", retryAt: "16 h 10" },
  en: { expiresAt: "3:42 PM", retryAt: "4:10 PM" },
  pt: { expiresAt: "15:42", retryAt: "16:10" },
};

const CEGEP = {
  orgName: "Cégep de Sept-Îles",
  portalUrl: "https://cegepdeseptiles.octopus-itsm.com/Web/Login.aspx",
};
const CISSS = {
  orgName: "Les CISSS de la Montérégie",
  portalUrl: "https://monteregie.octopus-itsm.com/Web/",
};

const STATUS_FLAGS = ["isSent", "isUsed", "isChanged", "isSuperseded", "isCancelled", "isExpired", "isUndelivered"];
function status(flag, extra) {
  const flags = Object.fromEntries(STATUS_FLAGS.map((f) => [f, f === flag]));
  return {
    ...CEGEP,
    purpose: "reset",
    isEnroll: false,
    requestId: "3f6c1d2e-8b4a-4c8e-9a51-0d7e2b6f4c19",
    maskedEmail: "tr•••@cegepsi.ca",
    hasMaskedEmail: true,
    linkActive: false,
    askResetAgain: false,
    askEnrollAgain: false,
    canAskDesk: false,
    deskReason: "",
    ...flags,
    ...extra,
  };
}

const ERROR_FLAGS = ["isRateLimited", "isUnavailable", "isNotAllowed", "isUnknownTenant", "isUnknownTeam"];
function error(flag, extra) {
  const flags = Object.fromEntries(ERROR_FLAGS.map((f) => [f, f === flag]));
  return { ...CEGEP, hasRetryAt: false, ...flags, ...extra };
}

// The service desk's card: values and timeline lines are the bot's, already in the card's
// language (from the [helpdesk] table); the samples show French ones.
function helpdesk(extra) {
  return {
    found: true,
    username: "trej",
    displayName: "Julie Tremblay",
    maskedEmail: "j***@c***.ca",
    enrolled: "Oui",
    locked: "Non",
    isLocked: false,
    lastSignin: "9 h 12 le 2026-11-20",
    activeLink: "Aucun",
    hasEvents: true,
    events: [
      { title: "14 h 05", value: "Mot de passe changé" },
      { title: "14 h 05", value: "Lien utilisé" },
      { title: "14 h 03", value: "Lien ouvert" },
      { title: "14 h 01", value: "Courriel (lien de réinitialisation) accepté par le relais" },
      { title: "14 h 01", value: "Lien de réinitialisation demandé par la personne" },
    ],
    asOf: "État à 14 h 10",
    hasNotice: false,
    notice: "",
    hasWarning: false,
    warning: "",
    canUnlock: false,
    hardLockHint: false,
    canVerify: true,
    callerPending: false,
    callerVerified: false,
    callerDenied: false,
    callerText: "",
    ...extra,
  };
}

// The card the account's owner receives when an agent verifies a caller (« vérifier trej »).
function callerCode(extra) {
  return {
    isDenied: false,
    intro: "Agent du CSI, du Centre de services, vous demande de lui lire ce code :",
    code: "482 913",
    validity: "Valide jusqu'à 15 h 42, une seule fois.",
    checkId: "6b0e4a52-3c1f-4d8e-9f27-5a1c0d93e7b4",
    canAskDesk: false,
    deskReason: "",
    ...extra,
  };
}

const ACCOUNT_FLAGS = ["isUsername", "isUnlinked", "isLocked", "isNotLocked", "isUnlocked", "isHardLocked", "isUnlockLimit"];
const CONTACT = "Centre de services\u00a0: 418 962-9848, poste 2300 (du lundi au vendredi, de 8\u00a0h à 16\u00a0h 30) https://cegepsi.ca/soutien";
function account(flag, extra) {
  const flags = Object.fromEntries(ACCOUNT_FLAGS.map((f) => [f, f === flag]));
  const person = ["isUnlinked", "isHardLocked", "isUnlockLimit"].includes(flag);
  const desk = { isUnlinked: "unlinked", isHardLocked: "hard_lock" }[flag];
  return {
    ...CEGEP, username: "trej", hasContact: person, contact: person ? CONTACT : "",
    canAskDesk: Boolean(desk), deskReason: desk ?? "", ...flags, ...extra,
  };
}
const HINT = "Le nom d'utilisateur correspond (sauf exception) aux 3 premières lettres du nom et à la première lettre du prénom.";

// [card, variant | null, data (without locale values and t)]
const SCENARIOS = [
  ["welcome", null, { ...CEGEP }],
  ["invite", null, { orgName: CEGEP.orgName }],
  ["request", "reset", { ...CEGEP, purpose: "reset", isEnroll: false, username: "", isLocked: false, hasUsernameHint: true, usernameHint: HINT }],
  ["request", "enroll", { ...CISSS, purpose: "enroll", isEnroll: true, username: "trej", isLocked: false, hasUsernameHint: false, usernameHint: "" }],
  ["request", "reset-locked", { ...CEGEP, purpose: "reset", isEnroll: false, username: "trej", isLocked: true, hasUsernameHint: true, usernameHint: HINT }],
  ["status", "sent", status("isSent", { linkActive: true })],
  ["status", "sent-uniform", status("isSent", { linkActive: true, hasMaskedEmail: false, maskedEmail: "" })],
  ["status", "used", status("isUsed", { linkActive: true })],
  ["status", "changed", status("isChanged")],
  ["status", "superseded", status("isSuperseded")],
  ["status", "cancelled", status("isCancelled", { ...CISSS, purpose: "enroll", isEnroll: true, canAskDesk: true, deskReason: "not_me" })],
  ["status", "expired", status("isExpired")],
  ["status", "undelivered", status("isUndelivered", { askResetAgain: true, canAskDesk: true, deskReason: "undelivered" })],
  ["account", "username", account("isUsername")],
  ["account", "username-locked", account("isUsername", { isLocked: true })],
  ["account", "unlinked", account("isUnlinked", { username: "" })],
  ["account", "locked", account("isLocked")],
  ["account", "not-locked", account("isNotLocked")],
  ["account", "unlocked", account("isUnlocked")],
  ["account", "hard-locked", account("isHardLocked")],
  ["account", "unlock-limit", account("isUnlockLimit")],
  ["error", "rate-limited", error("isRateLimited", { hasRetryAt: true })],
  ["error", "unavailable", error("isUnavailable")],
  ["error", "not-allowed", error("isNotAllowed")],
  ["error", "unknown-tenant", error("isUnknownTenant", { orgName: "" })],
  ["error", "unknown-team", error("isUnknownTeam")],
  ["helpdesk", "found", helpdesk({})],
  ["helpdesk", "locked-resent", helpdesk({
    isLocked: true,
    canUnlock: true,
    locked: "Jusqu'à 15 h 42",
    hasNotice: true,
    notice: "Lien renvoyé à j***@c***.ca, valide jusqu'à 15 h 42.",
    activeLink: "Valide jusqu'à 15 h 42",
  })],
  ["helpdesk", "no-account", helpdesk({
    found: false, username: "trje", displayName: "", maskedEmail: "", enrolled: "", locked: "",
    lastSignin: "", activeLink: "", hasEvents: false, events: [], canVerify: false,
  })],
  ["helpdesk", "caller-pending", helpdesk({
    canVerify: false,
    callerPending: true,
    callerText: "Code envoyé à Julie Tremblay dans Teams, valide jusqu'à 15 h 42. Demandez à l'appelant de vous le lire. Essais restants : 3.",
  })],
  ["helpdesk", "caller-wrong-code", helpdesk({
    canVerify: false,
    callerPending: true,
    hasWarning: true,
    warning: "Code incorrect. Essais restants : 2.",
    callerText: "Code envoyé à Julie Tremblay dans Teams, valide jusqu'à 15 h 42. Demandez à l'appelant de vous le lire. Essais restants : 2.",
  })],
  ["helpdesk", "hard-locked", helpdesk({
    isLocked: true,
    locked: "Jusqu'au prochain changement de mot de passe",
    hardLockHint: true,
  })],
  ["helpdesk", "caller-verified", helpdesk({
    isLocked: true,
    locked: "Jusqu'au prochain changement de mot de passe",
    canUnlock: true,
    canVerify: false,
    callerVerified: true,
    callerText: "Identité confirmée : actions réservées possibles jusqu'à 15 h 57.",
  })],
  ["helpdesk", "caller-denied", helpdesk({
    callerDenied: true,
    callerText: "Julie Tremblay dit ne pas avoir appelé le Centre de services : ne faites aucune action pour l'appelant.",
  })],
  ["caller-code", null, callerCode({})],
  ["caller-code", "denied", callerCode({ isDenied: true, intro: "", code: "", validity: "", checkId: "", canAskDesk: true, deskReason: "did_not_call" })],
  ["desk-alert", "single", {
    isGrouped: false, summary: [], hasMore: false, more: "", canResend: false, mailId: "",
    events: [{ title: "14 h 05", value: "Compte trej verrouillé définitivement après trop de mots de passe erronés : seul un nouveau mot de passe ou un agent le débloque" }],
  }],
  ["desk-alert", "grouped", {
    isGrouped: true,
    summary: [{ title: "Courriels abandonnés", value: "50" }, { title: "Relais de courriel", value: "1" }, { title: "Refus en rafale", value: "1" }],
    events: [
      { title: "14 h 05", value: "Le relais de courriel ne prend plus les courriels : ils attendent et partiront dès son retour" },
      { title: "14 h 05", value: "Courriel abandonné (lien de réinitialisation) pour j***@c***.ca, en attente depuis 13 h 58 : refusé par le relais ou trop d'échecs" },
    ],
    hasMore: true, more: "… et 41 autre(s)", canResend: false, mailId: "",
  }],
  ["desk-alert", "dead-letter", {
    isGrouped: false, summary: [], hasMore: false, more: "", canResend: true, mailId: "0b6f3e2a-5c1d-4e8f-9a7b-3c2d1e0f9a8b",
    events: [{ title: "14 h 05", value: "Courriel abandonné (lien de réinitialisation) pour j***@c***.ca, en attente depuis 13 h 58\u00a0: refusé par le relais ou trop d'échecs" }],
  }],
  ["desk-request", "sent", { isSent: true, isAlready: false, hasContact: true, contact: CONTACT }],
  ["desk-request", "already", { isSent: false, isAlready: true, hasContact: false, contact: "" }],
];

// What each data name means (for strings.md).
const DATA_DOC = {
  orgName: "Organisation display name (config), e.g. « Cégep de Sept-Îles ».",
  portalUrl: "Organisation's Octopus portal login URL (config); an `https://` URL.",
  purpose: "`reset` or `enroll`; echoed back in the Submit/Execute data.",
  isEnroll: "bool: `true` when purpose is `enroll` (chooses the heading).",
  username: "Prefill for the username input; `\"\"` when unknown. Escape for JSON, never for Markdown.",
  requestId: "Opaque id of the reset request (never the token); sent back by « Ce n'était pas moi ».",
  maskedEmail: "Masked address, e.g. `tr•••@cegepsi.ca`; `\"\"` when not shown.",
  hasMaskedEmail: "bool: show `maskedEmail` and `t.sentMessage`; `false` gives the uniform answer (`t.sentUniformMessage`).",
  expiresAt: "Link expiry as local time, formatted for the locale (e.g. `15 h 42`, `3:42 PM`, `15:42`).",
  linkActive: "bool: the link can still be used; shows the expiry, the warning and « Ce n'était pas moi ».",
  isSent: "bool: status card: state flag (exactly one of the seven `is*` state flags is `true`). Desk-request card: the request was mailed to the service desk's Octopus mailbox.",
  isUsed: "bool: state flag: the link was opened.",
  isChanged: "bool: state flag: password changed (shows the portal button).",
  isSuperseded: "bool: state flag: a newer request replaced this one.",
  isCancelled: "bool: state flag: cancelled (Annuler or « Ce n'était pas moi »).",
  isExpired: "bool: state flag: the link expired unused.",
  isUndelivered: "bool: state flag: the mail could not be sent before the link expired (a relay outage); nothing was sent.",
  askResetAgain: "bool: an undelivered reset request: shows « Demander un nouveau lien » (Execute `forgot`).",
  askEnrollAgain: "bool: an undelivered enrolment request: shows « Demander un nouveau lien » (Execute `enroll`).",
  isRateLimited: "bool: error kind (exactly one of the five is `true`).",
  isUnavailable: "bool: error kind: service or mail temporarily unavailable.",
  isNotAllowed: "bool: error kind: not served in this conversation (a group chat); the personal chat is.",
  isUnknownTenant: "bool: error kind: the organisation (tenant) is not set up for the service; `orgName` is `\"\"`.",
  isUnknownTeam: "bool: error kind: this team is not set up for the service (the personal chat is served).",
  isLocked: "bool: request/account cards: the person's own account (by their Teams identity) is locked now: shows « Déverrouiller mon compte » (Execute `unlock`, no data: the bot unlocks the clicker's own account). Helpdesk card: the account is locked now (shows « Déverrouiller »).",
  isUsername: "bool: account card kind: the person's username (by their Teams identity) in `username`.",
  isUnlinked: "bool: account card kind: the uniform answer when the Teams identity matches no account (same whatever the reason).",
  isNotLocked: "bool: account card kind: asked to unlock, the account is not locked.",
  isUnlocked: "bool: account card kind: the lock was lifted (a mail was sent).",
  hasContact: "bool: show `contact` (the organisation gave a service desk contact, and the card is where self-service ends: unlinked, hard lock, unlock limit).",
  contact: "The service desk's contact in one line, in the card's language (`[organisations.service_desk]`); `\"\"` otherwise.",
  hasUsernameHint: "bool: the organisation wrote its username rule in this language (`[organisations.words] username_hint`).",
  usernameHint: "The organisation's username rule, in the card's language; `\"\"` otherwise.",
  isHardLocked: "bool: account card kind: self-service unlock refused: too many failures across unlocks (only a new password or the service desk lifts it).",
  isUnlockLimit: "bool: account card kind: self-service unlock refused: the day's unlocks (`lockout.self_unlocks_per_day`) are used up.",
  hasRetryAt: "bool: show the « Réessayez à partir de » fact.",
  found: "bool: an account has this username (else the « Aucun compte » card).",
  displayName: "The account's display name (agents only).",
  enrolled: "« Oui » / « Non »: the account has a password.",
  locked: "Sign-in lock: « Non », « Jusqu'à 15 h 42 » or « Jusqu'au prochain changement de mot de passe ».",
  lastSignin: "Last successful sign-in as local time, or « Aucune ».",
  activeLink: "A usable link and until when, or « Aucun ».",
  hasEvents: "bool: `events` is not empty.",
  events: "Helpdesk card: the timeline, newest first; desk-alert card: the events, oldest first (ten at most). An array of `{title: local time, value: what happened}` (a FactSet's facts, bound whole).",
  asOf: "When the card was built (« État à 14 h 10 »).",
  hasNotice: "bool: show `notice`.",
  notice: "What the last button did (« Lien renvoyé à j***@c***.ca… »); `\"\"` otherwise.",
  hasWarning: "bool: show `warning`.",
  warning: "What the last button could not do, or a warning for the agent (« Code incorrect. Essais restants : 2. »); `\"\"` otherwise.",
  canUnlock: "bool: helpdesk card: shows « Déverrouiller » (Execute `helpdesk.unlock`): the account is locked, and a hard lock only once the caller is confirmed.",
  hardLockHint: "bool: helpdesk card: a hard lock, the caller not confirmed: says to verify the caller first.",
  canVerify: "bool: helpdesk card: shows « Vérifier l'appelant » (Execute `helpdesk.verify` with `{username}`): no code pending, caller not confirmed.",
  callerPending: "bool: a code went to the account's owner: shows `callerText`, the `code` input and « Confirmer le code » (Execute `helpdesk.confirm` with `{username}` and the input `code`).",
  callerVerified: "bool: the caller read the right code: `callerText` says until when the restricted actions are open.",
  callerDenied: "bool: the account's owner answered « Je n'ai pas appelé »: `callerText` warns the agent.",
  callerText: "Where the caller check stands, in the card's language (built by the bot from the [helpdesk] table); `\"\"` when no check.",
  isDenied: "bool: caller-code card: the owner answered « Je n'ai pas appelé »: the code is no longer shown.",
  intro: "Who asks for the code and why (« Agent du CSI, du Centre de services, vous demande de lui lire ce code : »).",
  code: "The one-time code, six digits in two groups (`482 913`); `\"\"` once denied.",
  validity: "Until when the code works (« Valide jusqu'à 15 h 42, une seule fois. »).",
  checkId: "Opaque id of the check (not the code); sent back by « Je n'ai pas appelé ».",
  canAskDesk: "bool: where self-service ends (no linked account, hard lock, mail not delivered, « Ce n'était pas moi », « Je n'ai pas appelé ») and the organisation takes requests by mail (`[organisations.octopus_requests]`): shows the consent line and « Ouvrir une demande au Centre de services » (Execute `desk.request` with `{reason}`).",
  deskReason: "Where self-service ended: `unlinked`, `hard_lock`, `undelivered`, `not_me` or `did_not_call`; `\"\"` when `canAskDesk` is false.",
  canResend: "bool: desk-alert card: a dead letter alone on the card: « Renvoyer » (Execute `desk.resend` with `{mail}`); the bot checks that the clicker is an agent of the organisation.",
  mailId: "Desk-alert card: the dead letter's outbox id (never its content); `\"\"` when `canResend` is false.",
  isGrouped: "bool: desk-alert card: several events at once: `summary` counts them by kind.",
  summary: "Desk-alert card: an array of `{title: kind, value: count}` (a FactSet's facts, bound whole).",
  more: "Desk-alert card: how many events are not listed (« … et 41 autre(s) »); `\"\"` when `hasMore` is false.",
  hasMore: "bool: desk-alert card: more events than the ten listed.",
  isAlready: "bool: desk-request card: the same request went within the organisation's window: nothing more was sent.",
  retryAt: "Local time from which a new request is accepted, formatted for the locale; `\"\"` when `hasRetryAt` is false.",
};

const CARD_DOC = {
  welcome: "Welcome / help card. Buttons: « Mot de passe oublié ? » (Execute `forgot`), « M'inscrire au service » (Execute `enroll`), portal link (OpenUrl).",
  invite: "Enrolment campaign card (`octopus-teams campaign enroll`), posted once to each person who never set a password. Button: « M'inscrire au service » (Execute `enroll`, as on the welcome card).",
  request: "Reset or enrolment form. Input `username`; Execute `submit` with `{purpose}`, Execute `cancel` with `{purpose}` (cancel does not validate or send the input).",
  status: "Live status; replaces the request card. Execute `notme` with `{requestId}` while `linkActive`.",
  helpdesk: "Service desk's account status (« statut trej », « vérifier trej »), for the organisation's agents only. Execute `helpdesk.resend`, `helpdesk.unlock` (while `canUnlock`), `helpdesk.verify`, `helpdesk.confirm` (with the input `code`) and `helpdesk.status` with `{username}`; the bot checks at each click that the clicker is an agent.",
  "desk-alert": "Posted in the service desk's Teams channel (`[organisations.desk_channel]`): a mail given up on, a hard lock, « Je n'ai pas appelé », the relay or the database down and back, a burst of refusals; grouped, at most one card per `min_interval_secs`. « Renvoyer » on a lone dead letter; nothing secret.",
  "desk-request": "Replaces the card clicked after « Ouvrir une demande au Centre de services »: the request was sent, or already was (one per person and reason per window). No buttons.",
  "caller-code": "Posted in the account owner's personal chat when an agent verifies a caller: the one-time code to read out. Execute `caller.denied` with `{check}` (« Je n'ai pas appelé »): only the account's owner can; the check ends and the agent is warned.",
  account: "The person's own account, by their Teams identity: username reminder, locked / unlocked; « Déverrouiller mon compte » (Execute `unlock`) while `isLocked`.",
  error: "Error card: rate limited, unavailable, not served in this conversation, organisation or team not set up; optional retry time.",
};

function sampleData(card, base, locale, strings, template) {
  const loc = LOCALE_DATA[locale];
  const data = {};
  for (const k of dataKeys(template)) {
    if (k in base) data[k] = base[k];
    else if (k in loc) data[k] = loc[k];
  }
  if (card === "error" && !base.hasRetryAt) data.retryAt = "";
  const t = {};
  for (const key of stringKeys(template)) {
    const entry = strings[key];
    if (!entry || typeof entry[locale] !== "string") {
      throw new Error(`locales/${locale}.toml: no ${CARDS_TABLE}.${key} (t.${key} is used by ${card}.json)`);
    }
    t[key] = entry[locale];
  }
  // Every name the template binds must be present (expanders leave unknown bindings as-is).
  for (const k of dataKeys(template)) {
    if (!(k in data)) throw new Error(`scenario for ${card} lacks data key ${k}`);
  }
  data.t = t;
  return data;
}

/** One table row per button: what the bot receives for it. */
function actionRows(tpl) {
  const rows = [];
  const hasInputs = JSON.stringify(tpl).includes('"type":"Input.');
  const visit = (v) => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!v || typeof v !== "object") return;
    if (v.type === "Action.Execute") {
      const inputs = !hasInputs || (v.associatedInputs ?? "auto") === "none" ? "no inputs" : "inputs merged into data";
      const fb = v.fallback ? `data \`${JSON.stringify(v.fallback.data ?? {})}\`, ${inputs}` : "none";
      rows.push(`| \`${v.title}\` | verb \`${v.verb}\`, data \`${JSON.stringify(v.data ?? {})}\`, ${inputs} | ${fb} |`);
      return;
    }
    if (v.type === "Action.OpenUrl") {
      rows.push(`| \`${v.title}\` | opens \`${v.url}\` (nothing sent to the bot) | same |`);
      return;
    }
    for (const x of Object.values(v)) visit(x);
  };
  visit(tpl.body ?? []);
  visit(tpl.actions ?? []);
  return rows;
}

function markdownCell(s) {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function stringsMarkdown(strings, templates) {
  const lines = [];
  lines.push("# Adaptive Card strings and data");
  lines.push("");
  lines.push(`Generated by \`node tools/cards/gen-samples.mjs\` from the \`[${CARDS_TABLE}]\` tables of ${LOCALES.map((l) => `\`locales/${l}.toml\``).join(", ")}`);
  lines.push("(the strings, in the same order as there; notes are the comments above a key in `fr-CA.toml`) and from the");
  lines.push("templates; edit those, then rerun. Every user-visible text in `adaptive-cards/*.json` is bound from data: the");
  lines.push(`service passes, next to the card's data, the strings the card uses from the \`[${CARDS_TABLE}]\` table of the user's`);
  lines.push(`locale under \`t\` (\`${CARDS_TABLE}.submitButton\` → \`\${t.submitButton}\`).`);
  lines.push("The samples in `adaptive-cards/samples/` show the exact data each card expects.");
  lines.push("");
  lines.push("Rules for the expander (a subset of the Adaptive Cards templating language):");
  lines.push("- `${path}` as a whole string or inside a string; `path` is a name or a dotted path (`t.key`).");
  lines.push("- `\"$when\": \"${flag}\"` or `\"${!flag}\"` on any object inside an array: the object is dropped when the flag is false; the `$when` key is removed otherwise.");
  lines.push("- No `$data`, no functions, no `$root`/`$index`.");
  lines.push("- Always pass every name listed below, even when a `$when` hides it: the official expander leaves an unknown `${name}` in the output as literal text.");
  lines.push("- Values are inserted as JSON strings (escaped for JSON); a whole-string binding of a boolean yields the boolean.");
  lines.push("- Expansion is single-pass: an inserted value is never expanded again (a typed username containing `${…}` stays literal).");
  lines.push("- `node tools/cards/check.mjs` writes the official expander's output for every sample to `target/cards-expanded/`; the Rust expander must produce equal JSON from the same sample.");
  lines.push("  With the Rust expander's output for every sample in `DIR` (named like the samples), `node tools/cards/check.mjs --expanded-in DIR --compare DIR` checks those cards (schema, renderer, buttons) and fails unless each equals the official expansion as JSON.");
  lines.push("");
  lines.push("## Cards and their data");
  for (const [name, tpl] of templates) {
    lines.push("");
    lines.push(`### \`${name}.json\``);
    lines.push("");
    if (CARD_DOC[name]) lines.push(CARD_DOC[name], "");
    lines.push("| data | meaning |");
    lines.push("|---|---|");
    for (const k of dataKeys(tpl)) lines.push(`| \`${k}\` | ${markdownCell(DATA_DOC[k] ?? "")} |`);
    const acts = actionRows(tpl);
    if (acts.length) {
      lines.push("");
      lines.push("| button | Teams sends (Action.Execute → invoke `adaptiveCard/action`) | older clients (fallback Action.Submit → message `value`) |");
      lines.push("|---|---|---|");
      lines.push(...acts);
    }
    lines.push("");
    lines.push(`Strings: ${stringKeys(tpl).map((k) => `\`t.${k}\``).join(", ")}`);
  }
  lines.push("");
  lines.push("## String table");
  lines.push("");
  const usedBy = {};
  for (const [name, tpl] of templates) for (const k of stringKeys(tpl)) (usedBy[k] ??= []).push(name);
  lines.push("| key | cards | fr-CA | en | pt |");
  lines.push("|---|---|---|---|---|");
  for (const [key, entry] of Object.entries(strings)) {
    const cards = (usedBy[key] ?? []).join(", ") || "(unused)";
    lines.push(`| \`t.${key}\` | ${cards} | ${LOCALES.map((l) => markdownCell(entry[l])).join(" | ")} |`);
  }
  const notes = Object.entries(strings).filter(([, e]) => e.note);
  if (notes.length) {
    lines.push("");
    lines.push("Notes:");
    for (const [key, e] of notes) lines.push(`- \`t.${key}\`: ${e.note}`);
  }
  lines.push("");
  return lines.join("\n");
}

async function main() {
  const checkOnly = process.argv.includes("--check");
  const strings = await readCardStrings();
  const templates = templateNames().map((n) => [n, readJson(join(CARDS_DIR, `${n}.json`))]);
  const byName = Object.fromEntries(templates);
  const outputs = new Map();
  for (const [card, variant, base] of SCENARIOS) {
    const tpl = byName[card];
    if (!tpl) throw new Error(`no template adaptive-cards/${card}.json`);
    for (const locale of LOCALES) {
      const file = [card, variant, locale].filter(Boolean).join(".") + ".json";
      const data = sampleData(card, base, locale, strings, tpl);
      outputs.set(join(SAMPLES_DIR, file), JSON.stringify(data, null, 2) + "\n");
    }
  }
  outputs.set(join(CARDS_DIR, "strings.md"), stringsMarkdown(strings, templates));

  const stale = [];
  for (const [path, text] of outputs) {
    const old = existsSync(path) ? readFileSync(path, "utf8") : null;
    if (old === text) continue;
    stale.push(path);
    if (!checkOnly) writeFileSync(path, text);
  }
  const known = new Set([...outputs.keys()]);
  const extra = sampleFiles().map((s) => join(SAMPLES_DIR, s.file)).filter((p) => !known.has(p));
  if (checkOnly) {
    if (stale.length) {
      console.error(`out of date (run node tools/cards/gen-samples.mjs):\n  ${stale.join("\n  ")}`);
      process.exit(1);
    }
    console.log(`samples and strings.md up to date (${outputs.size} files)`);
  } else {
    console.log(`wrote ${stale.length} of ${outputs.size} files`);
  }
  if (extra.length) console.log(`note: samples not produced by the generator (kept):\n  ${extra.join("\n  ")}`);
}

main().catch((e) => {
  console.error(`gen-samples.mjs: ${e.message}`);
  process.exit(e.setup ? 2 : 1);
});
