// Runs inside headless Chromium, next to the adaptivecards renderer (window.AdaptiveCards).
// window.checkCard(card, hostConfig, expectedTexts) parses, validates and renders one
// expanded card into #bubble and returns { errors, warnings, info }.
(function () {
  "use strict";
  const AC = window.AdaptiveCards;

  // Names an element/action may carry besides those in the renderer's own schema:
  // common ones, and the collections each container type parses by hand.
  const EXTRA_KEYS = new Set(["type", "fallback", "requires"]);
  const ROOT_EXTRA_KEYS = new Set(["$schema", "type", "body", "actions"]);
  const COLLECTION_KEYS = {
    Container: ["items"],
    Column: ["items"],
    ColumnSet: ["columns"],
    ActionSet: ["actions"],
    ImageSet: ["images"],
    Table: ["columns", "rows"],
    TableRow: ["cells"],
    TableCell: ["items"],
    "Action.ShowCard": ["card"],
  };

  function schemaNames(obj) {
    const names = new Set();
    const schema = obj.getSchema();
    for (let i = 0; i < schema.getCount(); i++) names.add(schema.getItemAt(i).name);
    return names;
  }

  function unknownKeys(obj, source, extra) {
    if (!source || typeof source !== "object") return [];
    const names = schemaNames(obj);
    const collections = COLLECTION_KEYS[source.type] || [];
    return Object.keys(source).filter((k) => !names.has(k) && !extra.has(k) && !collections.includes(k));
  }

  function eventText(e) {
    const name = AC.ValidationEvent[e.event] || String(e.event);
    const phase = AC.ValidationPhase ? AC.ValidationPhase[e.phase] : e.phase;
    return `${phase}/${name}: ${e.message}`;
  }

  function parse(card, payload, context) {
    const problems = [];
    const factSchema = schemaNames(new AC.Fact());
    context.onParseElement = (element, source) => {
      const type = source && source.type;
      for (const k of unknownKeys(element, source, EXTRA_KEYS)) {
        problems.push(`unknown property "${k}" on ${type} (not in the renderer's schema)`);
      }
      if (type === "FactSet" && Array.isArray(source.facts)) {
        for (const fact of source.facts) {
          for (const k of Object.keys(fact)) {
            if (!factSchema.has(k)) problems.push(`unknown property "${k}" on a Fact`);
          }
        }
      }
    };
    context.onParseAction = (action, source) => {
      for (const k of unknownKeys(action, source, EXTRA_KEYS)) {
        problems.push(`unknown property "${k}" on ${source.type}`);
      }
    };
    card.parse(payload, context);
    for (const k of unknownKeys(card, payload, ROOT_EXTRA_KEYS)) {
      problems.push(`unknown property "${k}" on AdaptiveCard`);
    }
    for (let i = 0; i < context.eventCount; i++) problems.push(eventText(context.getEventAt(i)));
    return problems;
  }

  function walk(value, visit) {
    if (Array.isArray(value)) value.forEach((v) => walk(v, visit));
    else if (value && typeof value === "object") {
      visit(value);
      Object.values(value).forEach((v) => walk(v, visit));
    }
  }

  // What an older Teams client that lacks Action.Execute would see: every Execute
  // must fall back to an Action.Submit whose data names the verb.
  function checkLegacyFallback(payload, hostConfig) {
    const errors = [];
    const actions = new AC.CardObjectRegistry();
    AC.GlobalRegistry.populateWithDefaultActions(actions);
    actions.unregister("Action.Execute");
    const context = new AC.SerializationContext(AC.Versions.v1_5);
    context.setActionRegistry(actions);
    const card = new AC.AdaptiveCard();
    card.hostConfig = hostConfig;
    card.parse(payload, context);
    const json = card.toJSON(new AC.SerializationContext(AC.Versions.v1_5));
    let executes = 0;
    walk(payload, (o) => { if (o.type === "Action.Execute") executes++; });
    let submits = 0;
    walk(json, (o) => {
      if (o.type === "Action.Execute") errors.push("legacy client: an Action.Execute survived without Execute support");
      if (o.type === "Action.Submit") {
        if (!o.data || typeof o.data.action !== "string") errors.push(`legacy client: Action.Submit "${o.title}" has no data.action`);
        else submits++;
      }
    });
    if (submits < executes) errors.push(`legacy client: ${executes} Action.Execute but only ${submits} fallback Action.Submit`);
    const rendered = card.render();
    if (!rendered) errors.push("legacy client: card did not render");
    return { errors, fallbackSubmits: submits };
  }

  function normalise(s) {
    return s.replace(/\s+/g, " ").trim();
  }

  window.checkCard = function (payload, hostConfigJson, expectedTexts, width) {
    const errors = [];
    const warnings = [];
    const hostConfig = new AC.HostConfig(hostConfigJson);
    const bubble = document.getElementById("bubble");
    bubble.style.setProperty("--card-width", `${width}px`);
    bubble.innerHTML = "";

    if (payload.version !== "1.5") errors.push(`card version is ${JSON.stringify(payload.version)}, expected "1.5"`);

    // 1. Parse at schema 1.5: unknown types, properties newer than 1.5, bad values.
    const card = new AC.AdaptiveCard();
    card.hostConfig = hostConfig;
    const context = new AC.SerializationContext(AC.Versions.v1_5);
    for (const p of parse(card, payload, context)) errors.push(`parse: ${p}`);

    // 2. The renderer's own validation (ids, required labels, empty collections...).
    const results = card.validateProperties();
    for (const e of results.validationEvents) errors.push(`validate: ${eventText(e)}`);

    // 3. Render.
    let rendered;
    try {
      rendered = card.render();
    } catch (e) {
      errors.push(`render threw: ${e && e.message}`);
    }
    const info = {};
    if (!rendered) {
      errors.push("render returned nothing");
    } else {
      bubble.appendChild(rendered);
      const box = rendered.getBoundingClientRect();
      const text = normalise(rendered.innerText || "");
      info.height = Math.round(box.height);
      info.textLength = text.length;
      if (box.height < 40 || box.width < 100) errors.push(`rendered card is empty or collapsed (${Math.round(box.width)}x${Math.round(box.height)})`);
      if (text.length < 10) errors.push("rendered card shows no text");
      if (text.includes("${")) errors.push("rendered text still contains an unexpanded ${...}");
      for (const expected of expectedTexts) {
        if (!text.includes(normalise(expected))) errors.push(`text not shown: ${JSON.stringify(expected)}`);
      }
      // Inputs: placeholder and prefilled value really reach the control.
      for (const input of rendered.querySelectorAll("input")) {
        const label = input.getAttribute("aria-label") || input.getAttribute("aria-labelledby");
        if (!label) errors.push("an input has no accessible label");
      }
      // Buttons must show their whole title at this width.
      const buttons = rendered.querySelectorAll("button");
      info.buttons = buttons.length;
      for (const b of buttons) {
        const parts = [b, ...b.querySelectorAll("*")];
        if (parts.some((el) => el.scrollWidth > el.clientWidth + 1)) {
          errors.push(`button title truncated at ${width}px: ${JSON.stringify(normalise(b.innerText))}`);
        }
      }
      // Nothing may stick out of the bubble.
      const outer = bubble.getBoundingClientRect();
      for (const el of rendered.querySelectorAll("*")) {
        const r = el.getBoundingClientRect();
        if (r.width > 0 && (r.right > outer.right + 1 || r.left < outer.left - 1)) {
          errors.push(`element overflows the card horizontally: <${el.tagName.toLowerCase()} class="${el.className}">`);
          break;
        }
      }
    }

    // 4. Older clients: Action.Execute falls back to Action.Submit.
    const legacy = checkLegacyFallback(payload, hostConfig);
    errors.push(...legacy.errors);
    info.fallbackSubmits = legacy.fallbackSubmits;

    return { errors, warnings, info };
  };

  // ---- interaction: render a fresh copy, let the test click, report what the card did ----
  let executed = [];
  window.renderFresh = function (payload, hostConfigJson, width) {
    const bubble = document.getElementById("bubble");
    bubble.style.setProperty("--card-width", `${width}px`);
    bubble.innerHTML = "";
    executed = [];
    const card = new AC.AdaptiveCard();
    card.hostConfig = new AC.HostConfig(hostConfigJson);
    card.parse(payload, new AC.SerializationContext(AC.Versions.v1_5));
    card.onExecuteAction = (action) => {
      executed.push({
        type: action.getJsonTypeName(),
        title: action.title,
        verb: action.verb,
        url: action.url,
        data: action.data === undefined ? undefined : JSON.parse(JSON.stringify(action.data)),
      });
    };
    bubble.appendChild(card.render());
    return Array.from(bubble.querySelectorAll("button")).map((b) => normalise(b.innerText));
  };
  window.afterClick = function () {
    const bubble = document.getElementById("bubble");
    return { executed, text: normalise(bubble.innerText) };
  };

  window.harnessReady = !!AC;
})();
