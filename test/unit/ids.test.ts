/**
 * Operation ids (platform/ids.ts): what `GET /api/platform` and the 409s say an instance is. An
 * alarm clock, the root's or a group's, is a boot tick (the platform view leaves it out).
 */
import { describe, expect, it } from 'vitest';
import { bootGroupId, bootTickId, BOOT_ID, describeOperation } from '../../functions/platform/ids.js';

describe('operation ids', () => {
  const guid = '3f2b8c1e-0d4a-5b6c-8e7f-9a0b1c2d3e4f';

  it('names the alarm clocks of the root and of a group, each with its owner', () => {
    expect(describeOperation(bootTickId(BOOT_ID, guid))).toEqual({ kind: 'boot-tick', target: 'boot' });
    expect(describeOperation(bootTickId(bootGroupId(12), guid))).toEqual({ kind: 'boot-tick', target: 'boot-group-12' });
  });

  it('tells a boot\'s own instances from its alarm clocks', () => {
    expect(describeOperation(BOOT_ID)).toEqual({ kind: 'boot' });
    expect(describeOperation(bootGroupId(3))).toEqual({ kind: 'boot-group', target: '3' });
    expect(describeOperation('boot-vm-vm-core')).toEqual({ kind: 'boot-vm', target: 'vm-core' });
  });
});
