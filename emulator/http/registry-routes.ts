/** Device and module identities: `/devices/{id}` and `/devices/{id}/modules/{moduleId}` (GET, PUT, DELETE). */
import { HubError } from '../registry/hub-error';
import type { DeviceInput, ModuleInput } from '../registry/identity-input';
import type { HubRegistry } from '../registry/hub-registry';
import { asRecord, header, READ, WRITE, type ParsedRequest, type Route, type RouteResolver } from './route';

export function registryRoutes(registry: HubRegistry): RouteResolver {
  const putDevice = (deviceId: string, request: ParsedRequest) => {
    const body = asRecord(request.body, 'The device');
    if (body.deviceId !== undefined && body.deviceId !== deviceId)
      throw new HubError(400, 'ArgumentInvalid', 'deviceId in the body does not match the path');
    const input = { ...body, deviceId, tags: undefined } as DeviceInput;
    const ifMatch = header(request, 'if-match');
    return { status: 200, body: ifMatch === undefined ? registry.createDevice(input) : registry.updateDevice(input, ifMatch) };
  };
  const putModule = (deviceId: string, moduleId: string, request: ParsedRequest) => {
    const body = asRecord(request.body, 'The module');
    if ((body.deviceId !== undefined && body.deviceId !== deviceId) || (body.moduleId !== undefined && body.moduleId !== moduleId)) {
      throw new HubError(400, 'ArgumentInvalid', 'deviceId/moduleId in the body do not match the path');
    }
    const input = { ...body, deviceId, moduleId } as ModuleInput;
    const ifMatch = header(request, 'if-match');
    return { status: 200, body: ifMatch === undefined ? registry.createModule(input) : registry.updateModule(input, ifMatch) };
  };

  return (method, segments): Route | undefined => {
    const [root, id, sub, subId, extra] = segments;
    if (root !== 'devices' || extra !== undefined) return undefined;
    if (id === undefined) {
      return method === 'GET'
        ? { opClass: 'registry', permissions: READ, handle: () => ({ status: 200, body: registry.listDevices(1000) }) }
        : undefined;
    }
    if (id === 'query') return undefined;
    if (sub === undefined) {
      switch (method) {
        case 'GET':
          return { opClass: 'registry', permissions: READ, handle: () => ({ status: 200, body: registry.getDevice(id) }) };
        case 'PUT':
          return { opClass: 'registry', permissions: WRITE, handle: (r) => putDevice(id, r) };
        case 'DELETE':
          return {
            opClass: 'registry',
            permissions: WRITE,
            handle: (r) => (registry.deleteDevice(id, header(r, 'if-match')), { status: 204 }),
          };
        default:
          return undefined;
      }
    }
    if (sub !== 'modules') return undefined;
    if (subId === undefined) {
      return method === 'GET'
        ? { opClass: 'registry', permissions: READ, handle: () => ({ status: 200, body: registry.listModules(id) }) }
        : undefined;
    }
    switch (method) {
      case 'GET':
        return { opClass: 'registry', permissions: READ, handle: () => ({ status: 200, body: registry.getModule(id, subId) }) };
      case 'PUT':
        return { opClass: 'registry', permissions: WRITE, handle: (r) => putModule(id, subId, r) };
      case 'DELETE':
        return {
          opClass: 'registry',
          permissions: WRITE,
          handle: (r) => (registry.deleteModule(id, subId, header(r, 'if-match')), { status: 204 }),
        };
      default:
        return undefined;
    }
  };
}
