/**
 * Saves and loads emulator state as one JSON document with one device per line (so large fleets stream
 * out without building a giant string). Writes go to a temp file renamed into place, so a crash never
 * leaves a half-written state file.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { dirname } from 'node:path';
import type { ConfigurationsSnapshot } from './configurations/configuration-store';
import type { DeviceSnapshot } from './registry/device-snapshot';
import type { HubRegistry } from './registry/hub-registry';

export const STATE_FORMAT = 'twinguard-iothub-emulator/1';

/** Hub-level state that must survive restarts (keys, so saved connection strings keep working). */
export interface HubStateHeader {
  format: typeof STATE_FORMAT;
  hubName: string;
  policies: Array<{ keyName: string; primaryKey: string; secondaryKey: string }>;
  counters: { nextSeq: number; etagCounter: string };
  /** Automatic configurations (absent in files written before they were emulated). */
  configurations?: ConfigurationsSnapshot;
}

/**
 * Writes `header` and every device of `registry` to `file` atomically (temp file + rename), creating the
 * file's directory if needed. The registry should not change meanwhile (the CLI stops the emulator first).
 */
export async function saveState(file: string, header: Omit<HubStateHeader, 'format' | 'counters'>, registry: HubRegistry): Promise<void> {
  // Without this a missing directory surfaced only at exit, after the whole session's state was built.
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const out = createWriteStream(temp, { encoding: 'utf8' });
  const write = async (text: string): Promise<void> => {
    if (!out.write(text)) await once(out, 'drain');
  };
  try {
    const fullHeader: HubStateHeader = { format: STATE_FORMAT, ...header, counters: registry.counters() };
    await write(`{"header":${JSON.stringify(fullHeader)},\n"devices":[`);
    let first = true;
    for (const device of registry.snapshot()) {
      await write(`${first ? '\n' : ',\n'}${JSON.stringify(device)}`);
      first = false;
    }
    await write('\n]}\n');
    out.end();
    await once(out, 'finish');
    await rename(temp, file);
  } catch (error) {
    out.destroy();
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * Reads a state file written by {@link saveState} line by line and restores it into an empty registry.
 * @returns the header (hub name and policy keys), or undefined when the file does not exist.
 */
export async function loadState(file: string, registry: HubRegistry): Promise<HubStateHeader | undefined> {
  // events.once rejects when 'error' fires first, so a missing file surfaces as a rejection here.
  const input = createReadStream(file, { encoding: 'utf8' });
  try {
    await once(input, 'open');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let header: HubStateHeader | undefined;
  const devices: DeviceSnapshot[] = [];
  for await (const rawLine of createInterface({ input, crlfDelay: Infinity })) {
    const line = rawLine.endsWith(',') ? rawLine.slice(0, -1) : rawLine;
    if (line.startsWith('{"header":')) {
      header = (JSON.parse(`${line}}`) as { header: HubStateHeader }).header;
    } else if (line.startsWith('{')) {
      devices.push(JSON.parse(line) as DeviceSnapshot);
    }
  }
  if (!header || header.format !== STATE_FORMAT) throw new Error(`${file} is not an emulator state file (${STATE_FORMAT})`);
  registry.restore(devices, header.counters);
  return header;
}
