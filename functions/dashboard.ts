import type { HttpFunctionOptions } from '@azure/functions';
import { dashboardHandler } from '../shared/triggers/dashboard-assets';
import { registerFunctions, type FunctionRegistration } from '../shared/triggers/register-functions';

/** GET /api/dashboard/: the dashboard's page shell (anonymous: it holds no data; see shared/triggers/dashboard-assets.ts). */
export const dashboardOptions: HttpFunctionOptions = {
  methods: ['GET', 'HEAD'],
  authLevel: 'anonymous',
  route: 'dashboard',
  handler: dashboardHandler,
};

export const registrations: FunctionRegistration[] = [{ kind: 'http', name: 'dashboard', options: dashboardOptions }];

registerFunctions(registrations);
