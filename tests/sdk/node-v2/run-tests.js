// Runs this suite: makes a test CA and a certificate for localhost/127.0.0.1 with openssl
// (as crates/mailroom/tests/it/https.rs does), then `node --test --test-concurrency=1` with
// NODE_EXTRA_CA_CERTS naming the CA. Node reads that variable only when it starts, and the
// v2 SDK talks to mailroom over https only, so the tests run in a child process.
//
//   node run-tests.js [node --test arguments, e.g. a file or --test-name-pattern=…]
//
// The child gets MAILROOM_SDK_V2_TLS_DIR (ca.pem, server.pem, server.key); helper.js serves
// mailroom with that certificate and refuses to run without it. The directory is removed
// when the run ends. The exit code is the child's.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OPENSSL_TIMEOUT_MS = 60_000;

function openssl(dir, args) {
  const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', timeout: OPENSSL_TIMEOUT_MS });
  if (result.error || result.status !== 0) {
    throw new Error(`openssl ${args.join(' ')} failed: ${result.error?.message ?? result.stderr}`);
  }
}

/** ca.pem (the test CA), server.pem and server.key (localhost and 127.0.0.1) in `dir`. */
export function makeCertificates(dir) {
  fs.writeFileSync(path.join(dir, 'ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem',
    '-days', '2', '-subj', '/CN=mailroom v2 SDK test CA']);
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr',
    '-subj', '/CN=localhost']);
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '1',
    '-out', 'server.pem', '-days', '2', '-extfile', 'ext']);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailroom-sdk-node-v2-tls-'));
const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
try {
  makeCertificates(dir);
} catch (e) {
  cleanup();
  console.error(e.message);
  process.exit(1);
}

const args = process.argv.slice(2);
const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...args], {
  cwd: HERE,
  stdio: 'inherit',
  env: {
    ...process.env,
    NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem'),
    MAILROOM_SDK_V2_TLS_DIR: dir,
  },
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}
child.on('error', (e) => {
  cleanup();
  console.error(`cannot run ${process.execPath} --test: ${e.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  cleanup();
  process.exit(code ?? (signal === 'SIGINT' ? 130 : 1));
});
