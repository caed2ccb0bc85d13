// The benchmark's peer: node-oidc-provider with client_credentials and introspection enabled, opaque
// access tokens. Usage: node server.mjs <port> <client_id> <secret>
// With OIDC_TABLE set, its storage is DynamoDB through the AWS SDK for JavaScript v3
// (dynamodb-adapter.mjs; endpoint, region and credentials from the environment); without, the
// in-memory adapter. Prints "ready <port>" once it listens.
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const adapter = process.env.OIDC_TABLE ? (await import('./dynamodb-adapter.mjs')).default : undefined;

const [port, clientId, clientSecret] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'read write',
  }],
  scopes: ['read', 'write'],
  ttl: { ClientCredentials: 3600, AccessToken: 3600 },
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true, allowedPolicy: async () => true },
    devInteractions: { enabled: false },
  },
  // Without an adapter, the in-memory one; its production warning goes to stderr.
  ...(adapter ? { adapter } : {}),
});
provider.on('server_error', (ctx, err) => { console.error('server_error', err); });

const server = createServer(provider.callback());
server.keepAliveTimeout = 60_000;
server.listen(Number(port), '127.0.0.1', () => { console.log(`ready ${port}`); });
process.on('SIGTERM', () => { server.close(); process.exit(0); });
