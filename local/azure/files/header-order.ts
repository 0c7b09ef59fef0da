/**
 * The order of canonicalized `x-ms-*` headers in a SharedKey string-to-sign. The storage service
 * sorts them with .NET's en-US culture-aware comparison (hyphens and apostrophes are ignored at the
 * first level), not by code unit, and @azure/storage-common imitates it with three weight tables.
 * We rebuild the same tables (non-zero entries only) so the signature we compute matches the
 * SDK's for every header set, e.g. `x-ms-file-id` vs `x-ms-fileattr`.
 */
const LEVEL0_LETTERS = [
  0xe02, 0xe09, 0xe0a, 0xe1a, 0xe21, 0xe23, 0xe25, 0xe2c, 0xe32, 0xe35, 0xe36, 0xe48, 0xe51, 0xe70,
  0xe7c, 0xe7e, 0xe89, 0xe8a, 0xe91, 0xe99, 0xe9f, 0xea2, 0xea4, 0xea6, 0xea7, 0xea9,
];
const LEVEL0_DIGITS = [0xd03, 0xd1a, 0xd1c, 0xd1e, 0xd20, 0xd22, 0xd24, 0xd26, 0xd28, 0xd2a];
const LEVEL0_SYMBOLS: Record<number, number> = {
  33: 0x71c, 35: 0x71f, 36: 0x721, 37: 0x723, 38: 0x725, 42: 0x72d, 43: 0x803, 46: 0x733,
  94: 0x743, 95: 0x744, 96: 0x748, 124: 0x74c, 126: 0x750,
};

function buildTables(): Uint32Array[] {
  const lv0 = new Uint32Array(128);
  const lv2 = new Uint32Array(128);
  const lv4 = new Uint32Array(128);
  for (const [code, weight] of Object.entries(LEVEL0_SYMBOLS)) lv0[Number(code)] = weight;
  LEVEL0_DIGITS.forEach((w, i) => (lv0[48 + i] = w));
  LEVEL0_LETTERS.forEach((w, i) => {
    lv0[65 + i] = w;
    lv0[97 + i] = w;
    lv2[65 + i] = 0x12; // upper case differs from lower case only at the second level
  });
  lv4[39] = 0x8012; // apostrophe
  lv4[45] = 0x8212; // hyphen
  return [lv0, lv2, lv4];
}

const TABLES = buildTables();

function weight(level: number, s: string, i: number): number {
  if (i >= s.length) return 0x1; // end-of-string marker
  const code = s.charCodeAt(i);
  return code < 128 ? TABLES[level]![code]! : 0;
}

function isLessThan(lhs: string, rhs: string): boolean {
  let level = 0;
  let i = 0;
  let j = 0;
  while (level < TABLES.length) {
    if (level === TABLES.length - 1 && i !== j) return i > j;
    const w1 = weight(level, lhs, i);
    const w2 = weight(level, rhs, j);
    if (w1 === 0x1 && w2 === 0x1) {
      i = 0;
      j = 0;
      level++;
    } else if (w1 === w2) {
      i++;
      j++;
    } else if (w1 === 0) {
      i++;
    } else if (w2 === 0) {
      j++;
    } else {
      return w1 < w2;
    }
  }
  return false;
}

/** Sort comparator for lower-cased header names, as the storage service orders them. */
export function compareHeaderNames(lhs: string, rhs: string): number {
  return isLessThan(lhs, rhs) ? -1 : 1;
}
