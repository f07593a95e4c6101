import type { HttpFunctionOptions } from '@azure/functions';
import { dashboardHandler } from '../shared/triggers/dashboard-assets';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

/** GET /api/dashboard/{file}: the dashboard's scripts, styles and chart library, by exact name (anonymous; no data). */
export const dashboardAssetOptions: HttpFunctionOptions = {
  methods: ['GET', 'HEAD'],
  authLevel: 'anonymous',
  route: 'dashboard/{file}',
  handler: dashboardHandler,
};

export const registrations: FunctionRegistration[] = [{ kind: 'http', name: 'dashboard-asset', options: dashboardAssetOptions }];

registerFunctions(registrations);
