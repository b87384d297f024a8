// End-to-end: a person signs up in headless Chromium, creates a workspace and a read-only
// key, and the key works (and stops working) against the real API.
//
// Starts `andi serve` ($ANDI_BIN, else the newer of target/release/andi and
// target/debug/andi) on a free
// port with a temporary SQLite database, and Debian's /usr/bin/chromium (or $CHROMIUM) with
// a new empty profile. Screenshots go to artifacts/ at the repository root.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const artifacts = join(root, "artifacts");
const work = mkdtempSync(join(tmpdir(), "andi-browser-"));
let server;
let context;
let base;

function andiBinary() {
  if (process.env.ANDI_BIN) return process.env.ANDI_BIN;
  const built = ["release", "debug"]
    .map((profile) => join(root, "target", profile, "andi"))
    .filter((path) => existsSync(path))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (built.length === 0) throw new Error("no andi binary: run `cargo build` first or set ANDI_BIN");
  return built[0];
}

function freePort() {
  return new Promise((ok, fail) => {
    const probe = createServer();
    probe.on("error", fail);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => ok(port));
    });
  });
}

async function waitUntilReady(url, seconds) {
  for (let i = 0; i < seconds * 10; i++) {
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`andi did not become ready at ${url} within ${seconds}s`);
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(andiBinary(), ["serve"], {
    cwd: root,
    env: {
      ...process.env,
      ANDI_LISTEN: `127.0.0.1:${port}`,
      ANDI_POLICY_DIR: join(root, "policies"),
      DATABASE_URL: `sqlite://${join(work, "andi.db")}?mode=rwc`,
      RUST_LOG: "warn",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  await waitUntilReady(base, 30);
  context = await chromium.launchPersistentContext(join(work, "profile"), {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1360, height: 900 },
  });
});

after(async () => {
  await context?.close();
  server?.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
});

function api(method, path, key, body) {
  return fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

test("a new user creates a read-only key in the console, uses it, and revokes it", async () => {
  const page = await context.newPage();

  await page.goto(`${base}/`);
  assert.match(page.url(), /\/sign-up$/, "a fresh install opens on sign-up");
  await page.fill("input[name=email]", "ada@example.com");
  await page.fill("input[name=password]", "correct horse battery staple");
  await page.click("button[type=submit]");
  await page.waitForURL(/\/workspaces$/);

  await page.fill("input[name=name]", "Acme Inc.");
  await page.fill("input[name=handle]", "acme");
  await page.click("text=Create workspace");
  await page.waitForURL(/\/workspaces\/acme\/api-keys$/);

  await page.fill("input[name=name]", "billing-worker");
  await page.check("input[name=permission][value='objects.read']");
  await page.click("text=Create key");
  await page.waitForURL(/\/workspaces\/acme\/api-keys$/);
  const secret = (await page.textContent("[data-secret]")).trim();
  assert.match(secret, /^andi_live_[0-9A-Za-z]+$/, "the page shows the new secret");
  assert.ok(await page.isVisible("text=It will not be shown again"), "with a warning");
  assert.ok(await page.isVisible("button[data-copy]"), "and a copy button");
  await page.screenshot({ path: join(artifacts, "console-api-keys.png"), fullPage: true });

  const read = await api("GET", "/api/objects", secret);
  assert.equal(read.status, 200, "objects.read may list objects");
  const write = await api("POST", "/api/objects", secret, { name: "Invoices" });
  assert.equal(write.status, 403, "but not create one");

  await page.reload();
  assert.equal(await page.locator("[data-secret]").count(), 0, "a reload does not show the secret again");
  assert.equal(await page.textContent(".status"), "active");

  await page.click("a:has-text('Revoke')");
  await page.waitForURL(/\/revoke$/);
  await page.click("button:has-text('Revoke key')");
  await page.waitForURL(/\/workspaces\/acme\/api-keys$/);
  assert.equal(await page.textContent(".status"), "revoked");
  await page.screenshot({ path: join(artifacts, "console-api-keys-revoked.png"), fullPage: true });

  const revoked = await api("GET", "/api/objects", secret);
  assert.equal(revoked.status, 401, "a revoked key is refused at once");
  assert.equal((await revoked.json()).code, "revoked_key");
});
