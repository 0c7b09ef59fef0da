/**
 * Seeding the LCM: every service's code goes into the code share, the topology into the central
 * database. Both are idempotent: unchanged code uploads nothing, an identical topology changes nothing.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CentralDb } from '../functions/cloud/central-db.js';
import type { CodeShare, UploadResult } from '../functions/cloud/code-share.js';
import { KAFKA, type Topology } from '../functions/platform/topology.js';
import { withDependencies } from './service-deps.js';

export interface SeedResult {
  uploads: Array<{ step: string; source: string } & UploadResult>;
  topologyVersion: number;
  topologyChanged: boolean;
  /** VMs of the stored desired state kept although the file does not list them (mergeVms). */
  mergedVms: string[];
}

/** Power states in which a VM still runs (or will) and costs: dropping it would leave it unmanaged. */
const LIVE = /running|starting|unknown/i;

/**
 * VMs the stored desired state has, the new topology drops, and that still run: typically added
 * through POST /api/vms after the last deploy. Re-seeding without them would leave them running
 * and unmanaged, so the seed refuses (or, with mergeVms, keeps them).
 */
export async function droppedLiveVms(db: CentralDb, topology: Topology): Promise<Topology['vms']> {
  const stored = await db.readTopology();
  if (!stored) return [];
  const listed = new Set(topology.vms.map((v) => v.name));
  const dropped = stored.vms.filter((v) => !listed.has(v.name));
  if (dropped.length === 0) return [];
  const records = new Map((await db.listVms()).map((r) => [r.name, r]));
  return dropped.filter((v) => LIVE.test(records.get(v.name)?.powerState ?? 'unknown'));
}

/** Code folders the topology refers to: `<codeRoot>/<source>` for Kafka and each service. */
export function codeFolders(topology: Topology): Array<{ step: string; source: string }> {
  return [
    ...(topology.kafka ? [{ step: KAFKA, source: topology.kafka.source }] : []),
    ...topology.services.map((s) => ({ step: s.name, source: s.source })),
  ];
}

export async function checkCodeFolders(topology: Topology, codeRoot: string): Promise<string[]> {
  const missing: string[] = [];
  for (const { step, source } of codeFolders(topology)) {
    const dir = join(codeRoot, source);
    const ok = await stat(join(dir, 'Dockerfile')).then((s) => s.isFile(), () => false);
    if (!ok) missing.push(`${step}: ${dir}/Dockerfile not found`);
  }
  return missing;
}

export async function seedPlatform(options: {
  topology: Topology;
  codeRoot: string;
  db: CentralDb;
  share: CodeShare;
  onUpload?: (step: string, result: UploadResult) => void;
  /** Keep live VMs the stored desired state has and `topology` drops, instead of refusing. */
  mergeVms?: boolean;
}): Promise<SeedResult> {
  const { codeRoot, db, share } = options;
  let topology = options.topology;
  const missing = await checkCodeFolders(topology, codeRoot);
  if (missing.length > 0) throw new Error(`service code missing under ${codeRoot}:\n  ${missing.join('\n  ')}`);
  await db.ensureSchema();
  // Checked before anything is uploaded: a refused seed changes nothing.
  const live = await droppedLiveVms(db, topology);
  if (live.length > 0 && !options.mergeVms) throw new DroppedVmsError(live.map((v) => v.name));
  if (live.length > 0) topology = { ...topology, vms: [...topology.vms, ...live] };
  await share.ensureShare();
  const uploads: SeedResult['uploads'] = [];
  for (const { step, source } of codeFolders(topology)) {
    // A service's npm dependencies go up with its code (the VMs' builds do not reach the registry).
    const staged = await withDependencies(join(codeRoot, source), step);
    const result = await share.uploadDirectory(staged.dir, source).finally(staged.cleanup);
    options.onUpload?.(step, result);
    uploads.push({ step, source, ...result });
  }
  const { version, changed } = await db.writeTopology(topology);
  return { uploads, topologyVersion: version, topologyChanged: changed, mergedVms: live.map((v) => v.name) };
}

export class DroppedVmsError extends Error {
  constructor(readonly vms: string[]) {
    super(
      `the topology drops VM${vms.length === 1 ? '' : 's'} ${vms.map((v) => `"${v}"`).join(', ')} that the central database has ` +
        '(added through POST /api/vms) and that still run: re-seeding would leave them running and unmanaged. ' +
        'Add them to the topology file, or pass --merge-vms to keep them in the desired state.',
    );
    this.name = 'DroppedVmsError';
  }
}
