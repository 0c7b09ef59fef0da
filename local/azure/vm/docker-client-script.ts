/**
 * The `docker` CLI stand-in placed in a VM's sandbox: a small Node script (no TS, so it runs with
 * plain `node`) that forwards argv, cwd and (only when a command reads it) stdin over a Unix socket
 * to the fleet's in-process engine for that VM, then prints the answer and exits with its code.
 * It uses only dynamic import, so it runs whether Node treats the extensionless file as CJS or ESM.
 */
export function dockerClientScript(defaultSock: string): string {
  return `#!/usr/bin/env node
// docker CLI stand-in of an emulated VM (Life Cycle Manager local mode).
const sock = process.env.LCM_VM_DOCKER_SOCK || ${JSON.stringify(defaultSock)};
const args = process.argv.slice(2);
const wantsStdin = args.includes('--password-stdin') || args[0] === 'load' || args.includes('-');
const readStdin = () => new Promise((resolve) => {
  if (!wantsStdin || process.stdin.isTTY) return resolve('');
  let text = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d) => { text += d; });
  process.stdin.on('end', () => resolve(text));
  process.stdin.on('error', () => resolve(text));
});
import('node:net').then(({ connect }) => readStdin().then((stdin) => {
  const chunks = [];
  const conn = connect(sock);
  conn.on('data', (d) => chunks.push(d));
  conn.on('error', () => {
    process.stderr.write('Cannot connect to the Docker daemon at unix://' + sock + '. Is the docker daemon running?\\n');
    process.exitCode = 1;
  });
  conn.on('end', () => {
    let reply;
    try { reply = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { reply = { stdout: '', stderr: 'docker: the emulated engine gave no answer (VM powered off?)\\n', code: 1 }; }
    if (reply.stdout) process.stdout.write(reply.stdout);
    if (reply.stderr) process.stderr.write(reply.stderr);
    process.exitCode = reply.code;
  });
  conn.end(JSON.stringify({ args, cwd: process.cwd(), stdin }) + '\\n');
}));
`;
}
