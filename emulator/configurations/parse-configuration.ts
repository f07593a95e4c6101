/**
 * Validation of a configuration PUT body with the hub's rules: id (1–128 lowercase letters, digits and the union of
 * the special characters the docs list, `- + % _ * ! '` for configurations, "az iot hub configuration create
 * --config-id", learn.microsoft.com/azure/iot-hub/iot-hub-automatic-device-management-cli, and `# ? ( ) , = @ ;` for
 * Edge deployments, learn.microsoft.com/azure/iot-edge/how-to-deploy-at-scale), labels (keys and values up to 128 ASCII characters, `$` reserved,
 * azure-iothub dist/configuration.d.ts), exactly one of `deviceContent` / `moduleContent` / `modulesContent` with
 * paths under `properties.desired` (Edge: one entry per module), a target condition the query language runs (module
 * configurations `FROM devices.modules WHERE …`), a non-negative integer priority, at most five custom metric queries
 * ("Each configuration can have up to five custom metrics", same page).
 */
import { desiredPatchOf, ContentPathError } from '../../shared/domain/configurations/configuration-content';
import { parseConfigurationTarget, TargetConditionError } from '../../shared/domain/configurations/configuration-target';
import { parseQuery, QuerySyntaxError } from '../../shared/domain/iothub-query/parse-query';
import { isJsonObject } from '../../shared/domain/twin-patch';
import type { JsonObject } from '../../shared/domain/types';
import { HubError } from '../registry/hub-error';
import type { ConfigurationKind, ConfigurationRecord } from './configuration-record';

export const MAX_CUSTOM_METRICS = 5;
const ID_PATTERN = /^[a-z0-9\-+%_*!'#?(),=@;]{1,128}$/;
const LABEL_PATTERN = /^[A-Za-z0-9\-:.+%_#*?!(),=@;']{1,128}$/;

/** The caller-settable fields of a configuration. */
export type ConfigurationInput = Pick<
  ConfigurationRecord,
  'id' | 'schemaVersion' | 'labels' | 'content' | 'kind' | 'targetCondition' | 'collection' | 'priority' | 'metricQueries'
>;

function invalid(message: string): HubError {
  return new HubError(400, 'ArgumentInvalid', message.replace(/;/g, ','));
}

export function assertConfigurationId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !ID_PATTERN.test(id))
    throw invalid(
      `configuration id is invalid: it must be 1-128 lowercase letters, digits or - + % _ * ! ' # ? ( ) , = @ and the semicolon`,
    );
}

/** @throws HubError 400 ArgumentInvalid naming the first problem. */
export function parseConfiguration(pathId: string, body: unknown): ConfigurationInput {
  assertConfigurationId(pathId);
  if (!isJsonObject(body)) throw invalid('The configuration must be a JSON object');
  if (body['id'] !== undefined && body['id'] !== pathId)
    throw invalid(`The body's id ${JSON.stringify(body['id'])} differs from the path's '${pathId}'`);
  const schemaVersion = body['schemaVersion'] ?? '1.0';
  if (typeof schemaVersion !== 'string') throw invalid('schemaVersion must be a string');
  const priority = body['priority'] ?? 0;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0) throw invalid('priority must be a non-negative integer');
  const targetCondition = body['targetCondition'] ?? '';
  if (typeof targetCondition !== 'string') throw invalid('targetCondition must be a string');
  const { content, kind } = readContent(body['content']);
  let collection: ConfigurationInput['collection'];
  try {
    collection = parseConfigurationTarget(targetCondition).collection;
  } catch (error) {
    if (error instanceof TargetConditionError) throw invalid(error.message);
    throw error;
  }
  if (kind === 'module' && targetCondition.trim() !== '' && collection !== 'devices.modules')
    throw invalid("A module configuration's targetCondition must start with 'FROM devices.modules WHERE'");
  if (kind !== 'module' && collection === 'devices.modules')
    throw invalid('targetCondition reads devices.modules, but the content is not moduleContent');
  if (kind === 'module') collection = 'devices.modules';
  return {
    id: pathId,
    schemaVersion,
    labels: readLabels(body['labels']),
    content,
    kind,
    targetCondition,
    collection,
    priority,
    metricQueries: readMetricQueries(body['metrics']),
  };
}

function readContent(value: unknown): { content: ConfigurationInput['content']; kind: ConfigurationKind } {
  if (!isJsonObject(value)) throw invalid('content must be a JSON object with deviceContent, moduleContent or modulesContent');
  const present = (['deviceContent', 'moduleContent', 'modulesContent'] as const).filter(
    (key) => isJsonObject(value[key]) && Object.keys(value[key]).length > 0,
  );
  if (present.length !== 1) throw invalid('content must hold exactly one non-empty deviceContent, moduleContent or modulesContent');
  const key = present[0] as 'deviceContent' | 'moduleContent' | 'modulesContent';
  const section = structuredClone(value[key]) as JsonObject;
  try {
    if (key === 'modulesContent') {
      for (const [moduleId, moduleContent] of Object.entries(section)) {
        if (!isJsonObject(moduleContent)) throw invalid(`modulesContent.${moduleId} must be a JSON object`);
        desiredPatchOf(moduleContent);
      }
    } else {
      desiredPatchOf(section);
    }
  } catch (error) {
    if (error instanceof ContentPathError) throw invalid(error.message);
    throw error;
  }
  const kind: ConfigurationKind = key === 'deviceContent' ? 'device' : key === 'moduleContent' ? 'module' : 'edge';
  return { content: { [key]: section }, kind };
}

function readLabels(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isJsonObject(value)) throw invalid('labels must be a JSON object of strings');
  const labels: Record<string, string> = {};
  for (const [key, label] of Object.entries(value)) {
    if (typeof label !== 'string') throw invalid(`label '${key}' must be a string`);
    if (!LABEL_PATTERN.test(key) || !LABEL_PATTERN.test(label))
      throw invalid(`label '${key}' is invalid: keys and values are 1-128 ASCII alphanumerics or - : . + % _ # * ? ! ( ) , = @ '`);
    labels[key] = label;
  }
  return labels;
}

function readMetricQueries(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isJsonObject(value)) throw invalid('metrics must be a JSON object');
  const queries = value['queries'] ?? {};
  if (!isJsonObject(queries)) throw invalid('metrics.queries must be a JSON object of query strings');
  const entries = Object.entries(queries);
  if (entries.length > MAX_CUSTOM_METRICS) throw invalid(`A configuration has at most ${MAX_CUSTOM_METRICS} custom metrics`);
  const out: Record<string, string> = {};
  for (const [name, query] of entries) {
    if (typeof query !== 'string') throw invalid(`metrics.queries.${name} must be a query string`);
    try {
      parseQuery(query);
    } catch (error) {
      if (error instanceof QuerySyntaxError) throw invalid(`metrics.queries.${name} is not a query the emulator runs: ${error.message}`);
      throw error;
    }
    out[name] = query;
  }
  return out;
}
