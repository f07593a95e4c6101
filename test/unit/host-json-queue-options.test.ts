/** host.json `extensions.queues` and Functions' `AzureFunctionsJobHost__…` overrides → the standalone queue poller's options. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { queueOptionsFromHostJson } from '../../host/host-json-queue-options';
import { readHostJson } from '../../host/standalone-host';

describe('queueOptionsFromHostJson', () => {
  it.each([
    ['no queues section', {}, {}, {}],
    ['batchSize', { extensions: { queues: { batchSize: 4 } } }, {}, { batchSize: 4 }],
    [
      'every supported key',
      { extensions: { queues: { batchSize: 32, maxDequeueCount: 3, maxPollingInterval: '00:00:02', visibilityTimeout: '00:01:30' } } },
      {},
      { batchSize: 32, maxDequeueCount: 3, maxPollMs: 2000, retryVisibilityTimeoutSeconds: 90 },
    ],
    ['maxPollingInterval in ms (v1 form)', { extensions: { queues: { maxPollingInterval: 1500 } } }, {}, { maxPollMs: 1500 }],
    [
      'a TimeSpan with days and fractions',
      { extensions: { queues: { maxPollingInterval: '1.00:00:00.5' } } },
      {},
      { maxPollMs: 86_400_500 },
    ],
    [
      'an app-setting override wins, keys case-insensitive',
      { extensions: { queues: { batchSize: 16 } } },
      {
        AzureFunctionsJobHost__extensions__queues__batchSize: '1',
        AZUREFUNCTIONSJOBHOST__EXTENSIONS__QUEUES__MAXPOLLINGINTERVAL: '00:00:01',
      },
      { batchSize: 1, maxPollMs: 1000 },
    ],
    ['unrelated settings are ignored', {}, { AzureFunctionsJobHost__extensions__eventHubs__maxEventBatchSize: '5', OTHER: 'x' }, {}],
  ])('%s', (_name, hostJson, env, options) => {
    expect(queueOptionsFromHostJson(hostJson, env)).toEqual(options);
  });

  it.each([
    [{ extensions: { queues: { batchSize: 33 } } }, {}, 'extensions.queues.batchSize must be a whole number from 1 to 32, got 33'],
    [{}, { AzureFunctionsJobHost__extensions__queues__batchSize: '0' }, 'batchSize must be a whole number from 1 to 32, got "0"'],
    [{ extensions: { queues: { maxDequeueCount: 0 } } }, {}, 'maxDequeueCount'],
    [{ extensions: { queues: { maxPollingInterval: '2000' } } }, {}, 'maxPollingInterval must be a duration'],
    [{ extensions: { queues: { maxPollingInterval: 50 } } }, {}, 'maxPollingInterval must be a duration'],
    [{ extensions: { queues: { visibilityTimeout: 30 } } }, {}, 'visibilityTimeout must be a duration'],
  ])('refuses %j %j', (hostJson, env, message) => {
    expect(() => queueOptionsFromHostJson(hostJson, env)).toThrow(message);
  });

  it("reads the app's own host.json", () => {
    const own = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'host.json'), 'utf8')) as unknown;
    expect(readHostJson(path.join(__dirname, '..', '..', 'host'))).toEqual(own);
    expect(() => queueOptionsFromHostJson(own, {})).not.toThrow();
  });
});
