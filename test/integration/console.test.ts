/**
 * The web console in headless Chromium, against a `dynamo dev` cluster under client load and during a scale 3 → 4:
 * the page shows every member and how many partitions each owns (as the ring says), rates of the load, and a
 * rebalance whose progress advances to the end; it loads nothing but its own files and data. Screenshots of each
 * moment are written and their paths printed (see screenshotDir for where, and when they are kept).
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import { join } from "node:path";
import express from "express";
import type { Page } from "playwright-core";
import { DynamoClient } from "../../client/index.js";
import { createConsoleRoutes } from "../../node/console/index.js";
import { REPO_ROOT, TestCluster } from "../helpers/dev-cluster.js";
import { launchBrowser, screenshotDir, type Browser } from "../helpers/browser.js";

const CONFIG = join(REPO_ROOT, "test/integration/fixtures/slow-handoff.yaml");

/** The little of the page's DOM the checks below read, inside the page (the test itself has no DOM types). */
interface PageDocument {
  getElementById(id: string): { textContent: string | null; hidden: boolean; dataset: Record<string, string | undefined> };
  querySelector(selector: string): { getAttribute(name: string): string | null } | null;
}
/** The page's document, for the functions the checks run inside the page. */
declare const document: PageDocument;

interface ClusterView {
  epoch: number;
  members: { id: string; partitions: number }[];
}

describe("web console", function () {
  this.timeout(180_000);
  let cluster: TestCluster;
  let browser: Browser;
  let page: Page;
  let loading = true;
  let load: Promise<void> | undefined;
  const outside: string[] = [];
  const shots = screenshotDir("console");
  let passed = true;

  before(async function () {
    cluster = await TestCluster.start({ nodes: 3, partitions: 32, config: CONFIG });
    const client = new DynamoClient(cluster.clientUrls());
    const value = Buffer.alloc(1000, "c");
    for (let i = 0; i < 1000; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => client.put("default", `key-${i + j}`, value)));
    load = (async () => {
      for (let i = 0; loading; i++) {
        await Promise.all([client.put("default", `load-${i % 200}`, `v${i}`), client.get("default", `key-${i % 1000}`)]).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 20));
      }
      client.close();
    })();
    browser = await launchBrowser();
    page = await browser.context.newPage();
    const origin = new URL(cluster.clientUrls()[0]!).origin;
    page.on("request", (req) => {
      if (!req.url().startsWith(origin)) outside.push(req.url());
    });
  });
  afterEach(function () {
    if (this.currentTest?.state !== "passed") passed = false;
  });
  after(async () => {
    loading = false;
    await load;
    await browser?.close();
    await cluster?.destroy();
    shots.finish(passed);
  });

  async function shot(name: string): Promise<void> {
    const path = join(shots.dir, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    console.log(`    [console] screenshot ${path}`);
  }

  /** Partitions per member as the page's legend shows them. */
  async function pageOwners(): Promise<Record<string, number>> {
    return page.$$eval("#legend li", (items) => Object.fromEntries(items.map((li) => [li.getAttribute("data-owner"), Number(li.getAttribute("data-partitions"))])));
  }

  async function clusterView(): Promise<ClusterView> {
    return (await (await fetch(`${cluster.clientUrls()[0]}/v1/cluster`)).json()) as ClusterView;
  }

  it("shows every member, the partitions each owns as the ring says, and the load's rates", async () => {
    await page.goto(`${cluster.clientUrls()[0]}/ui`);
    assert.ok(page.url().endsWith("/ui/"), `redirected under a slash: ${page.url()}`);
    await page.waitForFunction(() => {
      const d = document;
      return d.getElementById("member-count").textContent === "3" && Number(d.getElementById("ops").textContent) > 0;
    }, undefined, { timeout: 30_000 });
    const view = await clusterView();
    assert.deepEqual(await pageOwners(), Object.fromEntries(view.members.map((m) => [m.id, m.partitions])));
    assert.equal(await page.$$eval("#ring path[data-partition]", (cells) => cells.length), 32, "one ring cell per partition");
    const states = await page.$$eval("#members tbody tr", (rows) => rows.map((r) => r.getAttribute("data-condition")));
    assert.deepEqual(states, ["up", "up", "up"]);
    assert.equal(await page.textContent("#epoch"), String(view.epoch));
    await page.waitForFunction(() => {
      const d = document;
      return (d.querySelector("#rate-chart polyline")?.getAttribute("points") ?? "").split(" ").length >= 2;
    }, undefined, { timeout: 20_000 });
    await shot("1-stable-under-load");
  });

  it("follows a scale 3 → 4: moves on the ring, progress advancing to the end, then four balanced owners", async () => {
    const scaled = await cluster.dev("scale", "4");
    assert.equal(scaled.code, 0, scaled.stderr);
    await page.waitForSelector("#rebalance:not([hidden])", { timeout: 20_000 });
    const seen: number[] = [];
    let shotTaken = false;
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      const moved = await page.evaluate(() => {
        const el = document.getElementById("rebalance");
        return el.hidden ? -1 : Number(el.dataset.moved);
      });
      if (moved < 0) break;
      if (seen.at(-1) !== moved) seen.push(moved);
      if (!shotTaken && moved > 0) {
        assert.ok((await page.$$eval("#ring .move", (marks) => marks.length)) > 0, "moves in flight are marked on the ring");
        assert.ok((await page.$$eval("#moves tbody tr", (rows) => rows.length)) > 0, "and listed");
        await shot("2-during-scale");
        shotTaken = true;
      }
      await page.waitForTimeout(500);
    }
    console.log(`    [console] partitions moved as the page showed them: ${seen.join(" ")}`);
    // Right after the plan is finalized, the serving node may still hold the older ring for a moment while the
    // receivers already report under the new one, and show nothing moved; what counts is the climb up to the end.
    const climb = seen.slice(0, seen.indexOf(Math.max(...seen)) + 1);
    assert.ok(climb.length >= 2 && climb.every((m, i) => i === 0 || m > climb[i - 1]!), `progress advanced: ${seen.join(" ")}`);
    await page.waitForFunction(() => {
      const d = document;
      return d.getElementById("member-count").textContent === "4" && d.getElementById("rebalance").hidden;
    }, undefined, { timeout: 30_000 });
    const owners = await pageOwners();
    assert.deepEqual(Object.values(owners).sort(), [8, 8, 8, 8], JSON.stringify(owners));
    const view = await clusterView();
    assert.deepEqual(owners, Object.fromEntries(view.members.map((m) => [m.id, m.partitions])));
    await shot("3-after-scale");
  });

  it("loads nothing from anywhere else, and says so in its Content-Security-Policy", async () => {
    assert.deepEqual(outside, []);
    const res = await fetch(`${cluster.clientUrls()[0]}/ui/`);
    assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'none'; script-src 'self'/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  });

  it("is off, with a JSON 404, on a node started with --console off, while /v1/node still answers", async () => {
    const app = express().use(
      createConsoleRoutes({
        enabled: false,
        cluster: { self: "n", ring: () => undefined, isUp: () => true, phi: () => 0 },
        token: "t",
        stats: () => ({ id: "n" }) as never,
        phiThreshold: 8,
        log: () => undefined,
      }),
    );
    const server = createServer(app).listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const ui = await fetch(`${base}/ui/`);
      assert.equal(ui.status, 404);
      assert.match(((await ui.json()) as { message: string }).message, /console is turned off/);
      assert.equal((await fetch(`${base}/ui/api/overview`)).status, 404);
      assert.equal(((await (await fetch(`${base}/v1/node`)).json()) as { id: string }).id, "n");
    } finally {
      server.close();
    }
  });
});
