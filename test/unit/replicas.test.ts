/** Where each replica runs now (currentPlacements): what the watchdog checks and `logs` reads. */
import { describe, expect, it } from 'vitest';
import { currentPlacements, placements } from '../../functions/platform/replicas.js';

const spec = { name: 'mon', vm: 'vm-a', vms: ['vm-a', 'vm-b'], port: 8300, replicas: 3 };

describe('currentPlacements', () => {
  it('nothing registered: every desired place (round robin over the VMs)', () => {
    expect(currentPlacements(spec, [])).toEqual(placements(spec).map((p) => ({ ...p, registered: false })));
    expect(currentPlacements(spec, []).map((p) => `${p.replica}:${p.vm}/${p.container}:${p.port}`)).toEqual(['0:vm-a/mon:8300', '1:vm-b/mon:8300', '2:vm-a/mon-r1:8301']);
  });

  it('a registered container at its desired place keeps the port it is registered on', () => {
    const got = currentPlacements(spec, [{ vm: 'vm-b', container: 'mon', replica: 1, port: 8310 }]);
    expect(got[1]).toEqual({ service: 'mon', replica: 1, vm: 'vm-b', container: 'mon', port: 8310, registered: true });
    expect(got[0]).toEqual({ ...placements(spec)[0], registered: false });
  });

  it('a replica registered elsewhere (a move not switched yet) is followed there; once the target is registered too, the target', () => {
    const moving = { name: 'mon', vm: 'vm-c', port: 8300 };
    const old = { vm: 'vm-a', container: 'mon', replica: 0, port: 8300 };
    expect(currentPlacements(moving, [old])).toEqual([{ service: 'mon', replica: 0, vm: 'vm-a', container: 'mon', port: 8300, registered: true }]);
    expect(currentPlacements(moving, [old, { vm: 'vm-c', container: 'mon', replica: 0, port: 8300 }])).toEqual([{ service: 'mon', replica: 0, vm: 'vm-c', container: 'mon', port: 8300, registered: true }]);
  });

  it('replicas the desired state dropped are not listed, even while still registered', () => {
    const one = { ...spec, replicas: 1 };
    const got = currentPlacements(one, [
      { vm: 'vm-a', container: 'mon', replica: 0, port: 8300 },
      { vm: 'vm-b', container: 'mon', replica: 1, port: 8300 },
    ]);
    expect(got.map((p) => p.replica)).toEqual([0]);
  });
});
