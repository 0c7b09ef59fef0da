/**
 * Just enough of Go's text/template for `docker ... --format` / `-f`: `{{.A.B}}`, `{{json .A}}`,
 * `{{.}}`, a `table` prefix (ps/images print a header) and `\t` / `\n` escapes. Values print as
 * Go does: booleans true/false, missing `<no value>`, maps `map[k:v]`, arrays `[a b]`.
 */
function lookup(root: unknown, path: string): unknown {
  if (path === '' || path === '.') return root;
  let v: unknown = root;
  for (const part of path.replace(/^\./, '').split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

export function goPrint(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goPrint).join(' ')}]`;
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b));
    return `map[${entries.map(([k, x]) => `${k}:${goPrint(x)}`).join(' ')}]`;
  }
  return String(v);
}

export function renderTemplate(format: string, data: unknown): string {
  const text = format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  return text.replace(/\{\{-?\s*(json\s+)?(\.[\w.]*)\s*-?\}\}/g, (_m, json: string | undefined, path: string) => {
    const v = lookup(data, path);
    return json ? JSON.stringify(v ?? null) : goPrint(v);
  });
}

/** For `table {{.A}}\t{{.B}}` formats: the header row ("A  B" uppercased like docker). */
export function tableHeader(format: string, headers: Record<string, string>): string {
  return renderTemplate(format, new Proxy({}, { get: (_t, key: string) => headers[key] ?? key.toUpperCase() }));
}
