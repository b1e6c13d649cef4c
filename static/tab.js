// The Octopus tab. Inside Teams: single sign-on, one button. Otherwise (outside Teams, no SSO,
// no matching account): the username form, with the same uniform answers. Never a blank page.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('tab-data').textContent);
  var t = data.t || {};
  var $ = function (id) { return document.getElementById(id); };
  var inTeams = typeof window.microsoftTeams !== 'undefined' && window.parent !== window;
  // TeamsJS trusts only Microsoft's hosts (its built-in list and the one it fetches from the CDN).
  function initialize() { return withTimeout(microsoftTeams.app.initialize(), 5000); }

  function withTimeout(promise, ms) {
    return Promise.race([promise, new Promise(function (_, reject) {
      setTimeout(function () { reject(new Error('timeout')); }, ms);
    })]);
  }

  function setTheme(theme) {
    var name = theme === 'dark' ? 'dark' : theme === 'contrast' ? 'contrast' : 'default';
    document.body.classList.remove('theme-default', 'theme-dark', 'theme-contrast');
    document.body.classList.add('theme-' + name);
  }

  // The channel tab's configuration page.
  // Two tabs to choose from: the self-service page, or the organisation's Octopus portal.
  if (data.configs) {
    if (!inTeams) { return; }
    var chosen = function () {
      var radio = document.querySelector('input[name="tab-kind"]:checked');
      return data.configs[radio ? radio.value : 'self-service'] || data.configs['self-service'];
    };
    initialize().then(function () {
      microsoftTeams.app.getContext().then(function (ctx) { setTheme(ctx.app && ctx.app.theme); });
      document.querySelectorAll('input[name="tab-kind"]').forEach(function (radio) {
        radio.addEventListener('change', function () { microsoftTeams.pages.config.setValidityState(true); });
      });
      microsoftTeams.pages.config.registerOnSaveHandler(function (save) {
        microsoftTeams.pages.config.setConfig(chosen())
          .then(function () { save.notifySuccess(); })
          .catch(function (e) { save.notifyFailure(String(e)); });
      });
      microsoftTeams.pages.config.setValidityState(true);
    }).catch(function () { $('config-status').textContent = t.unavailable || ''; });
    return;
  }

  var token = null;
  function show(id, on) { $(id).hidden = !on; }
  function say(message) { show('problem', false); $('status').textContent = message; show('status', true); }
  function complain(message) { show('status', false); $('problem').textContent = message; show('problem', true); }
  function busy(on) {
    ['send-reset', 'send-enroll', 'unlock', 'fallback-reset', 'fallback-enroll', 'desk-request'].forEach(function (id) { $(id).disabled = on; });
  }

  function fallback(reason) {
    token = null;
    show('loading', false);
    show('sso', false);
    show('fallback', true);
    if (reason) { $('fallback-reason').textContent = reason; }
  }

  function api(method, path, body, bearer) {
    var headers = { 'X-Octopus-Tab': '1', 'Accept': 'application/json' };
    if (body) { headers['Content-Type'] = 'application/json'; }
    if (bearer) { headers['Authorization'] = 'Bearer ' + bearer; }
    return fetch(path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined, credentials: 'omit' })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) { return { status: r.status, body: j }; });
      });
  }

  function send(purpose, username) {
    busy(true);
    var body = { purpose: purpose, locale: data.lang, org: document.body.dataset.org };
    if (username) { body.username = username; }
    api('POST', '/api/tab/request', body, username ? null : token).then(function (res) {
      if (res.status === 200) { say(res.body.message); }
      else if (!username && (res.status === 401 || res.status === 404)) { fallback(res.body.message); }
      else { complain(res.body.message || t.unavailable); }
    }).catch(function () { complain(t.unavailable); }).then(function () { busy(false); });
  }

  $('fallback-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var purpose = ev.submitter && ev.submitter.value === 'enroll' ? 'enroll' : 'reset';
    var username = $('tab-username').value.trim();
    if (!username) { complain(t.username_required); $('tab-username').focus(); return; }
    send(purpose, username);
  });
  // Only with the sign-in token: the server unlocks the account of that identity, never a typed one.
  function unlock() {
    busy(true);
    api('POST', '/api/tab/unlock', { locale: data.lang }, token).then(function (res) {
      if (res.status === 200) { show('locked', false); say(res.body.message); }
      else {
        complain(res.body.message || t.unavailable);
        if (res.body.canAskDesk === true) { offerDesk('hard_lock', token); }
      }
    }).catch(function () { complain(t.unavailable); }).then(function () { busy(false); });
  }
  $('unlock').addEventListener('click', unlock);

  // Where self-service ends: a request to the service desk, for the signed-in identity only.
  var desk = { reason: null, token: null };
  function offerDesk(reason, bearer) { desk.reason = reason; desk.token = bearer; show('desk', true); }
  $('desk-request').addEventListener('click', function () {
    busy(true);
    api('POST', '/api/tab/desk-request', { reason: desk.reason, locale: data.lang }, desk.token).then(function (res) {
      if (res.status === 200) { show('desk', false); say(res.body.message); }
      else { complain(res.body.message || t.unavailable); }
    }).catch(function () { complain(t.unavailable); }).then(function () { busy(false); });
  });
  $('send-reset').addEventListener('click', function () { send('reset'); });
  $('send-enroll').addEventListener('click', function () { send('enroll'); });

  if (!inTeams) { return; } // outside Teams: the form is already there
  show('fallback', false);
  show('loading', true);
  initialize()
    .then(function () { return withTimeout(microsoftTeams.app.getContext(), 5000); })
    .then(function (ctx) {
      setTheme(ctx.app && ctx.app.theme);
      microsoftTeams.app.registerOnThemeChangeHandler(setTheme);
      return withTimeout(microsoftTeams.authentication.getAuthToken(), 15000);
    })
    .then(function (sso) {
      token = sso;
      return api('GET', '/api/tab/me', null, token);
    })
    .then(function (me) {
      if (me.status !== 200) {
        var signedIn = token;
        fallback(me.body.message || t.sso_failed);
        if (me.status === 404 && me.body.canAskDesk === true) { offerDesk('unlinked', signedIn); }
        return;
      }
      $('username').textContent = me.body.username;
      if (me.body.orgName) { $('org-name').textContent = me.body.orgName; }
      show('locked', me.body.locked === true);
      show('loading', false);
      show('sso', true);
    })
    .catch(function () { fallback(t.sso_failed); });
})();
