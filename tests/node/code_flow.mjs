// The authorization code flow with PKCE and `openid offline`, driven by panva's openid-client v6,
// which itself validates the ID token (signature, iss, aud, exp, nonce), the `iss` and `state` of
// the authorization response, and PKCE. This script plays the browser and the consent app:
//   node code_flow.mjs <issuer> <client_id> <client_secret> <redirect_uri> <admin_token>
// Prints one JSON line; exits 1 on the first failure.
import * as client from 'openid-client'
import { adminCaller, follow } from './browser.mjs'

const [issuerArg, clientId, clientSecret, redirectUri, adminToken] = process.argv.slice(2)
const issuer = new URL(issuerArg)
const out = {}

const admin = adminCaller(issuer, adminToken)

try {
  const config = await client.discovery(issuer, clientId, clientSecret, undefined, {
    execute: [client.allowInsecureRequests],
  })
  const codeVerifier = client.randomPKCECodeVerifier()
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier)
  const nonce = client.randomNonce()
  const state = client.randomState()
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid offline',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    nonce,
    state,
    // email is not in the scope: the claims parameter asks for it by name (OIDC Core 5.5)
    claims: JSON.stringify({ id_token: { email: null }, userinfo: { email: { essential: true } } }),
  })

  // The browser: /oauth2/auth sends it to the consent app with ?consent=<id> and a CSRF cookie.
  const first = await follow(authorizationUrl)
  const consentId = new URL(first.location).searchParams.get('consent')
  const cookie = first.cookies.map((c) => c.split(';')[0]).join('; ')

  // The consent app: read the request, accept it, send the browser back.
  const request = await admin('GET', `/oauth2/consent/requests/${consentId}`)
  out.requestedScopes = request.requestedScopes
  await admin('PATCH', `/oauth2/consent/requests/${consentId}/accept`, {
    subject: 'node-user',
    grantScopes: ['openid', 'offline'],
    idTokenExtra: { email: 'node@example.com' },
  })
  const second = await follow(request.redirectUrl, cookie)

  const tokens = await client.authorizationCodeGrant(config, new URL(second.location), {
    pkceCodeVerifier: codeVerifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  })
  const claims = tokens.claims()
  out.code = { sub: claims.sub, nonce_ok: claims.nonce === nonce, email: claims.email, scope: tokens.scope,
               has_refresh: Boolean(tokens.refresh_token) }

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
  out.refresh = { sub: refreshed.claims()?.sub, rotated: refreshed.refresh_token !== tokens.refresh_token }

  const userinfo = await client.fetchUserInfo(config, refreshed.access_token, claims.sub)
  out.userinfo = userinfo
  console.log(JSON.stringify(out))
} catch (error) {
  console.log(JSON.stringify({ ...out, error: `${error.name}: ${error.message}`, code: error.code,
                               cause: error.cause ? String(JSON.stringify(error.cause)) : undefined }))
  process.exit(1)
}
