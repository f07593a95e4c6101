import { ConditionSyntaxError } from '../../../shared/domain/iothub-query/condition-syntax-error';
import { evaluateCondition, parseCondition } from '../../../shared/domain/iothub-query/twin-condition';

const twin: Record<string, unknown> = {
  deviceId: "it's-#1",
  moduleId: 'DefenderIotMicroAgent',
  status: 'enabled',
  version: 4,
  capabilities: { iotEdge: false },
  tags: { environment: 'prod', region: 'eu', rank: 3, nothing: null },
  properties: {
    desired: { 'azureiot*com^securityAgentConfiguration^1*0*0': { snapshotFrequency: 'PT13H' }, $version: 2 },
    reported: { latest_state: 'success', count: 10, nested: { deep: true } },
  },
};

describe('evaluateCondition', () => {
  it.each<[string, boolean]>([
    ["tags.environment = 'prod'", true],
    ['tags.environment = "prod"', true],
    ["tags.environment != 'prod'", false],
    ["tags.environment <> 'dev'", true],
    ["tags.environment = 'prod' AND NOT capabilities.iotEdge = true", true],
    ["tags.environment = 'dev' OR tags.region = 'eu'", true],
    ["NOT (tags.environment = 'prod' OR tags.region = 'eu')", false],
    ['tags.rank > 2 AND tags.rank >= 3 AND tags.rank < 4 AND tags.rank <= 3', true],
    ['tags.rank > -1.5e0', true],
    ["tags.rank = '3'", false],
    ["tags.rank != '3'", false],
    ["tags.missing != 'x'", false],
    ["tags.missing = 'x'", false],
    ["NOT tags.missing = 'x'", true],
    ['tags.nothing = null', true],
    ['IS_DEFINED(tags.nothing)', true],
    ['is_defined(properties.reported.nested.deep)', true],
    ['IS_DEFINED(properties.reported.nested.shallow)', false],
    ['properties.reported.nested = true', false],
    ["properties.desired.[[azureiot*com^securityAgentConfiguration^1*0*0]].snapshotFrequency = 'PT13H'", true],
    ['IS_DEFINED(properties.desired.[[azureiot*com^securityAgentConfiguration^1*0*0]])', true],
    ['properties.desired.$version = 2', true],
    ["deviceId = 'it\\'s-#1'", true],
    ['deviceId = "it\'s-#1"', true],
    ["tags.region IN ['us', 'eu']", true],
    ["tags.region NIN ['us', 'eu']", false],
    ["status = 'enabled' and moduleId = 'DefenderIotMicroAgent'", true],
    ["tags.environment > 'pro' AND tags.environment < 'prp'", true],
    ['capabilities.iotEdge = false', true],
    ['capabilities.iotEdge < true', false],
  ])('%s → %s', (text, expected) => {
    expect(evaluateCondition(parseCondition(text), twin)).toBe(expected);
  });

  it('keeps the source text', () => {
    expect(parseCondition("tags.a = 'b'").text).toBe("tags.a = 'b'");
  });
});

describe('parseCondition errors', () => {
  it.each<[string, RegExp]>([
    ["tags.a = 'unterminated", /Unterminated string literal starting at position 9/],
    ["STARTSWITH(deviceId, 'a')", /Function 'STARTSWITH' at position 0 is not supported/],
    ["tags.a = 'b' GROUP BY tags.a", /'GROUP' at position 13 is not supported/],
    ['tags.a =', /Expected a property path or a literal but found end of expression at position 8/],
    ["tags.a 'b'", /comparison operator.*position 7/],
    ['', /Empty condition/],
    ["tags.a = 'b' AND", /position 16/],
    ['tags.a ~ 1', /Unexpected character '~' at position 7/],
    ["tags.a = '\\q'", /Invalid escape/],
  ])('%s', (text, message) => {
    expect(() => parseCondition(text)).toThrow(ConditionSyntaxError);
    expect(() => parseCondition(text)).toThrow(message);
  });
});
