/**
 * Offline checks of infra/azuredeploy.json, the ARM template `az deployment group create` takes as is.
 * Nothing here talks to Azure: the template is parsed, its expressions are parsed with a small ARM expression
 * parser, and the parts that matter to TwinGuard (app settings, consumer group, routes, role assignments, secrets)
 * are evaluated symbolically. What only Azure can check (API versions accepted, Flex Consumption region support,
 * RBAC propagation, the deployment script's CLI) is listed in infra/README.md.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../../shared/config/load-config';
import { SETTINGS } from '../../shared/config/settings-catalogue';
import { METRICS } from '../../shared/telemetry/metric-catalogue';
import type { FunctionRegistration } from '../../shared/triggers/register-functions';

const root = path.join(__dirname, '..', '..');
const templateText = readFileSync(path.join(root, 'infra', 'azuredeploy.json'), 'utf8');

// ---------------------------------------------------------------------------------------------------------------
// Template shape

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Parameter {
  type: string;
  defaultValue?: Json;
  allowedValues?: Json[];
}

interface Resource extends JsonObject {
  type: string;
  apiVersion: string;
  name: string;
}

interface AppSetting {
  name: string;
  value: string;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asObject(value: Json | undefined, what: string): JsonObject {
  if (!isObject(value)) throw new Error(`${what} is not an object`);
  return value;
}

function asArray(value: Json | undefined, what: string): Json[] {
  if (!Array.isArray(value)) throw new Error(`${what} is not an array`);
  return value;
}

function asString(value: Json | undefined, what: string): string {
  if (typeof value !== 'string') throw new Error(`${what} is not a string`);
  return value;
}

const template = asObject(JSON.parse(templateText) as Json, 'template');
const parameters = asObject(template['parameters'], 'parameters') as Record<string, Parameter & JsonObject>;
const variables = asObject(template['variables'], 'variables');
const resources = asArray(template['resources'], 'resources') as Resource[];
const outputs = asObject(template['outputs'], 'outputs');

function resourcesOfType(type: string): Resource[] {
  return resources.filter((resource) => resource.type.toLowerCase() === type.toLowerCase());
}

function onlyResource(type: string): Resource {
  const found = resourcesOfType(type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0] as Resource;
}

const site = onlyResource('Microsoft.Web/sites');
const siteProperties = asObject(site['properties'], 'site.properties');
const appSettings = asArray(asObject(siteProperties['siteConfig'], 'siteConfig')['appSettings'], 'appSettings').map((entry, index) => {
  const setting = asObject(entry, `appSettings[${index}]`);
  return {
    name: asString(setting['name'], `appSettings[${index}].name`),
    value: asString(setting['value'], `appSettings[${index}].value`),
  } satisfies AppSetting;
});
const appSettingByName = new Map(appSettings.map((setting) => [setting.name, setting.value]));

// ---------------------------------------------------------------------------------------------------------------
// ARM template expressions: a parser for the language (strings, numbers, calls, .member, [index]) and a symbolic
// evaluator for the functions this template uses. Values that only Azure knows (reference(), listKeys(), unique
// names) evaluate to Symbolic placeholders, so names and settings can be compared without a deployment.

type Expr =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'call'; name: string; args: Expr[] }
  | { kind: 'member'; target: Expr; property: string }
  | { kind: 'index'; target: Expr; index: Expr };

function isExpression(text: string): boolean {
  return text.startsWith('[') && !text.startsWith('[[') && text.endsWith(']');
}

function parseExpression(text: string): Expr {
  const source = text.slice(1, -1);
  let at = 0;
  const skipSpace = (): void => {
    while (at < source.length && /\s/.test(source[at] as string)) at += 1;
  };
  const fail = (message: string): never => {
    throw new Error(`${message} at ${at} in ${text}`);
  };
  const expect = (char: string): void => {
    skipSpace();
    if (source[at] !== char) fail(`expected "${char}"`);
    at += 1;
  };
  const parsePrimary = (): Expr => {
    skipSpace();
    const char = source[at];
    if (char === "'") {
      let value = '';
      at += 1;
      for (;;) {
        if (at >= source.length) fail('unterminated string');
        if (source[at] === "'") {
          if (source[at + 1] === "'") {
            value += "'";
            at += 2;
            continue;
          }
          at += 1;
          return { kind: 'string', value };
        }
        value += source[at];
        at += 1;
      }
    }
    const number = /^-?\d+/.exec(source.slice(at));
    if (number) {
      at += number[0].length;
      return { kind: 'number', value: Number(number[0]) };
    }
    const identifier = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(at));
    if (!identifier) return fail('expected a string, number or function call');
    at += identifier[0].length;
    expect('(');
    const args: Expr[] = [];
    skipSpace();
    if (source[at] === ')') {
      at += 1;
    } else {
      for (;;) {
        args.push(parseChain());
        skipSpace();
        if (source[at] === ',') {
          at += 1;
          continue;
        }
        expect(')');
        break;
      }
    }
    return { kind: 'call', name: identifier[0], args };
  };
  const parseChain = (): Expr => {
    let expr = parsePrimary();
    for (;;) {
      skipSpace();
      if (source[at] === '.') {
        at += 1;
        const property = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(source.slice(at));
        if (!property) return fail('expected a property name');
        at += property[0].length;
        expr = { kind: 'member', target: expr, property: property[0] };
      } else if (source[at] === '[') {
        at += 1;
        const index = parseChain();
        expect(']');
        expr = { kind: 'index', target: expr, index };
      } else {
        return expr;
      }
    }
  };
  const expr = parseChain();
  skipSpace();
  if (at !== source.length) fail('unexpected trailing text');
  return expr;
}

/** A value only Azure knows at deployment time; `text` names where it comes from. */
class Symbolic {
  constructor(readonly text: string) {}
  toString(): string {
    return `«${this.text}»`;
  }
}

type Value = string | number | boolean | null | Symbolic | Value[] | { [key: string]: Value };

/** symbolic: parameters are placeholders (for comparing names); defaults: parameters take their default values. */
type ParameterMode = 'symbolic' | 'defaults';

function text(value: Value): string {
  if (value instanceof Symbolic) return value.toString();
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

function calls(expr: Expr, visit: (call: Extract<Expr, { kind: 'call' }>) => void): void {
  if (expr.kind === 'call') {
    visit(expr);
    expr.args.forEach((arg) => calls(arg, visit));
  } else if (expr.kind === 'member') {
    calls(expr.target, visit);
  } else if (expr.kind === 'index') {
    calls(expr.target, visit);
    calls(expr.index, visit);
  }
}

function evaluateJson(value: Json, mode: ParameterMode): Value {
  if (typeof value === 'string') return isExpression(value) ? evaluate(parseExpression(value), mode) : value;
  if (Array.isArray(value)) return value.map((item) => evaluateJson(item, mode));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, evaluateJson(item, mode)]));
  return value;
}

function resourceKey(type: string, segments: Value[]): string {
  return `${type.toLowerCase()}|${segments.map(text).join('/')}`;
}

function evaluate(expr: Expr, mode: ParameterMode): Value {
  switch (expr.kind) {
    case 'string':
    case 'number':
      return expr.value;
    case 'member': {
      const target = evaluate(expr.target, mode);
      if (target instanceof Symbolic) return new Symbolic(`${target.text}.${expr.property}`);
      if (typeof target === 'object' && target !== null && !Array.isArray(target) && expr.property in target)
        return target[expr.property] as Value;
      throw new Error(`no property ${expr.property} on ${text(target)}`);
    }
    case 'index': {
      const target = evaluate(expr.target, mode);
      const index = evaluate(expr.index, mode);
      if (target instanceof Symbolic) return new Symbolic(`${target.text}[${text(index)}]`);
      if (Array.isArray(target) && typeof index === 'number' && index < target.length) return target[index] as Value;
      throw new Error(`cannot index ${text(target)} with ${text(index)}`);
    }
    case 'call':
      return evaluateCall(
        expr.name.toLowerCase(),
        expr.args.map((arg) => evaluate(arg, mode)),
        mode,
      );
  }
}

function evaluateCall(name: string, args: Value[], mode: ParameterMode): Value {
  const strings = (): string[] => args.map(text);
  switch (name) {
    case 'parameters': {
      const parameterName = text(args[0] ?? '');
      const parameter = parameters[parameterName];
      if (!parameter) throw new Error(`parameters('${parameterName}') is not declared`);
      if (mode === 'symbolic' || parameter.defaultValue === undefined) return new Symbolic(`parameters.${parameterName}`);
      return evaluateJson(parameter.defaultValue, mode);
    }
    case 'variables': {
      const variableName = text(args[0] ?? '');
      if (!(variableName in variables)) throw new Error(`variables('${variableName}') is not declared`);
      return evaluateJson(variables[variableName] as Json, mode);
    }
    case 'format':
      return strings()[0]!.replace(/\{(\d+)\}/g, (_, index: string) => text(args[Number(index) + 1] ?? ''));
    case 'concat':
      return args.every(Array.isArray) ? args.flat() : strings().join('');
    case 'if':
      if (args[0] instanceof Symbolic) return new Symbolic(`if(${strings().join(', ')})`);
      return (args[0] === true ? args[1] : args[2]) ?? null;
    case 'resourceid':
    case 'subscriptionresourceid':
      return `/resource/${resourceKey(text(args[0] ?? ''), args.slice(1))}`;
    case 'extensionresourceid':
      return `/resource/${resourceKey(text(args[1] ?? ''), args.slice(2))}`;
    case 'resourcegroup':
      return {
        id: new Symbolic('resourceGroup.id'),
        name: new Symbolic('resourceGroup.name'),
        location: new Symbolic('resourceGroup.location'),
      };
    case 'environment':
      return { suffixes: { storage: 'core.windows.net' } };
    case 'reference':
      return new Symbolic(`reference(${text(args[0] ?? '')})`);
    case 'listkeys':
      return new Symbolic(`listKeys(${text(args[0] ?? '')})`);
    case 'guid':
    case 'uniquestring':
    case 'utcnow':
      return new Symbolic(`${name}(${strings().join(', ')})`);
    case 'take':
      return args[0] instanceof Symbolic ? new Symbolic(`take(${strings().join(', ')})`) : text(args[0] ?? '').slice(0, Number(args[1]));
    case 'tolower':
      return args[0] instanceof Symbolic ? new Symbolic(`toLower(${text(args[0])})`) : text(args[0] ?? '').toLowerCase();
    case 'string':
      return text(args[0] ?? '');
    default:
      throw new Error(`the test's evaluator does not know ${name}()`);
  }
}

/** Every string in the template with its JSON path; object keys count too (they can be expressions). */
function allStrings(value: Json, at = '$', out: Array<{ at: string; text: string }> = []): Array<{ at: string; text: string }> {
  if (typeof value === 'string') out.push({ at, text: value });
  else if (Array.isArray(value)) value.forEach((item, index) => allStrings(item, `${at}[${index}]`, out));
  else if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      out.push({ at: `${at} (key)`, text: key });
      allStrings(item, `${at}.${key}`, out);
    }
  }
  return out;
}

const strings = allStrings(template);
const expressions = strings.filter((entry) => isExpression(entry.text));

// ---------------------------------------------------------------------------------------------------------------
// What the code reads

/**
 * Settings of shared/config.ts SETTINGS that the production deployment intentionally does NOT set, with the
 * reason. Everything else must be an app setting (defaults are pinned explicitly, so a changed code default
 * never silently renames a production table or queue).
 */
const INTENTIONALLY_UNSET: Record<string, string> = {
  IOTHUB_CONNECTION_STRING:
    'the registry is reached with the managed identity (IOTHUB_HOST_NAME + IoT Hub Registry/Twin Contributor); setting both is a config error when host names differ',
  IOTHUB_SERVICE_ENDPOINT: 'only for the local emulator; in Azure the SDK talks to https://<hub>.azure-devices.net',
  IOTHUB_EVENTS_CONNECTION__fullyQualifiedNamespace:
    "identity-based Event Hubs connections are not supported by IoT Hub's built-in endpoint; IOTHUB_EVENTS_CONNECTION carries a SAS connection string instead",
  POSTURE_STORAGE_CONNECTION: 'tables use the managed identity via POSTURE_STORAGE_TABLE_ENDPOINT; setting both is a config error',
  ALERT_WEBHOOK_URL: 'alerts are opt-in (ALERT_SINK=none in the template); an operator sets the sink and its endpoint after deployment',
  ALERT_WEBHOOK_SECRET: 'a secret the operator chooses with the webhook receiver; it belongs in a Key Vault reference, not the template',
  ALERT_EVENTGRID_ENDPOINT: 'alerts are opt-in (ALERT_SINK=none in the template); the topic is the operator’s own resource',
  ALERT_EVENTGRID_KEY: 'absent means the managed identity publishes (role EventGrid Data Sender), the recommended setup',
};

/** Settings that must stay connection strings (with keys from listKeys), and why. */
const MUST_BE_CONNECTION_STRINGS: Record<string, string> = {
  AzureWebJobsStorage: 'createComplianceServices builds the sweep queue and the import-job SAS URLs from it (shared key)',
  IOTHUB_EVENTS_CONNECTION: "IoT Hub's built-in Event Hub-compatible endpoint accepts shared access policies only",
};

/** Built-in role definitions (verified against the Azure built-in roles reference). */
const BUILT_IN_ROLES: Record<string, { id: string; role: string }> = {
  iotHubRegistryContributor: { id: '4ea46cd5-c1b2-4a8e-910b-273211f9ce47', role: 'IoT Hub Registry Contributor' },
  iotHubTwinContributor: { id: '494bdba2-168f-4f31-a0a1-191d2f7c028c', role: 'IoT Hub Twin Contributor' },
  iotHubDataContributor: { id: '4fc6c259-987e-4a07-842e-c321cc9d413f', role: 'IoT Hub Data Contributor' },
  storageTableDataContributor: { id: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3', role: 'Storage Table Data Contributor' },
  storageBlobDataOwner: { id: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b', role: 'Storage Blob Data Owner' },
  contributor: { id: 'b24988ac-6180-42a0-ab88-20f7382dd24c', role: 'Contributor' },
};

/** Loads the function modules with the trigger settings unset, as the host would before app settings apply defaults. */
function loadRegistrations(): FunctionRegistration[] {
  const saved = { ...process.env };
  for (const name of [
    'IOTHUB_EVENTS_CONSUMER_GROUP',
    'IOTHUB_EVENTS_NAME',
    'IOTHUB_EVENTS_CONNECTION',
    'COMPLIANCE_SWEEP_SCHEDULE',
    'COMPLIANCE_SWEEP_QUEUE',
  ])
    delete process.env[name];
  const loaded: FunctionRegistration[] = [];
  try {
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- same module registry, so the flag applies to the modules loaded next
      const registration = require('../../shared/triggers/register-functions') as typeof import('../../shared/triggers/register-functions');
      registration.hostOutsideAzureFunctions();
      for (const file of readdirSync(path.join(root, 'functions')).filter((name) => name.endsWith('.ts'))) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- each module exports its registrations
        const module = require(path.join(root, 'functions', file)) as { registrations: FunctionRegistration[] };
        loaded.push(...module.registrations);
      }
    });
  } finally {
    process.env = saved;
  }
  return loaded;
}

const registrations = loadRegistrations();

/** Placeholders for what Azure fills in at deployment time, by the end of the symbolic path. */
const DEPLOYMENT_TIME_VALUES: Array<[RegExp, string]> = [
  [/\.eventHubEndpoints\.events\.endpoint$/, 'sb://ihsuprodxx000dednamespace.servicebus.windows.net/'],
  [/\.eventHubEndpoints\.events\.path$/, 'iothub-ehub-myhub-1234-abcdef'],
  [/\.hostName$/, 'myhub.azure-devices.net'],
  [/\.primaryEndpoints\.table$/, 'https://tgaccount.table.core.windows.net/'],
  [
    /\.ConnectionString$/,
    'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://example.applicationinsights.azure.com/',
  ],
  [/^listKeys\(.*\)\.primaryKey$/, 'ZmFrZS1pb3RodWIta2V5'],
  [/^listKeys\(.*\)\.keys\[0\]\.value$/, 'ZmFrZS1zdG9yYWdlLWtleQ=='],
  [/^uniquestring\(/i, 'abcdefghijklm'],
  [/^parameters\.iotHubName$/, 'myhub'], // the one parameter without a default
  [/^resourceGroup\.id$/, '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-twinguard'],
];

/** Replaces placeholders innermost first (a unique name can be built from another deployment-time value). */
function fillDeploymentTimeValues(value: string): string {
  let filled = value;
  while (/«[^«»]*»/.test(filled)) {
    filled = filled.replace(/«([^«»]*)»/g, (_, symbol: string) => {
      const match = DEPLOYMENT_TIME_VALUES.find(([pattern]) => pattern.test(symbol));
      if (!match) throw new Error(`no stand-in for the deployment-time value ${symbol}`);
      return match[1];
    });
  }
  return filled;
}

/** The app settings as the deployed app would see them with every parameter at its default. */
function deployedEnvironment(): Record<string, string> {
  return Object.fromEntries(
    appSettings.map((setting) => [setting.name, fillDeploymentTimeValues(text(evaluateJson(setting.value, 'defaults')))]),
  );
}

// ---------------------------------------------------------------------------------------------------------------

describe('infra/azuredeploy.json: ARM shape', () => {
  it('is a deploymentTemplate 2019-04-01 with a content version', () => {
    expect(template['$schema']).toBe('https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#');
    expect(template['contentVersion']).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    for (const key of ['parameters', 'variables', 'outputs']) expect(isObject(template[key])).toBe(true);
    expect(Array.isArray(template['resources'])).toBe(true);
    const known = new Set([
      '$schema',
      'contentVersion',
      'metadata',
      'parameters',
      'variables',
      'functions',
      'resources',
      'outputs',
      'apiProfile',
    ]);
    expect(Object.keys(template).filter((key) => !known.has(key))).toEqual([]);
  });

  it('declares typed parameters whose defaults fit their type and allowed values', () => {
    const types = new Set(['string', 'securestring', 'int', 'bool', 'object', 'secureobject', 'array']);
    for (const [name, parameter] of Object.entries(parameters)) {
      expect([name, types.has(parameter.type.toLowerCase())]).toEqual([name, true]);
      const value = parameter.defaultValue;
      if (value === undefined || (typeof value === 'string' && isExpression(value))) continue;
      const expected = { string: 'string', securestring: 'string', int: 'number', bool: 'boolean' }[parameter.type.toLowerCase()];
      if (expected) expect([name, typeof value]).toEqual([name, expected]);
      if (parameter.allowedValues) expect(parameter.allowedValues).toContain(value);
    }
    expect(parameters['iotHubName']?.defaultValue).toBeUndefined();
    expect(parameters['location']?.defaultValue).toBe('[resourceGroup().location]');
  });

  it('parses every expression and references only declared parameters and variables', () => {
    expect(expressions.length).toBeGreaterThan(50);
    const problems: string[] = [];
    for (const entry of expressions) {
      let expr: Expr;
      try {
        expr = parseExpression(entry.text);
      } catch (error) {
        problems.push(`${entry.at}: ${(error as Error).message}`);
        continue;
      }
      calls(expr, (call) => {
        const kind = call.name.toLowerCase();
        if (kind !== 'parameters' && kind !== 'variables') return;
        const arg = call.args[0];
        if (call.args.length !== 1 || arg?.kind !== 'string') problems.push(`${entry.at}: ${call.name}() needs one literal name`);
        else if (kind === 'parameters' && !(arg.value in parameters)) problems.push(`${entry.at}: undeclared parameter ${arg.value}`);
        else if (kind === 'variables' && !(arg.value in variables)) problems.push(`${entry.at}: undeclared variable ${arg.value}`);
      });
    }
    expect(problems).toEqual([]);
  });

  it('uses every declared parameter and variable', () => {
    const used = new Set(
      expressions.flatMap((entry) => [...entry.text.matchAll(/(?:parameters|variables)\('([^']+)'\)/g)].map((match) => match[1])),
    );
    expect(Object.keys(parameters).filter((name) => !used.has(name))).toEqual([]);
    expect(Object.keys(variables).filter((name) => !used.has(name))).toEqual([]);
  });

  it('gives every resource a type, an API version and a name, and every dependsOn a resource of the template', () => {
    const keys = new Set<string>();
    for (const resource of resources) {
      expect(resource.type).toMatch(/^[A-Za-z]+\.[A-Za-z]+\/[A-Za-z]+(\/[A-Za-z]+)*$/);
      expect(resource.apiVersion).toMatch(/^\d{4}-\d{2}-\d{2}(-preview)?$/);
      expect(typeof resource.name).toBe('string');
      const name = text(evaluateJson(resource.name, 'symbolic'));
      const key = resourceKey(resource.type, [name]);
      expect(keys.has(key)).toBe(false);
      keys.add(key);
      // A child resource's name has one segment per level of its type (extension resources such as role
      // assignments are named by a GUID and placed with `scope` instead).
      if (resource['scope'] === undefined)
        expect([resource.type, name.split('/').length]).toEqual([resource.type, resource.type.split('/').length - 1]);
    }
    const missing: string[] = [];
    for (const resource of resources) {
      for (const dependency of resource['dependsOn'] === undefined ? [] : asArray(resource['dependsOn'], 'dependsOn')) {
        const target = text(evaluateJson(asString(dependency, 'dependsOn entry'), 'symbolic'));
        if (!target.startsWith('/resource/') || !keys.has(target.slice('/resource/'.length)))
          missing.push(`${resource.type} → ${asString(dependency, '')}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('declares the outputs the deployment steps use', () => {
    for (const [name, output] of Object.entries(outputs)) {
      const value = asObject(output, name);
      expect(['string', 'bool', 'int', 'object', 'array']).toContain(value['type']);
      expect(value['value']).toBeDefined();
    }
    expect(asObject(outputs['functionAppName'], 'functionAppName')['value']).toBe("[parameters('appName')]");
    expect(asString(asObject(outputs['functionAppHostName'], 'functionAppHostName')['value'], 'hostName')).toContain('.defaultHostName');
  });
});

describe('infra/azuredeploy.json: function app', () => {
  it('runs Node 22 on Functions v4 in a Flex Consumption plan with a system-assigned identity', () => {
    const plan = onlyResource('Microsoft.Web/serverfarms');
    expect(plan['sku']).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
    expect(asObject(plan['properties'], 'plan.properties')['reserved']).toBe(true);
    expect(site['kind']).toBe('functionapp,linux');
    expect(site['identity']).toEqual({ type: 'SystemAssigned' });
    expect(siteProperties['httpsOnly']).toBe(true);
    const config = asObject(siteProperties['functionAppConfig'], 'functionAppConfig');
    // On Flex Consumption the worker runtime and its version live here: this is FUNCTIONS_WORKER_RUNTIME=node
    // with Node 22. Flex always runs the v4 host (the v4 extension bundle in host.json needs it).
    expect(config['runtime']).toEqual({ name: 'node', version: '22' });
    const storage = asObject(asObject(config['deployment'], 'deployment')['storage'], 'deployment.storage');
    expect(storage['type']).toBe('blobContainer');
    expect(storage['authentication']).toEqual({ type: 'SystemAssignedIdentity' });
    const hostJson = JSON.parse(readFileSync(path.join(root, 'host.json'), 'utf8')) as { extensionBundle: { version: string } };
    expect(hostJson.extensionBundle.version).toBe('[4.*, 5.0.0)');
  });

  it('leaves out the app settings Flex Consumption rejects (the runtime is declared in functionAppConfig)', () => {
    for (const name of [
      'FUNCTIONS_WORKER_RUNTIME',
      'FUNCTIONS_EXTENSION_VERSION',
      'WEBSITE_NODE_DEFAULT_VERSION',
      'WEBSITE_RUN_FROM_PACKAGE',
      'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
      'WEBSITE_CONTENTSHARE',
    ]) {
      expect([name, appSettingByName.has(name)]).toEqual([name, false]);
    }
    const siteConfig = asObject(siteProperties['siteConfig'], 'siteConfig');
    expect(siteConfig['linuxFxVersion']).toBeUndefined();
    expect(siteConfig['ftpsState']).toBeUndefined();
  });

  it('sets each app setting once, with Application Insights wired in', () => {
    expect(new Set(appSettings.map((setting) => setting.name)).size).toBe(appSettings.length);
    expect(appSettingByName.get('APPLICATIONINSIGHTS_CONNECTION_STRING')).toContain('.ConnectionString');
    const insights = onlyResource('Microsoft.Insights/components');
    expect(asObject(insights['properties'], 'insights.properties')['WorkspaceResourceId']).toContain(
      'Microsoft.OperationalInsights/workspaces',
    );
    expect(resourcesOfType('Microsoft.OperationalInsights/workspaces')).toHaveLength(1);
  });

  it('sets every setting of shared/config.ts SETTINGS, except the listed alternatives left unset on purpose', () => {
    const names = new Set(SETTINGS.map((setting) => setting.name));
    expect(Object.keys(INTENTIONALLY_UNSET).filter((name) => !names.has(name))).toEqual([]);
    const missing = SETTINGS.map((setting) => setting.name).filter((name) => !appSettingByName.has(name) && !(name in INTENTIONALLY_UNSET));
    expect(missing).toEqual([]);
    const setAnyway = Object.keys(INTENTIONALLY_UNSET).filter((name) => appSettingByName.has(name));
    expect(setAnyway).toEqual([]);
    for (const reason of Object.values(INTENTIONALLY_UNSET)) expect(reason.length).toBeGreaterThan(20);
  });

  it("pins each defaulted setting to the code's default (literal or parameter default)", () => {
    const mismatches: string[] = [];
    for (const setting of SETTINGS) {
      const value = appSettingByName.get(setting.name);
      if (value === undefined) continue;
      const parameter = /^\[parameters\('([^']+)'\)\]$/.exec(value)?.[1];
      const effective = parameter !== undefined ? parameters[parameter]?.defaultValue : isExpression(value) ? undefined : value;
      if (effective === undefined) continue; // deployment-time values (hub host name, keys, endpoints) and computed ones
      const expected = setting.default ?? '';
      if (effective !== expected)
        mismatches.push(`${setting.name}: template ${JSON.stringify(effective)}, code default ${JSON.stringify(expected)}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('keeps the two settings that must be connection strings as listKeys() expressions, never literals', () => {
    for (const name of Object.keys(MUST_BE_CONNECTION_STRINGS)) {
      const value = appSettingByName.get(name) ?? '';
      expect([name, isExpression(value), value.includes('listKeys(')]).toEqual([name, true, true]);
    }
    expect(appSettingByName.get('IOTHUB_EVENTS_CONNECTION')).toContain(
      "'Endpoint={0};SharedAccessKeyName={1};SharedAccessKey={2};EntityPath={3}'",
    );
    expect(appSettingByName.get('IOTHUB_EVENTS_CONNECTION')).toContain("'Microsoft.Devices/IotHubs/IotHubKeys'");
  });

  it('sets every connection and %SETTING% the function registrations name', () => {
    expect(registrations.map((registration) => registration.name)).toEqual(
      expect.arrayContaining(['iothub-events', 'sweep-shard', 'compliance-sweep', 'device-posture']),
    );
    const named = new Set<string>();
    for (const registration of registrations) {
      const options = registration.options as unknown as Record<string, unknown>;
      if (typeof options['connection'] === 'string') named.add(options['connection']);
      for (const value of Object.values(options)) {
        if (typeof value === 'string') for (const match of value.matchAll(/%([A-Za-z0-9_]+)%/g)) named.add(match[1] as string);
      }
    }
    expect([...named].sort()).toEqual(['AzureWebJobsStorage', 'IOTHUB_EVENTS_CONNECTION', 'IOTHUB_EVENTS_NAME']);
    for (const name of named) expect([name, appSettingByName.has(name)]).toEqual([name, true]);
  });

  it('produces settings that shared/config.ts accepts: identity for the registry and tables, SAS for the events', () => {
    const env = deployedEnvironment();
    const config = loadConfig(env);
    expect(config.iotHub.access).toEqual({ kind: 'identity', hostName: 'myhub.azure-devices.net' });
    expect(config.events).toEqual({
      access: { kind: 'connectionString', namespace: 'ihsuprodxx000dednamespace.servicebus.windows.net' },
      eventHubName: 'iothub-ehub-myhub-1234-abcdef',
      consumerGroup: 'twinguard',
    });
    expect(config.storage.access).toEqual({ kind: 'identity', tableEndpoint: 'https://tgaccount.table.core.windows.net' });
    expect(config.compliance.queueName).toBe('twinguard-sweep-shards');
    // Bulk import jobs are off by default: the threshold can never be exceeded (at most 1,000,000 identities per hub).
    expect(config.compliance.bulkImportThreshold).toBe(1_000_000);
    expect(env['AzureWebJobsStorage']).toMatch(
      /^DefaultEndpointsProtocol=https;AccountName=[^;]+;AccountKey=[^;]+;EndpointSuffix=core\.windows\.net$/,
    );
  });
});

describe('infra/azuredeploy.json: IoT hub', () => {
  it('never declares the hub resource itself, so a deployment cannot replace its routes, policies or endpoints', () => {
    expect(resourcesOfType('Microsoft.Devices/IotHubs')).toEqual([]);
    expect(templateText).not.toMatch(/"routing"\s*:/);
  });

  it('creates the consumer group the trigger reads on the built-in events endpoint', () => {
    const group = onlyResource('Microsoft.Devices/IotHubs/eventHubEndpoints/ConsumerGroups');
    expect(text(evaluateJson(group.name, 'symbolic'))).toBe('«parameters.iotHubName»/events/«parameters.consumerGroupName»');
    expect(asObject(group['properties'], 'consumer group properties')['name']).toBe("[parameters('consumerGroupName')]");
    expect(appSettingByName.get('IOTHUB_EVENTS_CONSUMER_GROUP')).toBe("[parameters('consumerGroupName')]");
    const codeDefault = SETTINGS.find((setting) => setting.name === 'IOTHUB_EVENTS_CONSUMER_GROUP')?.default;
    expect(parameters['consumerGroupName']?.defaultValue).toBe(codeDefault);
    const trigger = registrations.find((registration) => registration.kind === 'eventHub');
    expect((trigger?.options as { consumerGroup?: string } | undefined)?.consumerGroup).toBe(codeDefault);
  });

  it('defines routes for lifecycle and twin-change events to `events`, and keeps the fallback route enabled', () => {
    const routes = asArray(variables['hubRoutes'], 'hubRoutes').map((route) => asObject(route, 'route'));
    for (const source of ['DeviceLifecycleEvents', 'TwinChangeEvents']) {
      const route = routes.find((candidate) => candidate['source'] === source);
      expect(route).toMatchObject({ source, condition: 'true', endpointNames: ['events'], isEnabled: true });
      expect(asString(route?.['name'], 'route name')).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    }
    expect(routes.some((route) => route['source'] === 'DeviceMessages')).toBe(false); // telemetry keeps flowing through the fallback
    expect(variables['hubFallbackRoute']).toEqual({
      name: '$fallback',
      source: 'DeviceMessages',
      condition: 'true',
      endpointNames: ['events'],
      isEnabled: true,
    });
  });

  it('applies the routes only with manageHubRoutes, additively, through the deployment script', () => {
    expect(parameters['manageHubRoutes']).toMatchObject({ type: 'bool', defaultValue: false });
    const script = onlyResource('Microsoft.Resources/deploymentScripts');
    expect(script['condition']).toBe("[parameters('manageHubRoutes')]");
    const properties = asObject(script['properties'], 'script properties');
    const env = Object.fromEntries(
      asArray(properties['environmentVariables'], 'environmentVariables').map((entry) => {
        const variable = asObject(entry, 'environment variable');
        return [asString(variable['name'], 'name'), text(evaluateJson(asString(variable['value'], 'value'), 'defaults'))];
      }),
    );
    expect(env).toMatchObject({
      ROUTE1_NAME: 'twinguard-lifecycle-to-events',
      ROUTE1_SOURCE: 'DeviceLifecycleEvents',
      ROUTE1_ENDPOINT: 'events',
      ROUTE1_CONDITION: 'true',
      ROUTE2_NAME: 'twinguard-twin-to-events',
      ROUTE2_SOURCE: 'TwinChangeEvents',
      ROUTE2_ENDPOINT: 'events',
      ROUTE2_CONDITION: 'true',
      FALLBACK_ENABLED: 'true',
    });
    expect(properties['scriptContent']).toBe("[variables('routeScript')]");
    const body = asString(variables['routeScript'], 'routeScript');
    for (const name of Object.keys(env)) expect([name, body.includes(`$${name}`)]).toEqual([name, true]);
    expect(body).toContain('az iot hub message-route create');
    expect(body).toContain('az iot hub message-route fallback set');
    expect(body).not.toMatch(/message-route delete|az iot hub update|az resource/);
    for (const dependent of [...resourcesOfType('Microsoft.ManagedIdentity/userAssignedIdentities')])
      expect(dependent['condition']).toBe("[parameters('manageHubRoutes')]");
  });
});

describe('infra/azuredeploy.json: identities, roles and secrets', () => {
  const assignments = resourcesOfType('Microsoft.Authorization/roleAssignments').map((assignment) => {
    const properties = asObject(assignment['properties'], 'role assignment properties');
    const roleKey = /variables\('roles'\)\.([A-Za-z]+)\)\]$/.exec(asString(properties['roleDefinitionId'], 'roleDefinitionId'))?.[1] ?? '';
    return { roleKey, scope: asString(assignment['scope'], 'scope'), condition: assignment['condition'], properties };
  });

  it('uses the documented built-in role definition GUIDs', () => {
    expect(variables['roles']).toEqual(Object.fromEntries(Object.entries(BUILT_IN_ROLES).map(([key, role]) => [key, role.id])));
    for (const assignment of assignments) {
      expect(Object.keys(BUILT_IN_ROLES)).toContain(assignment.roleKey);
      expect(assignment.properties['roleDefinitionId']).toMatch(
        /^\[subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions', variables\('roles'\)\.[A-Za-z]+\)\]$/,
      );
      expect(assignment.properties['principalType']).toBe('ServicePrincipal');
    }
  });

  it("grants the app's identity registry and twin access on the hub, tables on the account, blobs on the deployment container", () => {
    const appPrincipal = "[reference(variables('siteId'), variables('webApiVersion'), 'Full').identity.principalId]";
    const granted = assignments
      .filter((assignment) => assignment.properties['principalId'] === appPrincipal)
      .map((assignment) => [assignment.roleKey, assignment.scope, assignment.condition ?? 'always']);
    expect(granted).toEqual(
      expect.arrayContaining([
        ['iotHubRegistryContributor', "[variables('iotHubScope')]", 'always'],
        ['iotHubTwinContributor', "[variables('iotHubScope')]", 'always'],
        ['iotHubDataContributor', "[variables('iotHubScope')]", "[parameters('enableBulkImportJobs')]"],
        ['storageTableDataContributor', "[format('Microsoft.Storage/storageAccounts/{0}', parameters('storageAccountName'))]", 'always'],
        ['storageBlobDataOwner', "[variables('deploymentContainerScope')]", 'always'],
      ]),
    );
    expect(granted).toHaveLength(5);
    // The route script's identity is the only other principal, and only with manageHubRoutes.
    const others = assignments.filter((assignment) => assignment.properties['principalId'] !== appPrincipal);
    expect(others.map((assignment) => [assignment.roleKey, assignment.scope, assignment.condition])).toEqual([
      ['contributor', "[variables('iotHubScope')]", "[parameters('manageHubRoutes')]"],
    ]);
  });

  it('creates a storage account with HTTPS only, TLS 1.2 and no public blob access', () => {
    const account = onlyResource('Microsoft.Storage/storageAccounts');
    expect(account['kind']).toBe('StorageV2');
    expect(account['properties']).toMatchObject({
      supportsHttpsTrafficOnly: true,
      minimumTlsVersion: 'TLS1_2',
      allowBlobPublicAccess: false,
      allowSharedKeyAccess: true,
    });
    const container = onlyResource('Microsoft.Storage/storageAccounts/blobServices/containers');
    expect(container['properties']).toEqual({ publicAccess: 'None' });
  });

  it('contains no secret literal: keys only come from listKeys(), and no output reveals one', () => {
    const literals = strings.filter((entry) => !isExpression(entry.text) && entry.at !== '$.variables.routeScript');
    for (const entry of literals) {
      expect([entry.at, /AccountKey=|SharedAccessKey=|SharedAccessSignature=|[?&]sig=|InstrumentationKey=/i.test(entry.text)]).toEqual([
        entry.at,
        false,
      ]);
      // Key material: a long base64 run mixing digits and both cases (resource types are long but have no digits).
      const keyLike = [...entry.text.matchAll(/[A-Za-z0-9+/]{40,}={0,2}/g)].some(
        ([run]) => /\d/.test(run) && /[a-z]/.test(run) && /[A-Z]/.test(run),
      );
      expect([entry.at, keyLike]).toEqual([entry.at, false]);
    }
    for (const entry of expressions) {
      if (/AccountKey=|SharedAccessKey=/i.test(entry.text)) expect([entry.at, entry.text.includes('listKeys(')]).toEqual([entry.at, true]);
    }
    expect(JSON.stringify(outputs)).not.toMatch(/listKeys|ConnectionString/i);
    for (const [name, parameter] of Object.entries(parameters)) {
      if (/key|secret|password|connection|token/i.test(name))
        expect([name, parameter.type.toLowerCase().startsWith('secure')]).toEqual([name, true]);
    }
  });
});

describe('infra/azuredeploy.json: monitoring (workbook and alert rules)', () => {
  const workbookFile = JSON.parse(readFileSync(path.join(root, 'infra', 'monitoring-workbook.json'), 'utf8')) as Json;
  const metricNames = new Set(Object.keys(METRICS));
  const referencedMetrics = (query: string): string[] => [...query.matchAll(/'(twinguard\.[a-z_.]+)'/g)].map((match) => match[1] ?? '');

  test('the workbook resource deploys exactly infra/monitoring-workbook.json on the Application Insights resource', () => {
    const workbook = onlyResource('Microsoft.Insights/workbooks');
    expect(workbook['condition']).toBe("[parameters('enableMonitoring')]");
    const properties = asObject(workbook['properties'], 'workbook.properties');
    expect(properties['serializedData']).toBe("[string(variables('monitoringWorkbook'))]");
    expect(properties['sourceId']).toBe("[resourceId('Microsoft.Insights/components', variables('appInsightsName'))]");
    expect(variables['monitoringWorkbook']).toEqual(workbookFile);
  });

  test('every query of the workbook and the alerts names a metric TwinGuard emits', () => {
    const queries = allStrings(template).filter((entry) => entry.text.includes('customMetrics'));
    expect(queries.length).toBeGreaterThanOrEqual(10);
    const names = queries.flatMap((entry) => referencedMetrics(entry.text.replace(/''/g, "'")));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(metricNames).toContain(name);
  });

  test('three log alert rules, optional, scoped to Application Insights, notifying the action group only when an e-mail is set', () => {
    const rules = resourcesOfType('Microsoft.Insights/scheduledQueryRules');
    expect(rules.map((rule) => rule.name)).toEqual([
      "[format('{0}-dead-letters', parameters('appName'))]",
      "[format('{0}-provisioning-failures', parameters('appName'))]",
      "[format('{0}-compliance-drop', parameters('appName'))]",
    ]);
    for (const rule of rules) {
      expect(rule['condition']).toBe("[parameters('enableMonitoring')]");
      const properties = asObject(rule['properties'], 'rule.properties');
      expect(properties['scopes']).toEqual(["[resourceId('Microsoft.Insights/components', variables('appInsightsName'))]"]);
      expect(asObject(properties['actions'], 'actions')['actionGroups']).toBe("[variables('alertActionGroups')]");
    }
    const alertRules = asArray(variables['alertRules'], 'alertRules').map((rule) => asObject(rule, 'alert rule'));
    expect(alertRules[0]).toMatchObject({ windowSize: 'PT15M', threshold: 0, measure: 'DeadLetters' });
    const drop = asObject(rules[2]?.['properties'], 'drop.properties');
    expect(JSON.stringify(drop)).toContain("parameters('complianceDropAlertPoints')");
    expect(parameters['complianceDropAlertPoints']?.defaultValue).toBe(10);
    const actionGroup = onlyResource('Microsoft.Insights/actionGroups');
    expect(actionGroup['condition']).toBe("[and(parameters('enableMonitoring'), not(empty(parameters('alertEmail'))))]");
    expect(variables['alertActionGroups']).toContain("empty(parameters('alertEmail'))");
  });
});
