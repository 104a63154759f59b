// Horizon on the novadock cloud, as a person uses it, in Debian's headless
// chromium: log in, launch a busybox instance on "private", see it Active
// with its address, read its console log, type a command into its Console
// tab (the serial console: a shell in the container), stop, start, reboot, pause,
// suspend, snapshot (seen in Images), delete; and the engine's images
// (Admin > Compute > Engine Images, horizon_novadock). One line per step; exits 1 at
// the first failure, with a screenshot and the page's alerts.
//
// Environment: HORIZON_URL (http://127.0.0.1:8080), HORIZON_USER (admin),
// HORIZON_PASSWORD (required), HORIZON_ARTIFACTS
// (./artifacts), HORIZON_NAME (instance name; snapshots get "-snap"),
// HORIZON_IMAGE (busybox), HORIZON_FLAVOR (m1.tiny), HORIZON_NETWORK
// (private), HORIZON_EXPECT_LOG (booted: what the image's command prints),
// HORIZON_ADDR_PREFIX (198.18.: the address the instance must show),
// HORIZON_CHECK_DOCKER (1: also docker exec ... ip addr show eth1 on this host),
// HORIZON_DOCS_PNG (where to copy the instance list screenshot, optional),
// HORIZON_DOCS_CONSOLE_PNG (where to copy the Console tab's screenshot),
// CHROMIUM (/usr/bin/chromium).
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const env = process.env;
const base = (env.HORIZON_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const user = env.HORIZON_USER || 'admin';
const password = env.HORIZON_PASSWORD;
const artifacts = path.resolve(env.HORIZON_ARTIFACTS || path.join(import.meta.dirname, 'artifacts'));
const name = env.HORIZON_NAME || `hz-${Date.now().toString(36)}`;
const snapName = `${name}-snap`;
const imageName = env.HORIZON_IMAGE || 'busybox';
const flavorName = env.HORIZON_FLAVOR || 'm1.tiny';
const networkName = env.HORIZON_NETWORK || 'private';
const expectLog = env.HORIZON_EXPECT_LOG || 'booted';
const addrPrefix = env.HORIZON_ADDR_PREFIX || '198.18.';

if (!password) {
  console.error('HORIZON_PASSWORD is not set');
  process.exit(2);
}
fs.mkdirSync(artifacts, { recursive: true });

const results = [];
let page;

// step NAME FN: runs FN, prints "ok"/"FAIL" with the time it took.
async function step(title, fn) {
  const t0 = Date.now();
  try {
    const detail = await fn();
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    console.log(`ok   ${title} (${secs}s)${detail ? `: ${detail}` : ''}`);
    results.push([title, true]);
  } catch (err) {
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    console.log(`FAIL ${title} (${secs}s): ${err.message.split('\n')[0]}`);
    results.push([title, false]);
    if (page) {
      const shot = path.join(artifacts, `failed-${results.length}.png`);
      await page.screenshot({ path: shot, timeout: 10000 }).catch((e) => console.log(`     (no screenshot: ${e.message.split('\n')[0]})`));
      const alerts = await page.locator('.alert').allInnerTexts().catch(() => []);
      if (alerts.length) console.log(`     page alerts: ${JSON.stringify(alerts)}`);
      console.log(`     screenshot: ${shot}  url: ${page.url()}`);
    }
    throw err;
  }
}

// poll DESCRIPTION FN SECONDS: FN until it returns a truthy value.
async function poll(what, fn, seconds) {
  const end = Date.now() + seconds * 1000;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err.message;
    }
    await page.waitForTimeout(2000);
  }
  throw new Error(`${what}: not within ${seconds}s (last: ${JSON.stringify(last)})`);
}

const instancesUrl = `${base}/project/instances/`;

// The instance's row on Project > Compute > Instances, as text.
async function rowText() {
  await page.goto(instancesUrl);
  const row = page.locator(`tr[data-display="${name}"]`);
  if ((await row.count()) === 0) return null;
  return (await row.first().innerText()).replace(/\s+/g, ' ');
}

async function waitStatus(status, power, seconds) {
  return poll(`${name} ${status}/${power}`, async () => {
    const t = await rowText();
    if (t && /\bError\b/.test(t)) throw new Error(`instance in Error: ${t}`);
    return t && t.includes(` ${status} `) && t.includes(` ${power} `) && / None /.test(t) ? t : null;
  }, seconds);
}

// A row action by its id (instances__row_<uuid>__action_ACTION): the row's
// primary button or an item of its dropdown, then the confirmation dialog
// when Horizon asks for one.
async function rowAction(action) {
  await page.goto(instancesUrl);
  const row = page.locator(`tr[data-display="${name}"]`).first();
  const cell = row.locator('.actions_column');
  const button = cell.locator(`[id$="__action_${action}"]`).first();
  if (!(await button.isVisible())) await cell.locator('.dropdown-toggle').click();
  await button.click();
  const confirm = page.locator('.modal.in .modal-footer .btn-primary, .modal.in .modal-footer .btn-danger').first();
  const alert = page.locator('.alert-success, .alert-info, .alert-danger').first();
  await confirm.or(alert).first().waitFor({ timeout: 30000 });
  if (await confirm.isVisible()) await confirm.click();
  await alert.waitFor({ timeout: 30000 });
  const errors = await page.locator('.alert-danger').allInnerTexts();
  if (errors.length) throw new Error(`Horizon says: ${errors.join(' | ')}`);
}

async function transfer(stepTitle, rowName, again = false) {
  const modal = page.locator('.modal-dialog');
  await modal.locator('.wizard-nav').getByText(stepTitle, { exact: true }).click();
  const allocated = modal.locator('.transfer-allocated tr', { hasText: rowName });
  if ((await allocated.count()) > 0) {
    if (!again) return;
    // Listed as chosen but perhaps lost by the wizard: take it back first.
    await allocated.first().locator('.btn').first().click();
    await allocated.first().waitFor({ state: 'detached', timeout: 10000 });
  }
  const available = modal.locator('.transfer-available tr', { hasText: rowName })
    .filter({ has: page.locator('.btn') });
  await available.first().waitFor({ timeout: 30000 });
  // Exactly this name: "busybox" must not pick "busybox-snap".
  const rows = await available.all();
  for (const r of rows) {
    const cells = await r.locator('td').allInnerTexts();
    if (cells.some((c) => c.trim() === rowName)) {
      await r.locator('.btn').first().click();
      await allocated.first().waitFor({ timeout: 10000 });
      return;
    }
  }
  throw new Error(`no row "${rowName}" under ${stepTitle}`);
}

const userData = fs.mkdtempSync(path.join(os.tmpdir(), 'horizon-test-chromium-'));
const browser = await chromium.launchPersistentContext(userData, {
  executablePath: env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1400, height: 900 },
});
browser.setDefaultTimeout(30000);
page = browser.pages()[0] || (await browser.newPage());

let failed = false;
try {
  await step(`log in as ${user}`, async () => {
    await page.goto(`${base}/auth/login/`);
    await page.fill('#id_username', user);
    await page.fill('#id_password', password);
    await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/auth/login')), page.click('#loginBtn')]);
    return page.url();
  });

  await step(`Images lists ${imageName}`, async () => {
    await page.goto(`${base}/project/images/`);
    const r = page.locator('tr', { has: page.getByRole('link', { name: imageName, exact: true }) }).first();
    await r.waitFor();
    const t = (await r.innerText()).replace(/\s+/g, ' ');
    if (!/Active/.test(t)) throw new Error(`not Active: ${t}`);
    return t.trim();
  });

  await step('Admin > Compute > Hypervisors: a docker host with this machine\'s memory', async () => {
    await page.goto(`${base}/admin/hypervisors/`);
    const r = page.locator('tr', { hasText: 'docker' }).first();
    await r.waitFor();
    const t = (await r.innerText()).replace(/\s+/g, ' ');
    // Hostname, type, RAM used, RAM total, disk used, disk total, instances.
    const sizes = [...t.matchAll(/([\d.]+)\s*(MB|GB|TB)/g)].map((m) => +m[1] * { MB: 2 ** 20, GB: 2 ** 30, TB: 2 ** 40 }[m[2]]);
    const ramTotal = sizes[1];
    if (!ramTotal || Math.abs(ramTotal - os.totalmem()) > 0.1 * os.totalmem()) {
      throw new Error(`RAM total ${ramTotal} is not this machine's ${os.totalmem()}: ${t}`);
    }
    await page.screenshot({ path: path.join(artifacts, 'hypervisors.png') });
    return t.trim();
  });

  await step('Admin > Compute > Engine Images: Glance\'s images in the engine, and the engine\'s own', async () => {
    await page.goto(`${base}/admin/engine_images/`);
    const rows = page.locator('table#engine_images tbody tr');
    await rows.first().waitFor();
    const texts = (await rows.allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    if (!texts.length || /No items to display/.test(texts[0])) throw new Error('no engine image listed');
    // An engine copy of a Glance image links to that Glance image.
    const link = page.locator('table#engine_images tbody tr a[href*="/admin/images/"]').first();
    const glanceId = ((await link.getAttribute('href')) || '').match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/)?.[0];
    if (!glanceId) throw new Error(`no image loaded through Glance: ${texts.join(' | ')}`);
    if (env.HORIZON_CHECK_DOCKER !== '0') {
      // Every tag the engine has is on the page, Glance's copy among them.
      const tags = execFileSync('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}'])
        .toString().split('\n').filter((t) => t && t !== '<none>:<none>');
      if (!tags.includes(`novadock-glance:${glanceId}`)) throw new Error(`novadock-glance:${glanceId} is not in the engine`);
      const missing = tags.filter((tag) => !texts.some((t) => t.includes(tag)));
      if (missing.length) throw new Error(`engine images not listed: ${missing.join(', ')}`);
    }
    await page.screenshot({ path: path.join(artifacts, 'engine-images.png') });
    const own = texts.filter((t) => t.includes('(engine only)')).length;
    return `${texts.length} images (${texts.length - own} from Glance, ${own} the engine's own)`;
  });

  await step(`launch ${name} (${imageName}, ${flavorName}, ${networkName})`, async () => {
    await page.goto(instancesUrl);
    await page.getByRole('link', { name: 'Launch Instance' }).or(page.getByRole('button', { name: 'Launch Instance' }))
      .first().click();
    const modal = page.locator('.modal-dialog');
    await modal.locator('input[name="name"]').waitFor();
    await modal.locator('input[name="name"]').fill(name);
    await modal.locator('.wizard-nav').getByText('Source', { exact: true }).click();
    await transfer('Source', imageName);
    await transfer('Flavor', flavorName);
    await transfer('Networks', networkName);
    const launch = modal.locator('.modal-footer button.finish');
    let tries = 0;
    await poll('the Launch Instance button', async () => {
      if (await launch.isEnabled()) return true;
      // Horizon rebuilds a step's table when late data (quotas, limits)
      // arrives on a loaded machine, dropping the choice made: make it again,
      // as a user would; first what was dropped, then each choice taken back
      // and made again (a row can stay listed as chosen while lost).
      const again = tries++ > 0;
      for (const [title, row] of [['Source', imageName], ['Flavor', flavorName], ['Networks', networkName]]) {
        await transfer(title, row, again);
      }
      return launch.isEnabled();
    }, 60).catch(async (err) => {
      // What the wizard still wants: its steps as listed (a required one
      // carries a "*"), and the flavor step's state.
      const steps = (await modal.locator('.wizard-nav li').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
      await modal.locator('.wizard-nav').getByText('Flavor', { exact: true }).click().catch(() => {});
      await page.screenshot({ path: path.join(artifacts, 'launch-flavor-step.png') }).catch(() => {});
      throw new Error(`${err.message}; wizard steps: ${JSON.stringify(steps)} (flavor step: launch-flavor-step.png)`);
    });
    // Toasts Horizon raised while the wizard loaded (not fatal: the launch
    // decides), e.g. about Glance's metadata definitions.
    const toasts = (await page.locator('.alert-danger').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim()).filter(Boolean);
    await launch.click();
    await modal.waitFor({ state: 'detached', timeout: 30000 });
    if (toasts.length) return `wizard showed: ${JSON.stringify(toasts)}`;
  });

  let address;
  await step('Active, Running, with its address', async () => {
    const t = await waitStatus('Active', 'Running', 180);
    address = (t.match(/\b198\.1[89]\.\d+\.\d+\b/) || [])[0];
    if (!address || !address.startsWith(addrPrefix)) throw new Error(`no ${addrPrefix} address in: ${t}`);
    await page.screenshot({ path: path.join(artifacts, 'instances.png') });
    if (env.HORIZON_DOCS_PNG) fs.copyFileSync(path.join(artifacts, 'instances.png'), env.HORIZON_DOCS_PNG);
    return address;
  });

  let detailUrl;
  await step('instance overview shows eth1\'s address', async () => {
    await page.goto(instancesUrl);
    await page.locator(`tr[data-display="${name}"] a`, { hasText: name }).first().click();
    await page.waitForURL(/\/project\/instances\/[0-9a-f-]{36}\//);
    detailUrl = page.url().split('?')[0];
    const text = await page.locator('.detail').first().innerText();
    if (!text.includes(address)) throw new Error(`${address} not on the overview`);
    const uuid = detailUrl.match(/[0-9a-f-]{36}/)[0];
    // On the compute host itself: the container's eth1 holds that address.
    if (env.HORIZON_CHECK_DOCKER !== '0') {
      const ip = execFileSync('docker', ['exec', `nova-${uuid}`, 'ip', '-4', 'addr', 'show', 'eth1'],
        { encoding: 'utf8', timeout: 20000 });
      if (!ip.includes(`inet ${address}/`)) throw new Error(`eth1 of nova-${uuid} lacks ${address}: ${ip}`);
      return `${uuid}, eth1 inet ${address}`;
    }
    return uuid;
  });

  await step(`console log shows "${expectLog}"`, async () => {
    const got = await poll('the container\'s output in the Log tab', async () => {
      await page.goto(`${detailUrl}?tab=instance_details__log`);
      const pre = page.locator('pre.logs, #instance_details__log pre').first();
      await pre.waitFor({ timeout: 15000 });
      const text = await pre.innerText();
      return text.includes(expectLog) ? text : null;
    }, 60);
    await page.screenshot({ path: path.join(artifacts, 'console-log.png') });
    return JSON.stringify(got.trim().split('\n').slice(-1)[0]);
  });

  await step('Console tab: a shell in the container (serial console)', async () => {
    await page.goto(`${detailUrl}?tab=instance_details__console`);
    // Horizon's serial console page (term.js through nova-serialproxy) in
    // the tab's iframe; the shell's prompt shows once the websocket is open.
    const frame = page.frameLocator('iframe#console_embed');
    const term = frame.locator('.terminal').first();
    await term.waitFor({ timeout: 30000 });
    // term.js pads its rows with no-break spaces.
    const screen = async () => (await term.innerText()).replace(/\u00a0/g, ' ')
      .split('\n').map((l) => l.trimEnd()).join('\n');
    await poll('the shell\'s prompt', async () => /^\/ #/m.test(await screen()), 60);
    await term.click();
    await page.keyboard.type('echo novadock-$((6*7))');
    await page.keyboard.press('Enter');
    // The typed line says $((6*7)): only the shell's answer says 42.
    await poll('the command\'s output', async () => /^novadock-42$/m.test(await screen()), 30);
    await page.screenshot({ path: path.join(artifacts, 'console.png') });
    if (env.HORIZON_DOCS_CONSOLE_PNG) fs.copyFileSync(path.join(artifacts, 'console.png'), env.HORIZON_DOCS_CONSOLE_PNG);
    const lines = (await screen()).split('\n').filter(Boolean);
    return JSON.stringify(lines.slice(-3));
  });

  await step('shut off', async () => {
    await rowAction('stop');
    await waitStatus('Shutoff', 'Shut Down', 120);
  });
  await step('start', async () => {
    await rowAction('start');
    await waitStatus('Active', 'Running', 120);
  });
  await step('soft reboot', async () => {
    await rowAction('soft_reboot');
    await waitStatus('Active', 'Running', 180);
  });
  await step('hard reboot', async () => {
    await rowAction('reboot');
    await waitStatus('Active', 'Running', 120);
  });
  await step('pause and resume', async () => {
    await rowAction('pause');
    await waitStatus('Paused', 'Paused', 60);
    await rowAction('pause');
    await waitStatus('Active', 'Running', 60);
  });
  await step('suspend and resume', async () => {
    await rowAction('suspend');
    await waitStatus('Suspended', 'Suspended', 60);
    await rowAction('suspend');
    await waitStatus('Active', 'Running', 60);
  });

  await step(`snapshot ${snapName}, Active in Images`, async () => {
    await page.goto(instancesUrl);
    const row = page.locator(`tr[data-display="${name}"]`).first();
    await row.getByRole('link', { name: 'Create Snapshot' }).or(row.getByRole('button', { name: 'Create Snapshot' }))
      .first().click();
    const modal = page.locator('.modal-dialog');
    await modal.locator('#id_name').fill(snapName);
    await modal.locator('[type="submit"]').click();
    await page.waitForURL(/\/project\/images/);
    await poll(`${snapName} Active in Images`, async () => {
      await page.goto(`${base}/project/images/`);
      const r = page.locator('tr', { hasText: snapName });
      await r.first().waitFor({ timeout: 15000 });
      const t = await r.first().innerText();
      if (/Error|Killed/i.test(t)) throw new Error(`image: ${t}`);
      return /Active/.test(t) ? t : null;
    }, 300);
    await page.screenshot({ path: path.join(artifacts, 'images.png') });
  });

  await step('delete the instance', async () => {
    await rowAction('delete');
    await poll(`${name} gone`, async () => (await rowText()) === null, 120);
  });

  await step(`delete ${snapName}`, async () => {
    await page.goto(`${base}/project/images/`);
    const r = page.locator('tr', { hasText: snapName }).first();
    await r.locator('.dropdown-toggle').click();
    await r.getByText('Delete Image', { exact: true }).click();
    await page.locator('.modal-footer').getByRole('button', { name: 'Delete Image' }).click();
    await poll(`${snapName} gone`, async () => {
      await page.goto(`${base}/project/images/`);
      await page.locator('tr', { hasText: imageName }).first().waitFor({ timeout: 15000 });
      return (await page.locator('tr', { hasText: snapName }).count()) === 0;
    }, 60);
  });
} catch {
  failed = true;
} finally {
  await browser.close().catch(() => {});
  fs.rmSync(userData, { recursive: true, force: true });
}
const passed = results.filter((r) => r[1]).length;
console.log(`${passed} passed, ${results.length - passed} failed`);
process.exit(failed ? 1 : 0);
