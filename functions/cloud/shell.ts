/**
 * Quoting for values that reach a POSIX shell (bash, sh) on a VM. Every value from the topology,
 * the share or an API request goes through `shellQuote` before it joins a command line, so no
 * value can add a word, a redirection or a command.
 */

/**
 * One shell word holding exactly `value`: single quotes, with each `'` written as `'\''`
 * (close, escaped quote, reopen). Inside single quotes the shell interprets nothing, so `$`, `` ` ``,
 * `\`, `!`, newlines and globs stay literal. NUL cannot be passed to a command and is refused.
 */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new Error('shellQuote: the value contains a NUL byte, which no shell argument can carry.');
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A command line from words, each quoted: `shellCommand(['mkdir', '-p', dir])`. */
export function shellCommand(words: readonly string[]): string {
  return words.map(shellQuote).join(' ');
}
