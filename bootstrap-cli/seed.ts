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
}): Promise<SeedResult> {
  const { topology, codeRoot, db, share } = options;
  const missing = await checkCodeFolders(topology, codeRoot);
  if (missing.length > 0) throw new Error(`service code missing under ${codeRoot}:\n  ${missing.join('\n  ')}`);
  await share.ensureShare();
  const uploads: SeedResult['uploads'] = [];
  for (const { step, source } of codeFolders(topology)) {
    // A service's npm dependencies go up with its code (the VMs' builds do not reach the registry).
    const staged = await withDependencies(join(codeRoot, source), step);
    const result = await share.uploadDirectory(staged.dir, source).finally(staged.cleanup);
    options.onUpload?.(step, result);
    uploads.push({ step, source, ...result });
  }
  await db.ensureSchema();
  const { version, changed } = await db.writeTopology(topology);
  return { uploads, topologyVersion: version, topologyChanged: changed };
}
