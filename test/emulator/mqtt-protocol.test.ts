/**
 * The MQTT details the device SDK hides, checked with a bare MQTT client: CONNACK return codes, SUBACK grants for
 * IoT Hub's fixed filters, the twin response topics with `$rid` and `$version`, and the connections IoT Hub closes
 * (unsupported topic, QoS 2, another identity's telemetry topic, expired token).
 */
import { IotHubEmulator } from '../../emulator/index';
import { parseInboundTopic, parsePropertyBag, subscriptionKindOf } from '../../emulator/mqtt/iothub-topics';
import { identitySasToken, identityUsername, RawMqttClient } from '../../testing/mqtt-raw-client';

let emulator: IotHubEmulator;
const open: RawMqttClient[] = [];

beforeAll(async () => {
  emulator = await IotHubEmulator.start();
  emulator.registry.createDevice({ deviceId: 'raw-d1' });
  emulator.registry.createDevice({ deviceId: 'raw-d2' });
});

afterAll(async () => {
  for (const client of open) client.destroy();
  await emulator.stop();
});

async function connectAs(deviceId: string, overrides: { password?: string; clientId?: string; protocolVersion?: 3 | 4 | 5 } = {}) {
  const key = emulator.registry.keysOf(deviceId)?.primaryKey ?? '';
  const result = await RawMqttClient.connect({
    port: emulator.mqttPort,
    clientId: overrides.clientId ?? deviceId,
    username: identityUsername(emulator.hostName, deviceId),
    password: overrides.password ?? identitySasToken(emulator.hostName, deviceId, undefined, key),
    protocolVersion: overrides.protocolVersion,
  });
  open.push(result.client);
  return result;
}

describe('CONNACK', () => {
  it.each([
    { what: 'a valid token', overrides: {}, code: 0 },
    {
      what: 'a token signed with another key',
      overrides: {
        password: identitySasToken('twinguard-emulator.azure-devices.net', 'raw-d1', undefined, Buffer.alloc(32).toString('base64')),
      },
      code: 5,
    },
    { what: 'a password that is no SAS token', overrides: { password: 'hunter2' }, code: 5 },
    { what: 'a client id that names no identity', overrides: { clientId: 'raw-d1/' }, code: 2 },
    { what: 'MQTT 3.1', overrides: { protocolVersion: 3 as const }, code: 1 },
  ])('$what → CONNACK $code', async ({ overrides, code }) => {
    const { client, connack } = await connectAs('raw-d1', overrides);
    expect(connack.returnCode).toBe(code);
    if (code !== 0) await client.closed;
    else await client.end();
  });
});

describe('twin topics', () => {
  it('answers GET on $iothub/twin/res/200 and a reported PATCH on res/204 with $version', async () => {
    const { client } = await connectAs('raw-d2');
    expect(await client.subscribe(['$iothub/twin/res/#', '$iothub/twin/PATCH/properties/desired/#', 'some/other/topic'], 1)).toEqual([
      1, 1, 128,
    ]);

    const get = client.nextPublish((topic) => topic.includes('$rid=get-1'));
    await client.publish('$iothub/twin/GET/?$rid=get-1', '');
    const getAnswer = await get;
    expect(getAnswer.topic).toBe('$iothub/twin/res/200/?$rid=get-1');
    expect(JSON.parse(getAnswer.payload.toString())).toEqual({ desired: { $version: 1 }, reported: { $version: 1 } });

    const patch = client.nextPublish((topic) => topic.includes('$rid=patch-1'));
    await client.publish('$iothub/twin/PATCH/properties/reported/?$rid=patch-1', JSON.stringify({ a: 1 }));
    const patchAnswer = await patch;
    expect(patchAnswer.topic).toBe('$iothub/twin/res/204/?$rid=patch-1&$version=2');
    expect(patchAnswer.payload.length).toBe(0);

    const bad = client.nextPublish((topic) => topic.includes('$rid=patch-2'));
    await client.publish('$iothub/twin/PATCH/properties/reported/?$rid=patch-2', '{not json');
    const badAnswer = await bad;
    expect(badAnswer.topic).toBe('$iothub/twin/res/400/?$rid=patch-2');
    expect(JSON.parse(badAnswer.payload.toString())).toMatchObject({ errorCode: 400004 });

    const desired = client.nextPublish((topic) => topic.startsWith('$iothub/twin/PATCH/properties/desired/'));
    emulator.registry.updateTwin('raw-d2', undefined, { properties: { desired: { x: 1 } } });
    const push = await desired;
    expect(push.topic).toBe('$iothub/twin/PATCH/properties/desired/?$version=2');
    expect(JSON.parse(push.payload.toString())).toEqual({ x: 1, $version: 2 });
    await client.end();
  });
});

describe('connections the hub closes', () => {
  it.each([
    ['an unsupported topic', 'not/an/iothub/topic', 0],
    ['another device’s telemetry topic', 'devices/raw-d2/messages/events/', 0],
    ['QoS 2', 'devices/raw-d1/messages/events/', 2],
  ] as const)('closes on a publish to %s', async (_what, topic, qos) => {
    const { client } = await connectAs('raw-d1');
    void client.publish(topic, 'x', qos).catch(() => undefined);
    await client.closed;
    expect(client.isOpen).toBe(false);
  });
});

describe('topic parsing', () => {
  it.each([
    ['devices/d/messages/events/', { kind: 'telemetry', deviceId: 'd', properties: [] }],
    [
      'devices/d/modules/m/messages/events/$.ct=application%2Fjson&k=v%20w',
      {
        kind: 'telemetry',
        deviceId: 'd',
        moduleId: 'm',
        properties: [
          ['$.ct', 'application/json'],
          ['k', 'v w'],
        ],
      },
    ],
    ['$iothub/twin/GET/?$rid=7', { kind: 'twinGet', requestId: '7' }],
    ['$iothub/twin/PATCH/properties/reported/?$rid=a&x=1', { kind: 'twinPatchReported', requestId: 'a' }],
    ['$iothub/methods/res/200/?$rid=f', { kind: 'methodResponse', status: 200, requestId: 'f' }],
    ['$iothub/twin/GET/', { kind: 'unsupported', topic: '$iothub/twin/GET/' }],
    ['devices/d/messages/devicebound/', { kind: 'unsupported', topic: 'devices/d/messages/devicebound/' }],
  ])('%s', (topic, expected) => {
    expect(parseInboundTopic(topic)).toEqual(expected);
  });

  it('reads a lone key as null and keeps malformed escapes', () => {
    expect(parsePropertyBag('a&b=&c=%ZZ')).toEqual([
      ['a', null],
      ['b', ''],
      ['c', '%ZZ'],
    ]);
  });

  it('admits only the filters of the connected identity', () => {
    expect(subscriptionKindOf('devices/d/messages/devicebound/#', 'd', undefined)).toBe('cloudToDevice');
    expect(subscriptionKindOf('devices/other/messages/devicebound/#', 'd', undefined)).toBeUndefined();
    expect(subscriptionKindOf('devices/d/messages/devicebound/#', 'd', 'm')).toBeUndefined();
    expect(subscriptionKindOf('#', 'd', undefined)).toBeUndefined();
  });
});
