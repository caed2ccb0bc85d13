// Two relying parties on one small web server, each driven by panva's openid-client v6, for the
// browser test of single sign-on, silent renew and logout (tests/integration/test_sso_e2e.py):
//   node sso_rp.mjs <issuer> <port> <clients JSON: [{"name","id","secret"}]>
// Per relying party <name>:
//   GET  /<name>/login[?prompt=none]  -> the authorization URL (PKCE, state, nonce)
//   GET  /<name>/callback             -> openid-client checks and redeems the response; the page shows
//                                        the ID token's claims (or the error) as JSON in <pre id=result>
//   GET  /<name>/logout               -> the end_session_endpoint (id_token_hint, post_logout_redirect_uri, state)
//   GET  /<name>/logged-out           -> shows whether state came back
//   GET  /<name>/frontchannel         -> records iss and sid (Front-Channel Logout 1.0)
//   POST /<name>/backchannel          -> verifies the logout token against the JWKS and records its claims
//   GET  /events                      -> what the logout receivers recorded
// Prints "ready" once listening.
import http from 'node:http'
import * as client from 'openid-client'
import * as jose from 'jose'

const [issuerArg, portArg, clientsArg] = process.argv.slice(2)
const issuer = new URL(issuerArg)
const base = `http://127.0.0.1:${portArg}`
const parties = {}
const events = { frontchannel: [], backchannel: [] }
const jwks = jose.createRemoteJWKSet(new URL('/.well-known/jwks.json', issuer))

for (const { name, id, secret } of JSON.parse(clientsArg)) {
  const config = await client.discovery(issuer, id, secret, undefined, { execute: [client.allowInsecureRequests] })
  parties[name] = { config, id, pending: null, idToken: null }
}

function page (res, status, result) {
  const body = `<!doctype html><title>rp</title><pre id=result>${JSON.stringify(result)
    .replace(/&/g, '&amp;').replace(/</g, '&lt;')}</pre>`
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' })
  res.end(body)
}

function redirect (res, location) {
  res.writeHead(302, { location: String(location) })
  res.end()
}

async function login (party, name, url, res) {
  const verifier = client.randomPKCECodeVerifier()
  party.pending = { verifier, state: client.randomState(), nonce: client.randomNonce() }
  const parameters = {
    redirect_uri: `${base}/${name}/callback`,
    scope: 'openid offline email',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: party.pending.state,
    nonce: party.pending.nonce,
  }
  for (const key of ['prompt', 'max_age']) {
    if (url.searchParams.get(key)) parameters[key] = url.searchParams.get(key)
  }
  if (url.searchParams.get('hint') === 'yes' && party.idToken) parameters.id_token_hint = party.idToken
  redirect(res, client.buildAuthorizationUrl(party.config, parameters))
}

async function callback (party, url, res) {
  const { verifier, state, nonce } = party.pending
  try {
    const tokens = await client.authorizationCodeGrant(party.config, url, {
      pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
    })
    party.idToken = tokens.id_token
    party.accessToken = tokens.access_token
    const claims = tokens.claims()
    page(res, 200, { sub: claims.sub, sid: claims.sid, auth_time: claims.auth_time, email: claims.email,
                     access_token: tokens.access_token })
  } catch (error) {
    page(res, 200, { error: error.error ?? error.code ?? error.name, state_ok: url.searchParams.get('state') === state })
  }
}

async function backchannel (name, req, res) {
  let body = ''
  for await (const chunk of req) body += chunk
  try {
    const token = new URLSearchParams(body).get('logout_token')
    const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
      issuer: issuer.href.replace(/\/$/, ''), audience: parties[name].id, typ: 'logout+jwt',
    })
    events.backchannel.push({ name, typ: protectedHeader.typ, ...payload })
    res.writeHead(200)
  } catch (error) {
    events.backchannel.push({ name, error: String(error) })
    res.writeHead(400)
  }
  res.end()
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, base)
  const [, name, action] = url.pathname.split('/')
  if (name === 'events') return page(res, 200, events)
  const party = parties[name]
  if (!party) return page(res, 404, { error: 'unknown relying party' })
  try {
    if (action === 'login') return await login(party, name, url, res)
    if (action === 'callback') return await callback(party, url, res)
    if (action === 'logout') {
      party.logoutState = client.randomState()
      return redirect(res, client.buildEndSessionUrl(party.config, {
        id_token_hint: party.idToken, post_logout_redirect_uri: `${base}/${name}/logged-out`, state: party.logoutState,
      }))
    }
    if (action === 'logged-out') return page(res, 200, { logged_out: true, state_ok: url.searchParams.get('state') === party.logoutState })
    if (action === 'frontchannel') {
      events.frontchannel.push({ name, iss: url.searchParams.get('iss'), sid: url.searchParams.get('sid') })
      return page(res, 200, { ok: true })
    }
    if (action === 'backchannel' && req.method === 'POST') return await backchannel(name, req, res)
    return page(res, 404, { error: 'unknown action' })
  } catch (error) {
    return page(res, 500, { error: String(error) })
  }
})
server.listen(Number(portArg), '127.0.0.1', () => console.log('ready'))
