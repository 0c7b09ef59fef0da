/**
 * Redaction of known secret values from text shown to people (a service's log fetched on demand):
 * every occurrence of a value becomes `[redacted SETTING]`. Longer values first, so a value that
 * contains another is replaced whole. Pure: the caller reads the values.
 */
export interface KnownSecret {
  /** The app setting that holds it (shown instead of the value). */
  setting: string;
  value: string;
}

/** Values shorter than this are not redacted: they would mangle ordinary text and protect nothing. */
const MIN_LENGTH = 6;

export function redactSecrets(text: string, secrets: readonly KnownSecret[]): string {
  const usable = secrets.filter((s) => s.value.length >= MIN_LENGTH).sort((a, b) => b.value.length - a.value.length);
  let out = text;
  for (const { setting, value } of usable) {
    for (const form of new Set([value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)])) {
      out = out.split(form).join(`[redacted ${setting}]`);
    }
  }
  return out;
}
