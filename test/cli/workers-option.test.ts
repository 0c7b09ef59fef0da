/** `deploy --local --workers N`: the count of local host worker processes is checked before anything starts. */
import { describe, expect, it } from 'vitest';
import { parseWorkers } from '../../bootstrap-cli/deploy.js';
import { EXIT } from '../../bootstrap-cli/io.js';

describe('deploy --workers', () => {
  it('accepts a whole number of worker processes', () => {
    expect(parseWorkers('1')).toBe(1);
    expect(parseWorkers('3')).toBe(3);
  });

  it('refuses anything else with a usage error naming the option and the value', () => {
    for (const bad of ['0', '-1', '2.5', 'three', '17']) {
      expect(() => parseWorkers(bad)).toThrow(`--workers ${bad}: must be a whole number of worker processes from 1 to 16`);
      try {
        parseWorkers(bad);
      } catch (e) {
        expect((e as { exitCode?: number }).exitCode).toBe(EXIT.usage);
      }
    }
  });
});
