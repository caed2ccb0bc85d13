// What the node relying-party scripts share: the browser's redirect hop and the consent app's admin
// calls (a Bearer token with hydra.consent), against the local server.

// One redirect, not followed: its Location and the cookies it set.
export async function follow(url, cookie) {
  const response = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} })
  if (response.status !== 302 && response.status !== 303) {
    throw new Error(`expected a redirect from ${url}, got ${response.status}: ${await response.text()}`)
  }
  return { location: response.headers.get('location'), cookies: response.headers.getSetCookie() }
}

// admin(method, path, body) on the issuer with the token; the JSON answer, or null for 204.
export function adminCaller(issuer, adminToken) {
  return async function admin(method, path, body) {
    const response = await fetch(new URL(path, issuer), {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    })
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
    return response.status === 204 ? null : response.json()
  }
}
