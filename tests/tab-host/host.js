// A stand-in for the Microsoft Teams web client, for tests only.
//
// It frames the page given by ?tab=... and answers, over window.postMessage, the subset of the
// TeamsJS (@microsoft/teams-js 2.x) host protocol that the octopus-teams tab pages use.
// Wire format (as read from the pinned SDK, dist/umd/MicrosoftTeams.js):
//   app -> host  request : { id: <number>, uuidAsString: <string>, func: <string>, args: [...],
//                            timestamp, monotonicTimestamp, apiVersionTag, isProxiedFromChild,
//                            teamsJsInstanceId }
//   host -> app  response: { id: <same number>, uuidAsString: <same string>, args: [...] }
//   host -> app  event   : { func: <string>, args: [...] }            (no numeric `id`)
// See README.md for the list of functions and their argument/response shapes.
(function () {
  'use strict';

  var params = new URLSearchParams(window.location.search);
  function q(name, fallback) {
    return params.has(name) ? params.get(name) : fallback;
  }
  function randomId() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    return 'xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx'.replace(/x/g, function () {
      return Math.floor(Math.random() * 16).toString(16);
    });
  }
  function copy(value) {
    return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  }

  // ---------------------------------------------------------------- host state from the query
  var state = {
    tab: q('tab', ''),
    token: q('token', ''),
    authError: q('authError', null),
    locale: q('locale', 'en-US'),
    theme: q('theme', 'default'),
    tenant: q('tenant', 'c0ffee00-0000-4000-8000-00000000a11a'),
    upn: q('upn', 'adele.vance@contoso.example'),
    userObjectId: q('userObjectId', '5e1f0000-0000-4000-8000-0000000000b0'),
    frameContext: q('frameContext', 'content'),
    teamId: q('teamId', ''),
    channelId: q('channelId', ''),
    teamName: q('teamName', 'Contoso IT'),
    channelName: q('channelName', 'General'),
    groupId: q('groupId', ''),
    entityId: q('entityId', ''),
    hostClientType: q('hostClientType', 'web'),
    // Version string the host claims to support (4th element of the initialize response).
    hostSdkVersion: q('hostSdkVersion', '2.58.0'),
    // If given, setConfig (settings.setSettings) fails with this reason.
    configError: q('configError', null),
    appSessionId: randomId(),
    sessionId: randomId(),
    // Filled in as the tab talks to us.
    tabOrigin: null,
    tabSdkVersion: null,
    initialized: false,
    validityState: false,
    appInitialization: null,
  };

  // Capabilities the SDK checks before it lets a call through (runtime config, apiVersion 4):
  //  - pages.config   -> pages.config.setValidityState / setConfig / registerOnSaveHandler
  //  - pages          -> pages.getConfig
  //  app.getContext, app.registerOnThemeChangeHandler and authentication.getAuthToken only need
  //  initialize() to have been called, but a real Teams host declares these too.
  var runtimeConfig = {
    apiVersion: 4,
    hostVersionsInfo: { adaptiveCardSchemaVersion: { majorVersion: 1, minorVersion: 5 } },
    isNAAChannelRecommended: false,
    isLegacyTeams: false,
    supports: {
      appEntity: {},
      pages: { appButton: {}, tabs: {}, config: {}, backStack: {}, fullTrust: {} },
      teamsCore: {},
      logs: {},
    },
  };

  // ---------------------------------------------------------------- what tests read
  var hostLog = [];        // every message received from the tab, in order
  var hostSent = [];       // every response/event sent to the tab, in order
  var registeredHandlers = [];
  window.hostLog = hostLog;
  window.hostSent = hostSent;
  window.savedConfig = null;
  window.registeredHandlers = registeredHandlers;
  window.hostState = state;
  window.hostRuntimeConfig = runtimeConfig;

  var frame = null;
  var statusEl = document.getElementById('host-status');
  var footer = document.getElementById('config-footer');
  var validityEl = document.getElementById('validity');
  var saveButton = document.getElementById('save-button');

  function setStatus(text) {
    if (statusEl) statusEl.textContent = text;
  }
  function applyThemeClass() {
    document.body.className = 'theme-' + state.theme;
  }
  function showValidity() {
    if (validityEl) validityEl.textContent = state.validityState ? 'valid' : 'invalid';
    if (saveButton) saveButton.disabled = !state.validityState;
  }

  // ---------------------------------------------------------------- the v1-style ("legacy") context
  // TeamsJS 2.x hosts still send the flat v1 context; the SDK turns it into app.Context itself
  // (transformLegacyContextToAppContext): locale -> app.locale, theme -> app.theme,
  // tid -> user.tenant.id, userPrincipalName/loginHint -> user.*, frameContext -> page.frameContext,
  // teamId -> team.internalId, channelId -> channel.id, entityId -> page.id.
  function legacyContext() {
    var c = {
      locale: state.locale,
      theme: state.theme,
      frameContext: state.frameContext,
      hostClientType: state.hostClientType,
      hostName: 'Teams',
      ringId: 'general',
      appSessionId: state.appSessionId,
      sessionId: state.sessionId,
      tid: state.tenant,
      tenantSKU: 'enterprise',
      userObjectId: state.userObjectId,
      userPrincipalName: state.upn,
      loginHint: state.upn,
      userLicenseType: 'Unknown',
      isFullScreen: false,
      isMultiWindow: false,
    };
    if (state.entityId) c.entityId = state.entityId;
    if (state.teamId) {
      c.teamId = state.teamId;
      c.teamName = state.teamName;
      c.teamType = 0;
      c.userTeamRole = 0;
      if (state.groupId) c.groupId = state.groupId;
    }
    if (state.channelId) {
      c.channelId = state.channelId;
      c.channelName = state.channelName;
      c.channelType = 'Regular';
    }
    return c;
  }

  // ---------------------------------------------------------------- sending
  function targetOrigin() {
    if (state.tabOrigin && state.tabOrigin !== 'null') return state.tabOrigin;
    return '*';
  }
  function respond(request, source, origin, args) {
    var response = { id: request.id, uuidAsString: request.uuidAsString, args: args };
    hostSent.push({ kind: 'response', func: request.func, id: request.id, args: copy(args), at: Date.now() });
    source.postMessage(response, origin && origin !== 'null' ? origin : '*');
  }
  function sendEvent(func, args) {
    if (!frame || !frame.contentWindow) throw new Error('no tab frame to send "' + func + '" to');
    hostSent.push({ kind: 'event', func: func, args: copy(args), at: Date.now() });
    frame.contentWindow.postMessage({ func: func, args: args }, targetOrigin());
  }

  // ---------------------------------------------------------------- save flow (config page)
  var pendingSave = null;
  var validityWaiters = [];

  function settleSave(ok, value) {
    if (!pendingSave) return;
    var p = pendingSave;
    pendingSave = null;
    clearTimeout(p.timer);
    if (ok) p.resolve(value);
    else p.reject(value);
  }

  // ---------------------------------------------------------------- request handlers, by func
  var handlers = {
    // args: [sdkVersion, latestRuntimeApiVersion, validMessageOrigins]
    // reply: [frameContext, hostClientType, runtimeConfig as JSON string, clientSupportedSDKVersion]
    initialize: function (args, reply) {
      state.tabSdkVersion = args[0] || null;
      state.initialized = true;
      reply([state.frameContext, state.hostClientType, JSON.stringify(runtimeConfig), state.hostSdkVersion]);
      setStatus('initialized by teams-js ' + state.tabSdkVersion + ' · ' + state.frameContext + ' · theme ' + state.theme);
    },
    // args: []   reply: [legacyContext]
    getContext: function (_args, reply) {
      reply([legacyContext()]);
    },
    // args: [resources, claims, silent, tenantId]
    // reply: [true, token] or [false, errorString] (the SDK rejects with new Error(errorString))
    'authentication.getAuthToken': function (_args, reply) {
      if (state.authError !== null || !state.token) {
        reply([false, state.authError || 'resourceRequiresConsent']);
      } else {
        reply([true, state.token]);
      }
    },
    // args: [name, ...]  no reply (themeChange, save, remove, ...)
    registerHandler: function (args) {
      if (typeof args[0] === 'string' && registeredHandlers.indexOf(args[0]) < 0) registeredHandlers.push(args[0]);
    },
    // pages.config.setValidityState(bool) / settings.setValidityState   args: [bool]  no reply
    'settings.setValidityState': function (args) {
      state.validityState = args[0] === true;
      window.validityState = state.validityState;
      showValidity();
      if (state.validityState) {
        var waiters = validityWaiters;
        validityWaiters = [];
        waiters.forEach(function (w) { w(); });
      }
    },
    // pages.config.setConfig(instanceConfig) / settings.setSettings   args: [instanceConfig]
    // reply: [true] or [false, reason] (the SDK rejects with new Error(reason))
    'settings.setSettings': function (args, reply) {
      if (state.configError !== null) {
        reply([false, state.configError]);
        return;
      }
      window.savedConfig = copy(args[0]) || null;
      reply([true]);
    },
    // pages.getConfig()   args: []   reply: [instanceConfig]
    'settings.getSettings': function (_args, reply) {
      reply([window.savedConfig ? copy(window.savedConfig) : {}]);
    },
    // SaveEvent.notifySuccess() / notifyFailure(reason)   no reply
    'settings.save.success': function () {
      settleSave(true, window.savedConfig ? copy(window.savedConfig) : null);
    },
    'settings.save.failure': function (args) {
      settleSave(false, new Error('tab notified save failure: ' + (args[0] === undefined ? '' : args[0])));
    },
    // app.notifyAppLoaded / notifySuccess / notifyFailure / notifyExpectedFailure   no reply
    // (no reply because the runtime config does not declare app.notifySuccessResponse)
    'appInitialization.appLoaded': function () { state.appInitialization = state.appInitialization || 'appLoaded'; },
    'appInitialization.success': function () { state.appInitialization = 'success'; },
    'appInitialization.failure': function (args) { state.appInitialization = 'failure: ' + args[0]; },
    'appInitialization.expectedFailure': function (args) { state.appInitialization = 'expectedFailure: ' + args[0]; },
  };

  window.addEventListener('message', function (evt) {
    // Only the framed tab talks to us; anything else is not for this host.
    if (!frame || evt.source !== frame.contentWindow) return;
    var msg = evt.data;
    if (!msg || typeof msg !== 'object' || typeof msg.func !== 'string') return;
    state.tabOrigin = evt.origin;
    var entry = {
      func: msg.func,
      args: copy(msg.args || []),
      id: msg.id,
      uuid: msg.uuidAsString,
      apiVersionTag: msg.apiVersionTag,
      origin: evt.origin,
      at: Date.now(),
    };
    hostLog.push(entry);
    var handler = Object.prototype.hasOwnProperty.call(handlers, msg.func) ? handlers[msg.func] : null;
    if (!handler) {
      // Not part of the subset: recorded, left unanswered (tests can assert there are none).
      entry.unhandled = true;
      return;
    }
    handler(msg.args || [], function (args) { respond(msg, evt.source, evt.origin, args); });
  });

  // ---------------------------------------------------------------- test API
  // Sends the themeChange event, as Teams does when the user switches theme.
  window.setTheme = function (name) {
    state.theme = String(name);
    applyThemeClass();
    sendEvent('themeChange', [state.theme]);
    return state.theme;
  };

  // Presses "Save" on the configuration dialog: waits (up to timeoutMs) for the tab to have called
  // setValidityState(true), sends the settings.save event, and resolves with the config stored by
  // setConfig once the tab calls evt.notifySuccess(); rejects on notifyFailure or timeout.
  window.triggerSave = function (saveParameters, timeoutMs) {
    var limit = typeof timeoutMs === 'number' ? timeoutMs : 5000;
    if (pendingSave) return Promise.reject(new Error('a save is already in progress'));
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () {
        pendingSave = null;
        validityWaiters = [];
        reject(new Error(state.validityState
          ? 'the tab did not call notifySuccess/notifyFailure within ' + limit + ' ms'
          : 'Save stays disabled: the tab did not call setValidityState(true) within ' + limit + ' ms'));
      }, limit);
      pendingSave = { resolve: resolve, reject: reject, timer: timer };
      function send() {
        try {
          sendEvent('settings.save', [saveParameters || {}]);
        } catch (e) {
          settleSave(false, e);
        }
      }
      if (state.validityState) send();
      else validityWaiters.push(send);
    });
  };

  // Resolves with the first logged message whose func matches (already received or future).
  window.waitForHostMessage = function (func, timeoutMs) {
    var limit = typeof timeoutMs === 'number' ? timeoutMs : 5000;
    var started = Date.now();
    return new Promise(function (resolve, reject) {
      (function poll() {
        for (var i = 0; i < hostLog.length; i++) {
          if (hostLog[i].func === func) return resolve(hostLog[i]);
        }
        if (Date.now() - started > limit) return reject(new Error('no "' + func + '" message within ' + limit + ' ms'));
        setTimeout(poll, 25);
      })();
    });
  };

  // ---------------------------------------------------------------- start
  applyThemeClass();
  if (state.frameContext === 'settings' && footer) {
    footer.hidden = false;
    showValidity();
    saveButton.addEventListener('click', function () {
      window.triggerSave().catch(function (e) { setStatus(String(e && e.message || e)); });
    });
  }
  window.validityState = state.validityState;

  var tabUrl;
  try {
    tabUrl = new URL(state.tab, window.location.href);
  } catch (e) {
    tabUrl = null;
  }
  if (!state.tab || !tabUrl || (tabUrl.protocol !== 'http:' && tabUrl.protocol !== 'https:')) {
    setStatus('no tab: pass ?tab=<http(s) URL of the page to frame>');
    window.hostError = 'missing or invalid ?tab=';
    return;
  }
  // The listener above is installed before the frame exists, so the SDK's first "initialize"
  // can never be missed.
  frame = document.createElement('iframe');
  frame.id = 'tab-frame';
  frame.title = 'Tab';
  frame.setAttribute('allow', 'clipboard-read; clipboard-write; fullscreen');
  frame.src = tabUrl.href;
  document.getElementById('tab-slot').appendChild(frame);
  setStatus('loading ' + tabUrl.origin);
})();
