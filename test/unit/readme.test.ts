/** The README is the operator's reference: it must name every setting the code reads and every table. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { SETTINGS } from '../../shared/config/settings-catalogue';
import { STANDALONE_SETTINGS } from '../../host/standalone-host';

const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');

describe('README', () => {
  it.each([...SETTINGS, ...STANDALONE_SETTINGS].map((setting) => setting.name))('documents %s in a configuration table', (name) => {
    expect(readme).toContain(`| \`${name}\` |`);
  });

  it.each(['PostureLatest', 'PostureHistory', 'PostureDeadLetters', 'SweepRuns', 'SweepFindings', 'ComplianceSuppressions'])(
    'documents the %s table',
    (table) => {
      expect(readme).toMatch(new RegExp(`\\*\\*${table}\\*\\*|### ${table}`));
    },
  );

  it('shows the two commands', () => {
    expect(readme).toContain('npm start');
    expect(readme).toContain('npm test');
  });
});
