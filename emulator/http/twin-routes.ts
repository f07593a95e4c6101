/** Device and module twins: `/twins/{id}` and `/twins/{id}/modules/{moduleId}` (GET, PATCH, PUT). */
import type { HubRegistry } from '../registry/hub-registry';
import { header, type Route, type RouteResolver } from './route';

export function twinRoutes(registry: HubRegistry): RouteResolver {
  return (method, segments): Route | undefined => {
    const [root, id, sub, moduleId, extra] = segments;
    if (root !== 'twins' || id === undefined || extra !== undefined) return undefined;
    if (sub !== undefined && (sub !== 'modules' || moduleId === undefined)) return undefined;
    switch (method) {
      case 'GET':
        return {
          opClass: 'twinRead',
          permissions: ['ServiceConnect', 'RegistryRead'],
          handle: () => ({ status: 200, body: registry.getTwin(id, moduleId) }),
        };
      case 'PATCH':
        return {
          opClass: 'twinUpdate',
          permissions: ['ServiceConnect', 'RegistryWrite'],
          handle: (r) => ({ status: 200, body: registry.updateTwin(id, moduleId, r.body, header(r, 'if-match')) }),
        };
      case 'PUT':
        return {
          opClass: 'twinUpdate',
          permissions: ['ServiceConnect', 'RegistryWrite'],
          handle: (r) => ({ status: 200, body: registry.replaceTwin(id, moduleId, r.body, header(r, 'if-match')) }),
        };
      default:
        return undefined;
    }
  };
}
