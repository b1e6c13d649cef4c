// Baseline Teams bot on the official Bot Framework SDK for JavaScript (botbuilder-js).
//
// It does the same work as octopus-teams answering "aide": authenticate the inbound
// activity (JWT from the channel, keys from the channel's OpenID metadata), expand the
// welcome Adaptive Card template, and reply to the conversation through the Bot
// Connector with an app token. See README.md for what is configured and what is
// replaced, and why.
//
// Environment (all required):
//   PORT                     listen on 127.0.0.1:PORT, route POST /api/messages
//   MICROSOFT_APP_ID         bot app id (token audience)
//   MICROSOFT_APP_PASSWORD   client secret used to get the outbound app token
//   MICROSOFT_APP_TENANT_ID  tenant of the single-tenant bot
//   OPENID_METADATA_URL      channel OpenID metadata (issuer + jwks_uri)
//   TOKEN_ISSUER             expected "iss" of channel tokens (https://api.botframework.com)
//   TOKEN_URL                client_credentials endpoint for the outbound app token
//
// It logs nothing per request (the SDK itself prints errors for rejected requests).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import express from 'express';
import {
    CallerIdConstants,
    CardFactory,
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    StatusCodes,
    TeamsActivityHandler,
} from 'botbuilder';
import {
    AppCredentials,
    AuthenticationConstants,
    AuthenticationError,
    ServiceClientCredentialsFactory,
} from 'botframework-connector';
import { Template } from 'adaptivecards-templating';

function requiredEnv(name) {
    const value = process.env[name];
    if (!value || !value.trim()) {
        console.error(`bot.mjs: environment variable ${name} is required`);
        process.exit(2);
    }
    return value.trim();
}

const PORT = Number.parseInt(requiredEnv('PORT'), 10);
const APP_ID = requiredEnv('MICROSOFT_APP_ID');
const APP_PASSWORD = requiredEnv('MICROSOFT_APP_PASSWORD');
const TENANT_ID = requiredEnv('MICROSOFT_APP_TENANT_ID');
const OPENID_METADATA_URL = requiredEnv('OPENID_METADATA_URL');
const TOKEN_ISSUER = requiredEnv('TOKEN_ISSUER');
const TOKEN_URL = requiredEnv('TOKEN_URL');

// ---------------------------------------------------------------------------
// Outbound app token: the SDK's AppCredentials, with the MSAL call replaced.
//
// The stock PasswordServiceClientCredentialFactory builds MicrosoftAppCredentials,
// which get the token from MSAL (@azure/msal-node) against
// https://login.microsoftonline.com/<tenant>; MSAL refuses an http://127.0.0.1
// authority, so it cannot be pointed at a local stand-in. AppCredentials is the
// SDK's documented base class for this: a subclass implements refreshToken() and
// inherits getToken() (process-wide cache keyed by app id + scope, entry kept until
// 5 minutes before expiry) and signRequest() (Authorization: Bearer <token>).
// Only the token request itself is ours: the same client_credentials grant MSAL
// sends (client_id, client_secret, scope=<audience>/.default) to TOKEN_URL.
// ---------------------------------------------------------------------------
class TokenUrlAppCredentials extends AppCredentials {
    constructor(appId, appPassword, tenantId, oAuthScope, tokenUrl) {
        super(appId, tenantId, oAuthScope);
        this.appPassword = appPassword;
        this.tokenUrl = tokenUrl;
    }

    // Same contract as MsalAppCredentials.refreshToken(): { accessToken, expiresOn: Date }.
    async refreshToken() {
        const scopePostfix = '/.default';
        const scope = this.oAuthScope.endsWith(scopePostfix) ? this.oAuthScope : `${this.oAuthScope}${scopePostfix}`;
        const res = await fetch(this.tokenUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
            body: new URLSearchParams({
                grant_type: 'client_credentials',
                client_id: this.appId,
                client_secret: this.appPassword,
                scope,
            }).toString(),
        });
        if (!res.ok) {
            throw new Error(`Authentication: token endpoint answered ${res.status}`);
        }
        const body = await res.json();
        const expiresIn = Number(body.expires_in);
        if (typeof body.access_token !== 'string' || !Number.isFinite(expiresIn)) {
            throw new Error('Authentication: no access token received from the token endpoint.');
        }
        return { accessToken: body.access_token, expiresOn: new Date(Date.now() + expiresIn * 1000) };
    }
}

// Same checks as PasswordServiceClientCredentialFactory (app id match, auth never
// disabled while an app id is set); only the credentials class differs.
class TokenUrlServiceClientCredentialsFactory extends ServiceClientCredentialsFactory {
    constructor(appId, appPassword, tenantId, tokenUrl) {
        super();
        this.appId = appId;
        this.appPassword = appPassword;
        this.tenantId = tenantId;
        this.tokenUrl = tokenUrl;
    }

    async isValidAppId(appId = '') {
        return appId === this.appId;
    }

    async isAuthenticationDisabled() {
        return !this.appId;
    }

    // loginEndpoint (https://login.microsoftonline.com/<tenant>) and validateAuthority
    // are MSAL settings; the token comes from TOKEN_URL instead.
    async createCredentials(appId, audience, _loginEndpoint, _validateAuthority) {
        if (!(await this.isValidAppId(appId))) {
            throw new Error('Invalid appId.');
        }
        return new TokenUrlAppCredentials(appId, this.appPassword, this.tenantId, audience, this.tokenUrl);
    }

    // Like the SDK's factories: never serialize the secret.
    toJSON() {
        return { name: this.constructor.name, appId: this.appId };
    }
}

// ---------------------------------------------------------------------------
// Inbound authentication: the SDK's own, fully parameterized.
//
// Setting any of the To*/OAuthUrl/CallerId options makes the SDK build a
// ParameterizedBotFrameworkAuthentication from exactly these values (no public-cloud
// defaults are mixed in), so every value is given: they are the public-cloud
// constants except the channel OpenID metadata URL and issuer, which come from env.
// A channel request is validated by JwtTokenExtractor: RS256 signature against the
// key with the token's kid from jwks_uri, iss == TOKEN_ISSUER, exp/nbf (5 min skew),
// key endorsements include the activity's channelId, aud == MICROSOFT_APP_ID, and the
// serviceurl claim == activity.serviceUrl.
//
// One adjustment, in the SDK's own extension point (CloudAdapter takes any
// BotFrameworkAuthentication): JwtTokenExtractor rethrows jsonwebtoken's own errors
// (JsonWebTokenError such as "invalid signature", NotBeforeError "jwt not active") as they
// are, and CloudAdapter.process answers 401 only for an AuthenticationError, so the
// unmodified SDK answers 500 to a token with a bad signature. The request is refused
// either way (no turn runs); this subclass only re-labels those errors as
// AuthenticationError so the answer is 401. It does no validation of its own.
// ---------------------------------------------------------------------------
const JWT_ERROR_NAMES = new Set(['JsonWebTokenError', 'NotBeforeError', 'TokenExpiredError']);

class BotAuthentication extends ConfigurationBotFrameworkAuthentication {
    async authenticateRequest(activity, authHeader) {
        try {
            return await super.authenticateRequest(activity, authHeader);
        } catch (err) {
            if (err && JWT_ERROR_NAMES.has(err.name)) {
                throw new AuthenticationError(`Unauthorized. ${err.message}`, StatusCodes.UNAUTHORIZED);
            }
            throw err;
        }
    }
}

const botFrameworkAuthentication = new BotAuthentication(
    {
        MicrosoftAppId: APP_ID,
        MicrosoftAppPassword: APP_PASSWORD,
        MicrosoftAppType: 'SingleTenant',
        MicrosoftAppTenantId: TENANT_ID,
        ValidateAuthority: true,
        ToChannelFromBotLoginUrl: `${AuthenticationConstants.ToChannelFromBotLoginUrlPrefix}${TENANT_ID}`,
        ToChannelFromBotOAuthScope: AuthenticationConstants.ToChannelFromBotOAuthScope,
        ToBotFromChannelTokenIssuer: TOKEN_ISSUER,
        ToBotFromChannelOpenIdMetadataUrl: OPENID_METADATA_URL,
        ToBotFromEmulatorOpenIdMetadataUrl: AuthenticationConstants.ToBotFromEmulatorOpenIdMetadataUrl,
        OAuthUrl: AuthenticationConstants.OAuthUrl,
        CallerId: CallerIdConstants.PublicAzureChannel,
    },
    new TokenUrlServiceClientCredentialsFactory(APP_ID, APP_PASSWORD, TENANT_ID, TOKEN_URL),
);

const adapter = new CloudAdapter(botFrameworkAuthentication);

// No onTurnError handler: the SDK default lets a turn error reach adapter.process,
// which logs it and answers 500.

// ---------------------------------------------------------------------------
// Bot logic: reply to a message with the welcome card, template expanded per request.
// ---------------------------------------------------------------------------
const here = path.dirname(fileURLToPath(import.meta.url));
const cardsDir = path.resolve(here, '..', '..', 'adaptive-cards');
const welcomeTemplate = new Template(JSON.parse(readFileSync(path.join(cardsDir, 'welcome.json'), 'utf8')));
const welcomeData = JSON.parse(readFileSync(path.join(cardsDir, 'samples', 'welcome.fr-CA.json'), 'utf8'));

class WelcomeBot extends TeamsActivityHandler {
    constructor() {
        super();
        this.onMessage(async (context, next) => {
            const card = welcomeTemplate.expand({ $root: welcomeData });
            await context.sendActivity({ attachments: [CardFactory.adaptiveCard(card)] });
            await next();
        });
    }
}

const bot = new WelcomeBot();

// ---------------------------------------------------------------------------
// HTTP: express + express.json(), the shape of the SDK's samples and templates.
// ---------------------------------------------------------------------------
const app = express();
app.disable('x-powered-by');
app.use(express.json());
app.post('/api/messages', async (req, res) => {
    await adapter.process(req, res, (context) => bot.run(context));
});

app.listen(PORT, '127.0.0.1');
