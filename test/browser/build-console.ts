/**
 * Global setup of the browser project: builds the console from its current sources with the
 * project's Vite (so the tests never drive a stale build), and checks that Chromium is there.
 */
import { existsSync } from 'node:fs';
import { buildConsole } from '../../infra/local/console.js';
import { CHROMIUM } from './support.js';

export async function setup(): Promise<void> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); .ci/run does`);
  await buildConsole();
}
