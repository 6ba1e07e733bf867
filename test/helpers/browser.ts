/**
 * Headless Chromium for the console's tests: Debian's /usr/bin/chromium driven by playwright-core (which downloads no
 * browser of its own), with a fresh profile and every background network feature off, so the only requests the
 * browser makes are the page's own. When Chromium is missing the launch fails with the command that installs it.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

export const CHROMIUM = process.env.DYNAMO_CHROMIUM ?? "/usr/bin/chromium";

const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not installed at ${CHROMIUM}: apt-get install chromium (.ci/run does this), or set DYNAMO_CHROMIUM`);
  const profile = mkdtempSync(join(tmpdir(), "dynamo-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 860 },
    timeout: 60_000,
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Where screenshots go: DYNAMO_TEST_OUTPUT, kept, else a directory under the system's temporary directory, which
 * `finish` removes when every test passed (every run would otherwise leave one behind) and keeps, saying where, when
 * one failed, for a look at what the page showed.
 */
export function screenshotDir(name: string): { dir: string; finish: (passed: boolean) => void } {
  const kept = process.env.DYNAMO_TEST_OUTPUT;
  const dir = kept ? join(kept, name) : mkdtempSync(join(tmpdir(), `dynamo-${name}-`));
  mkdirSync(dir, { recursive: true });
  return {
    dir,
    finish: (passed) => {
      if (kept) return;
      if (passed) rmSync(dir, { recursive: true, force: true });
      else console.log(`    screenshots kept in ${dir}`);
    },
  };
}
