// The whole loop through the pages, in headless Chromium (Debian's package) driven by
// playwright-core: a resident reports, a call-taker accepts, a dispatcher dispatches, a
// handler reports back with an "after" photo, a grid worker verifies, and the resident
// evaluates as 不满意, which reopens the case. It also switches the language, checks that a bad
// form keeps what was typed and names the field, and saves screenshots of the main pages.
//
// Usage: node browser_flow.mjs BASE_URL SCREENSHOT_DIR
import { chromium } from "playwright-core";
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const [base, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const PASSWORD = "civicgrid-demo";
// A real 2×2 PNG, so that the server's image check has something true to check.
const png = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGNk+M/AwMDAxMDAwMDAAAANGQEDYq9z6wAAAABJRU5ErkJggg==",
  "base64",
);
const photo = join(shots, "report.png");
writeFileSync(photo, png);
// A different picture for after the handling: the same bytes twice are refused as a duplicate.
const after = join(shots, "after.png");
writeFileSync(after, Buffer.concat([png, Buffer.from([0])]));

let steps = 0;
function check(cond, what) {
  if (!cond) {
    throw new Error(`FAIL: ${what}`);
  }
  steps += 1;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  // A light copy of the first screenful, for docs/screenshots/.
  await page.screenshot({ path: join(shots, `${name}.jpg`), type: "jpeg", quality: 70 });
}

async function staff(username) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.fill("#username", username);
  await page.fill("#password", PASSWORD);
  await page.click("#login-submit");
  await page.waitForURL(/\/work/);
  return { context, page };
}

try {
  // --- The resident reports, on a phone-sized screen. ---
  const resident = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "zh-CN", isMobile: true });
  const r = await resident.newPage();
  await r.goto(`${base}/`);
  check((await r.locator("html").getAttribute("lang")) === "zh-CN", "Chinese is the default");
  await shot(r, "01-home-phone");
  await r.goto(`${base}/report?category=01001`);
  // A bad form first: no description and a longitude that is not a number. The answer names
  // the fields, in Chinese, and keeps what was typed.
  await r.selectOption("#attr-damage", "missing");
  await r.fill("#lon", "东经113");
  await r.fill("#lat", "22.5168");
  await r.click("#submit-report");
  check((await r.locator("#description-error").textContent()).includes("必填"), "missing description is named next to the field");
  check((await r.locator("#lon-error").textContent()).includes("数字"), "a wrong longitude is named next to the field");
  check((await r.inputValue("#lon")) === "东经113", "what was typed is kept");
  check((await r.inputValue("#attr-damage")) === "missing", "the attribute is kept");
  await shot(r, "02-report-errors");
  await r.fill("#description", "安乐社区3号楼旁的上水井盖丢失，晚上很危险");
  await r.fill("#lon", "113.9171");
  await r.fill("#lat", "22.5168");
  await r.fill("#phone", "13800000000");
  await r.setInputFiles("#photos", photo);
  await r.click("#submit-report");
  if (await r.locator("#dup-title").count()) {
    // Nearby reports of the same kind are shown before anything is stored.
    await shot(r, "03-report-duplicates");
    await r.setInputFiles("#photos", photo);
    await r.click("#submit-report");
  }
  await r.waitForURL(/\/receipt\//);
  const code = (await r.locator("#receipt-code").textContent()).trim();
  check(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(code), `a receipt code: ${code}`);
  await shot(r, "04-receipt");
  // The language switch is remembered.
  await r.selectOption("#lang-select", "en");
  await r.click("#lang-switch");
  await r.waitForURL(/\/receipt\//);
  check((await r.locator("h1").textContent()).includes("Your report is in"), "English after the switch");
  await r.goto(`${base}/track/${code}`);
  check((await r.locator("html").getAttribute("lang")) === "en", "the choice is remembered");
  check((await r.locator("#case-status").textContent()).includes("Reported"), "tracked in English");
  await shot(r, "05-track-en");

  // --- A call-taker accepts. ---
  const taker = await staff("calltaker1");
  await taker.page.goto(`${base}/work?queue=accept`);
  await shot(taker.page, "06-workbench-queue");
  await taker.page.click(`a.case-link:text("${code}")`);
  const caseUrl = taker.page.url();
  await taker.page.click("#do-accept");
  await taker.page.waitForLoadState();
  check((await taker.page.locator("#case-status").textContent()).includes("受理"), "accepted");

  // --- A dispatcher dispatches (registering on the way) to the routed unit. ---
  const dispatcher = await staff("dispatcher.st1");
  await dispatcher.page.goto(caseUrl);
  await shot(dispatcher.page, "07-case-page");
  await dispatcher.page.click("#do-dispatch");
  await dispatcher.page.waitForLoadState();
  check((await dispatcher.page.locator("#case-status").textContent()).includes("派遣"), "dispatched");

  // --- The handler starts and reports back with an "after" photo. ---
  const handler = await staff("handler.swjt");
  await handler.page.goto(caseUrl);
  await handler.page.click("#do-start_handling");
  await handler.page.waitForLoadState();
  // A report back without its note is refused, named, and changes nothing.
  await handler.page.click("#do-report_back");
  await handler.page.waitForLoadState();
  check(await handler.page.locator("#action-problem").count() === 1, "a missing note is reported");
  check((await handler.page.locator("#case-status").textContent()).includes("处置"), "still being handled");
  await handler.page.fill("#report_back-note", "已更换新井盖并加装防盗链");
  await handler.page.setInputFiles("#report_back-photo", after);
  await handler.page.click("#do-report_back");
  await handler.page.waitForLoadState();
  check((await handler.page.locator("#case-status").textContent()).includes("已反馈"), "reported back");
  check(await handler.page.locator(".photos img").count() >= 2, "the report photo and the after photo are shown");

  // --- The grid worker verifies on a phone. ---
  const worker = await staff("gw.st1c1.1");
  await worker.page.setViewportSize({ width: 390, height: 844 });
  await worker.page.goto(`${base}/work/field`);
  check((await worker.page.content()).includes(code), "the case waits for the grid worker's check");
  await shot(worker.page, "08-grid-worker-phone");
  await worker.page.goto(caseUrl);
  await worker.page.fill("#verify-note", "现场核实，井盖已更换");
  await worker.page.click("#do-verify");
  await worker.page.waitForLoadState();
  check((await worker.page.locator("#case-status").textContent()).includes("结案"), "closed after the check");

  // --- The resident is not satisfied: the case reopens. Back to Chinese first. ---
  await r.goto(`${base}/track/${code}`);
  await r.selectOption("#lang-select", "zh-CN");
  await r.click("#lang-switch");
  await r.waitForURL(/\/track\//);
  await r.check("input[value=unsatisfied]");
  await r.fill("#comment", "井盖还是会响");
  await r.click("#submit-evaluation");
  await r.waitForURL(/\/track\//);
  const status = await r.locator("#case-status").textContent();
  check(status.includes("处置"), `reopened after 不满意: ${status}`);
  check((await r.content()).includes("重新办理"), "the reopening is on the timeline");
  await shot(r, "09-track-reopened");

  // --- The other main pages, for the record. ---
  const leader = await staff("shiftlead.st1");
  await leader.page.goto(`${base}/dashboard`);
  check(await leader.page.locator("svg.chart").count() >= 2, "the dashboard draws its charts");
  await shot(leader.page, "10-dashboard");
  await leader.page.goto(`${base}/kpi?kind=unit&indicator=resolution_rate`);
  check(await leader.page.locator("#kpi-table").count() === 1, "the assessment table");
  await shot(leader.page, "14-assessment");
  const admin = await staff("admin");
  await admin.page.goto(`${base}/admin`);
  await shot(admin.page, "11-admin");
  const visitor = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const v = await visitor.newPage();
  await v.goto(`${base}/cases`);
  check(!(await v.content()).includes("13800000000"), "no personal data in the public list");
  await shot(v, "12-public-cases");
  await v.goto(`${base}/report?category=01001`);
  await shot(v, "13-report-form");
  console.log(`browser flow: ${steps} checks passed; screenshots in ${shots}`);
} finally {
  await browser.close();
}
