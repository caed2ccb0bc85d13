// Issue 25's relying party: panva's openid-client v6 registers itself through /oauth2/register with
// its own EC key (private_key_jwt, ES256 ID tokens, pairwise subjects, signed request objects), then
// runs the code flow and the hybrid flow (code id_token) with a signed request object and the claims
// parameter. openid-client itself checks the ID tokens (ES256 against the JWKS, iss, aud, nonce,
// c_hash in the hybrid response), the state and iss of the authorization response, and PKCE.
// This script plays the browser and the consent app:
//   node oidc_rp.mjs <issuer> <admin_token> <redirect_uri> <sector_identifier_uri or "">
// Prints one JSON line; exits 1 on the first failure.
import * as client from 'openid-client'
import { adminCaller, follow } from './browser.mjs'

const [issuerArg, adminToken, redirectUri, sectorUri] = process.argv.slice(2)
const issuer = new URL(issuerArg)
const out = {}

const admin = adminCaller(issuer, adminToken)

// The browser and the consent app for one authorization URL: returns the URL the client gets back.
async function signIn(authorizationUrl, subject, grantScopes, claims) {
  const first = await follow(authorizationUrl)
  const consentId = new URL(first.location).searchParams.get('consent')
  if (!consentId) throw new Error(`no consent request: ${first.location}`)
  const cookie = first.cookies.map((c) => c.split(';')[0]).join('; ')
  const request = await admin('GET', `/oauth2/consent/requests/${consentId}`)
  await admin('PATCH', `/oauth2/consent/requests/${consentId}/accept`, {
    subject, grantScopes, idTokenExtra: claims,
  })
  const second = await follow(request.redirectUrl, cookie)
  return { back: new URL(second.location), request }
}

try {
  const { privateKey, publicKey } = await crypto.subtle.generateKey(
    { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
  const jwk = { ...(await crypto.subtle.exportKey('jwk', publicKey)), kid: 'rp-key-1', alg: 'ES256', use: 'sig' }
  delete jwk.key_ops
  delete jwk.ext
  const metadata = {
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token', 'implicit'],
    response_types: ['code', 'code id_token'],
    scope: 'openid offline_access profile email',
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    jwks: { keys: [jwk] },
    id_token_signed_response_alg: 'ES256',
    request_object_signing_alg: 'ES256',
    subject_type: 'pairwise',
    ...(sectorUri ? { sector_identifier_uri: sectorUri } : {}),
  }
  const signer = { key: privateKey, kid: 'rp-key-1' }
  const config = await client.dynamicClientRegistration(issuer, metadata, client.PrivateKeyJwt(signer), {
    execute: [client.allowInsecureRequests],
  })
  const registered = config.clientMetadata()
  out.registered = { client_id: registered.client_id, subject_type: registered.subject_type,
                     id_token_signed_response_alg: registered.id_token_signed_response_alg,
                     token_endpoint_auth_method: registered.token_endpoint_auth_method,
                     has_registration_access_token: Boolean(registered.registration_access_token) }

  // 1. The code flow: a signed request object carrying the claims parameter, PKCE, private_key_jwt.
  const codeVerifier = client.randomPKCECodeVerifier()
  const nonce = client.randomNonce()
  const state = client.randomState()
  const codeUrl = await client.buildAuthorizationUrlWithJAR(config, {
    redirect_uri: redirectUri,
    scope: 'openid offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    nonce,
    state,
    claims: JSON.stringify({ id_token: { email: { essential: true } }, userinfo: { name: null } }),
  }, signer)
  out.jar_only = [...codeUrl.searchParams.keys()].sort()
  const code = await signIn(codeUrl, 'rp-user', ['openid', 'offline_access'],
                            { email: 'rp-user@example.com', name: 'R. P. User', phone_number: '+1 555' })
  out.requested_claims = code.request.requestedClaims ?? null
  const tokens = await client.authorizationCodeGrant(config, code.back, {
    pkceCodeVerifier: codeVerifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true,
  })
  const claims = tokens.claims()
  const header = JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url').toString())
  out.code = { alg: header.alg, sub: claims.sub, email: claims.email ?? null, phone: claims.phone_number ?? null,
               has_refresh: Boolean(tokens.refresh_token) }
  out.userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)

  // 2. The hybrid flow (code id_token, fragment): openid-client checks the front-channel ID token too.
  const hybrid = new client.Configuration(config.serverMetadata(), registered.client_id, registered,
                                          client.PrivateKeyJwt(signer))
  client.allowInsecureRequests(hybrid)
  client.useCodeIdTokenResponseType(hybrid)
  const hybridNonce = client.randomNonce()
  const hybridState = client.randomState()
  const hybridVerifier = client.randomPKCECodeVerifier()
  const hybridUrl = await client.buildAuthorizationUrlWithJAR(hybrid, {
    redirect_uri: redirectUri, scope: 'openid', nonce: hybridNonce, state: hybridState,
    code_challenge: await client.calculatePKCECodeChallenge(hybridVerifier), code_challenge_method: 'S256',
  }, signer)
  const second = await signIn(hybridUrl, 'rp-user', ['openid'], {})
  const hybridTokens = await client.authorizationCodeGrant(hybrid, second.back, {
    pkceCodeVerifier: hybridVerifier, expectedNonce: hybridNonce, expectedState: hybridState,
  })
  out.hybrid = { sub: hybridTokens.claims().sub, fragment: second.back.hash.includes('id_token=') }
  console.log(JSON.stringify(out))
} catch (error) {
  console.log(JSON.stringify({ ...out, error: `${error.name}: ${error.message}`, code: error.code,
                               cause: error.cause ? String(JSON.stringify(error.cause)) : undefined }))
  process.exit(1)
}
