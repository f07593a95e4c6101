/**
 * Composition root: reads the configuration once per worker, builds each client once (shared/wiring.ts,
 * loaded on first use so a cold start does not load every Azure SDK), and hands the handlers their
 * services. Handlers never construct SDK clients themselves.
 */
import { loadConfig, type Config } from './config';
import type { ComplianceServices, EventServices } from './wiring';

export type { ComplianceServices, EventServices } from './wiring';

let configuration: Config | undefined;
let services: Promise<EventServices> | undefined;
let complianceServices: Promise<ComplianceServices> | undefined;

/** The worker's configuration, read and validated on first use (ConfigError lists every problem). */
export function getConfig(): Config {
  return (configuration ??= loadConfig(process.env));
}

/** The worker's event services, built once; a failed build is retried on the next invocation. */
export function getServices(): Promise<EventServices> {
  services ??= import('./wiring')
    .then((wiring) => wiring.createEventServices(getConfig()))
    .catch((err: unknown) => {
      services = undefined;
      throw err;
    });
  return services;
}

/** The worker's sweep services, built once; a failed build is retried on the next invocation. */
export function getComplianceServices(): Promise<ComplianceServices> {
  complianceServices ??= import('./wiring')
    .then((wiring) => wiring.createComplianceServices(getConfig()))
    .catch((err: unknown) => {
      complianceServices = undefined;
      throw err;
    });
  return complianceServices;
}
