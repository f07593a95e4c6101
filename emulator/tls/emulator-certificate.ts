/**
 * The certificate behind the emulator's TLS listeners (HTTPS registry, MQTTS, AMQPS), made at start so no key is ever
 * committed. It comes from the `openssl` CLI rather than a JavaScript package: Node's crypto can make key pairs but
 * not X.509 certificates, openssl is on every CI machine of this project (.ci/run installs it), and the alternative
 * (`selfsigned`) would add node-forge, a large pure-JavaScript crypto library, as a dependency of every install for a
 * development-only feature. An EC P-256 key takes a few milliseconds; RSA 2048 would take far longer.
 *
 * The certificate is self-signed and marked as a CA, so a client trusts it by adding exactly this certificate as `ca`
 * for the routed connections (emulator/connect.ts) — nothing is trusted globally and verification stays on. Its
 * subjectAltName lists the hub's and the Event Hub-compatible endpoint's host names, which the clients verify.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

export interface EmulatorCertificate {
  /** PEM private key (kept in memory only). */
  readonly key: string;
  /** PEM certificate, also the CA clients trust. */
  readonly cert: string;
}

/** Long enough for a day-long emulator run; a new certificate is made on every start. */
const VALIDITY_DAYS = 7;

/**
 * Makes a key and a self-signed CA certificate valid for `names` (DNS names or IP addresses).
 * @throws Error naming openssl when the command is missing or fails.
 */
export async function generateEmulatorCertificate(names: readonly string[]): Promise<EmulatorCertificate> {
  if (names.length === 0) throw new RangeError('the certificate needs at least one name');
  const subjectAltName = names.map((name) => (isIP(name) === 0 ? `DNS:${name}` : `IP:${name}`)).join(',');
  const args = [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    String(VALIDITY_DAYS),
    '-subj',
    '/CN=IoT Hub emulator (TwinGuard)',
    '-addext',
    `subjectAltName=${subjectAltName}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,digitalSignature,keyCertSign',
    '-addext',
    'extendedKeyUsage=serverAuth',
    // Both to stdout: the key never touches the disk.
    '-keyout',
    '-',
    '-out',
    '-',
  ];
  const output = await new Promise<string>((resolve, reject) => {
    execFile('openssl', args, { encoding: 'utf8', timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) {
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        reject(
          new Error(
            missing
              ? 'the emulator TLS listeners need the openssl command to make their certificate, and it is not on PATH (install openssl, or start the emulator without TLS: --tls off)'
              : `openssl could not make the emulator certificate: ${stderr.trim() || error.message}`,
          ),
        );
        return;
      }
      resolve(stdout);
    });
  });
  const key = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n?/.exec(output)?.[0];
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/.exec(output)?.[0];
  if (key === undefined || cert === undefined) throw new Error('openssl printed no key and certificate');
  // Fails loudly now rather than at the first handshake if openssl produced something Node cannot read.
  new X509Certificate(cert);
  return { key, cert };
}
