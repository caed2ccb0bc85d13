// Dynamic client registration as a relying party does it: panva's openid-client v6 discovers the
// server, registers itself through the registration_endpoint (client.dynamicClientRegistration, with
// an initial access token when one is given), then runs the code flow with PKCE and client_secret_basic
// using the secret the server issued, and reads its registration back (RFC 7592) with the registration
// access token. This script plays the browser and the consent app:
//   node register.mjs <issuer> <admin_token> <redirect_uri> [initial_access_token]
// Prints one JSON line; exits 1 on the first failure.
import * as client from 'openid-client'
import { adminCaller, follow } from './browser.mjs'

const [issuerArg, adminToken, redirectUri, initialAccessToken] = process.argv.slice(2)
const issuer = new URL(issuerArg)
const out = {}

const admin = adminCaller(issuer, adminToken)

try {
  const metadata = {
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    client_name: 'openid-client relying party',
    client_id: 'i-would-like-this-id',
  }
  const options = { execute: [client.allowInsecureRequests] }
  if (initialAccessToken) options.initialAccessToken = initialAccessToken
  const config = await client.dynamicClientRegistration(issuer, metadata, undefined, options)
  const registered = config.clientMetadata()
  out.registered = {
    client_id: registered.client_id,
    has_secret: Boolean(registered.client_secret),
    token_endpoint_auth_method: registered.token_endpoint_auth_method,
    scope: registered.scope,
    registration_client_uri: registered.registration_client_uri,
  }

  // The code flow with the registered client (client_secret_basic with the issued secret, PKCE).
  const codeVerifier = client.randomPKCECodeVerifier()
  const nonce = client.randomNonce()
  const state = client.randomState()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope: 'openid offline_access', nonce, state,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
  })
  const first = await follow(url)
  const consentId = new URL(first.location).searchParams.get('consent')
  if (!consentId) throw new Error(`no consent request: ${first.location}`)
  const cookie = first.cookies.map((c) => c.split(';')[0]).join('; ')
  const request = await admin('GET', `/oauth2/consent/requests/${consentId}`)
  await admin('PATCH', `/oauth2/consent/requests/${consentId}/accept`,
              { subject: 'dcr-user', grantScopes: ['openid', 'offline_access'] })
  const second = await follow(request.redirectUrl, cookie)
  const tokens = await client.authorizationCodeGrant(config, new URL(second.location), {
    pkceCodeVerifier: codeVerifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true,
  })
  out.code = { sub: tokens.claims().sub, aud: tokens.claims().aud, has_refresh: Boolean(tokens.refresh_token) }

  // RFC 7592: read the registration back with the registration access token.
  const read = await fetch(registered.registration_client_uri, {
    headers: { authorization: `Bearer ${registered.registration_access_token}` },
  })
  out.read = { status: read.status, client_name: (await read.json()).client_name }
  console.log(JSON.stringify(out))
} catch (error) {
  console.log(JSON.stringify({ ...out, error: `${error.name}: ${error.message}`, code: error.code,
                               cause: error.cause ? String(JSON.stringify(error.cause)) : undefined }))
  process.exit(1)
}
