/**
 * Automatic device management over `/configurations`, as azure-iothub 1.16 Registry calls it (dist/registry.js):
 * `PUT /configurations/{id}` (addConfiguration without If-Match; updateConfiguration with If-Match, `*` when forced),
 * `GET /configurations/{id}` (getConfiguration), `GET /configurations[?top=n]` (getConfigurations), `DELETE
 * /configurations/{id}` (removeConfiguration, optional If-Match), and `POST /devices/{id}/applyConfigurationContent`
 * (applyConfigurationContentOnDevice). REST reference: https://learn.microsoft.com/rest/api/iothub/service/configuration.
 * Every change is evaluated at once, so the answer's system metrics already count the twins it targets.
 */
import { applyConfigurationContent } from '../configurations/apply-configuration-content';
import { configurationJson } from '../configurations/configuration-record';
import type { ConfigurationEngine } from '../configurations/configuration-engine';
import type { HubRegistry } from '../registry/hub-registry';
import { HubError } from '../registry/hub-error';
import { header, READ, WRITE, type Route, type RouteResolver } from './route';

const MAX_TOP = 100;

export function configurationRoutes(registry: HubRegistry, engine: ConfigurationEngine): RouteResolver {
  const store = engine.store;
  return (method, segments): Route | undefined => {
    const [root, id, extra] = segments;
    if (root === 'devices' && id !== undefined && extra === 'applyConfigurationContent' && segments.length === 3) {
      if (method !== 'POST') return undefined;
      return {
        opClass: 'twinUpdate',
        permissions: WRITE,
        handle: (request) => {
          applyConfigurationContent(registry, id, request.body);
          return { status: 200 };
        },
      };
    }
    if (root !== 'configurations' || segments.length > 2) return undefined;
    if (id === undefined) {
      if (method !== 'GET') return undefined;
      return {
        opClass: 'configurations',
        permissions: READ,
        handle: (request) => {
          const raw = request.searchParams.get('top');
          const top = raw === null ? MAX_TOP : Number(raw);
          if (!Number.isInteger(top) || top < 1 || top > MAX_TOP)
            throw new HubError(400, 'ArgumentInvalid', `top must be an integer from 1 to ${MAX_TOP}`);
          return { status: 200, body: store.list().slice(0, top).map(configurationJson) };
        },
      };
    }
    if (method === 'GET')
      return { opClass: 'configurations', permissions: READ, handle: () => ({ status: 200, body: configurationJson(store.get(id)) }) };
    if (method === 'PUT') {
      return {
        opClass: 'configurations',
        permissions: WRITE,
        handle: (request) => {
          const record = store.put(id, request.body, header(request, 'if-match'));
          engine.evaluate();
          return { status: 200, body: configurationJson(record) };
        },
      };
    }
    if (method === 'DELETE') {
      return {
        opClass: 'configurations',
        permissions: WRITE,
        handle: (request) => {
          store.delete(id, header(request, 'if-match'));
          engine.evaluate();
          return { status: 204 };
        },
      };
    }
    return undefined;
  };
}
