/**
 * Who called, as the mitigation audit records it: through the standalone host's HTTP server (which checks the key and
 * sets the key's name itself, dropping a client's copy of the header) and as Azure Functions hands a request to the
 * worker (no key name: a fingerprint of the key; App Service authentication's user when present).
 */
import { HttpRequest } from '@azure/functions';
import { HttpHost } from '../../host/http-host';
import { silentLogger } from '../../shared/logger';
import { callerOf, KEY_NAME_HEADER } from '../../shared/triggers/caller-identity';

describe('caller identity', () => {
  const host = new HttpHost({
    routes: [
      {
        functionName: 'who',
        methods: ['GET'],
        route: 'who',
        authLevel: 'function',
        handler: (request: HttpRequest) => ({ status: 200, jsonBody: { who: callerOf(request, true) } }),
      },
    ],
    functionKey: 'the-standalone-key',
    logger: silentLogger,
  });
  beforeAll(() => host.start());
  afterAll(() => host.stop());

  it('is the key name the standalone host sets, whatever the client claims', async () => {
    for (const headers of <Record<string, string>[]>[
      { 'x-functions-key': 'the-standalone-key' },
      { 'x-functions-key': 'the-standalone-key', [KEY_NAME_HEADER]: 'admin' },
    ]) {
      const response = await fetch(`${host.url}/api/who`, { headers });
      expect(await response.json()).toEqual({ who: 'key:default' });
    }
    const byQuery = await fetch(`${host.url}/api/who?code=the-standalone-key`);
    expect(await byQuery.json()).toEqual({ who: 'key:default' });
  });

  it('under Azure Functions: a key fingerprint (never the key), or the signed-in user', () => {
    const keyed = new HttpRequest({
      method: 'POST',
      url: 'https://app.azurewebsites.net/api/mitigations',
      headers: { 'x-functions-key': 'an-azure-function-key', [KEY_NAME_HEADER]: 'spoofed' },
    });
    const who = callerOf(keyed, false);
    expect(who).toMatch(/^key-sha256:[0-9a-f]{12}$/);
    expect(who).not.toContain('an-azure-function-key');
    expect(
      callerOf(new HttpRequest({ method: 'POST', url: 'https://app.azurewebsites.net/api/mitigations?code=an-azure-function-key' }), false),
    ).toBe(who);
    const principal = Buffer.from(JSON.stringify({ auth_typ: 'aad', claims: [], name_typ: 'name', role_typ: 'role' })).toString('base64');
    const signedIn = new HttpRequest({
      method: 'POST',
      url: 'https://app.azurewebsites.net/api/mitigations',
      headers: {
        'x-ms-client-principal': principal,
        'x-ms-client-principal-id': 'id-1',
        'x-ms-client-principal-name': 'ops@contoso.com',
        'x-ms-client-principal-idp': 'aad',
      },
    });
    expect(callerOf(signedIn, false)).toBe('user:aad:ops@contoso.com');
  });
});
