// Relying-party check of the discovery documents and the JWKS with panva's libraries:
//   node discovery.mjs <issuer-url> [<id-token>]
// Prints one JSON line with what each library accepted; exits 1 on the first rejection.
import * as client from 'openid-client'
import * as oauth from 'oauth4webapi'
import * as jose from 'jose'

const [issuerArg, idToken] = process.argv.slice(2)
if (!issuerArg) {
  console.error('usage: node discovery.mjs <issuer-url> [<id-token>]')
  process.exit(2)
}
const issuer = new URL(issuerArg)
const out = {}

try {
  // openid-client v6: OpenID Connect Discovery (/.well-known/openid-configuration), issuer checked.
  const config = await client.discovery(issuer, 'rp-under-test', 'rp-secret', undefined, {
    execute: [client.allowInsecureRequests],
  })
  const metadata = config.serverMetadata()
  out.openid_client = {
    issuer: metadata.issuer,
    supportsPKCE: metadata.supportsPKCE(),
    token_endpoint: metadata.token_endpoint,
    jwks_uri: metadata.jwks_uri,
  }

  // oauth4webapi: processDiscoveryResponse validates both well-known documents.
  for (const algorithm of ['oidc', 'oauth2']) {
    const response = await oauth.discoveryRequest(issuer, { algorithm, [oauth.allowInsecureRequests]: true })
    const as = await oauth.processDiscoveryResponse(issuer, response)
    out[`oauth4webapi_${algorithm}`] = {
      issuer: as.issuer,
      algs: as.id_token_signing_alg_values_supported,
      iss_parameter: as.authorization_response_iss_parameter_supported,
    }
  }

  // jose: the ID token verifies against the JWKS found through the metadata.
  if (idToken) {
    const jwks = jose.createRemoteJWKSet(new URL(out.openid_client.jwks_uri))
    const { payload, protectedHeader } = await jose.jwtVerify(idToken, jwks, {
      issuer: out.openid_client.issuer,
      audience: 'rp-under-test',
      algorithms: out.oauth4webapi_oidc.algs,
    })
    out.jose = { sub: payload.sub, alg: protectedHeader.alg, kid: protectedHeader.kid }
  }
  console.log(JSON.stringify(out))
} catch (error) {
  console.log(JSON.stringify({ ...out, error: `${error.name}: ${error.message}`, code: error.code }))
  process.exit(1)
}
