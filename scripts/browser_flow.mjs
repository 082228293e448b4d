// The whole loop through the pages, in headless Chromium (Debian's package) driven by
// playwright-core: a resident reports, a call-taker accepts, a dispatcher dispatches, a
// handler reports back with an "after" photo, a grid worker verifies, and the resident
// evaluates as 不满意, which reopens the case. It also switches the language, checks that a bad
// form keeps what was typed and names the field, and saves screenshots of the main pages.
// Every page it passes through, and then every other page (anonymously and as each staff
// account of the loop, in Chinese and in English), is checked with axe-core against WCAG 2.1
// A and AA: any serious or critical violation fails the run, after all pages have been seen.
// Each page's violations (every impact) are written to SCREENSHOT_DIR/axe/NAME.json, and a
// count by rule to SCREENSHOT_DIR/axe/summary.json.
//
// Usage: node browser_flow.mjs BASE_URL SCREENSHOT_DIR
import { chromium } from "playwright-core";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
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
// A 4×4 PNG whose checksums hold: the supervision channel decodes and re-encodes photos, so
// it refuses a file that only a browser's lenient decoder would show.
const evidence = join(shots, "evidence.png");
writeFileSync(evidence, Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAHklEQVR4nGM4wWADRwwnNGzgiOFEgA0cMZyosIEjAOhjFAEw0ns2AAAAAElFTkSuQmCC", "base64"));
// A different picture for after the handling: the same bytes twice are refused as a duplicate.
const after = join(shots, "after.png");
writeFileSync(after, Buffer.concat([png, Buffer.from([0])]));

// axe-core, installed next to this script by browser-test.sh.
const axeSource = readFileSync(new URL("node_modules/axe-core/axe.min.js", import.meta.url), "utf8");
const axeDir = join(shots, "axe");
mkdirSync(axeDir, { recursive: true });
const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
const axeFailures = [];
const axeTally = new Map();
const audited = new Set();

// Runs axe on the page as it is now. Serious and critical violations are collected (the run
// fails at the end, with the whole list); every violation is written to axe/NAME.json.
async function audit(page, name) {
  if (audited.has(name)) {
    throw new Error(`FAIL: two pages audited as ${name}`);
  }
  audited.add(name);
  // The pages' Content-Security-Policy (script-src 'self') refuses an inline <script>, which
  // is what addScriptTag({content}) adds, so the source is evaluated through the DevTools
  // protocol instead (as @axe-core/playwright does); the page and its CSP stay as they are.
  if (!(await page.evaluate(() => typeof window.axe === "object"))) {
    await page.evaluate(axeSource);
  }
  const result = await page.evaluate(
    async (tags) => {
      const r = await window.axe.run(document, {
        runOnly: { type: "tag", values: tags },
        resultTypes: ["violations"],
      });
      return { url: r.url, violations: r.violations, incomplete: r.incomplete };
    },
    AXE_TAGS,
  );
  writeFileSync(join(axeDir, `${name.replace(/[^\w.-]+/g, "_")}.json`), JSON.stringify(result, null, 1));
  for (const v of result.violations) {
    const key = `${v.impact} ${v.id}`;
    const t = axeTally.get(key) || { impact: v.impact, rule: v.id, pages: 0, nodes: 0 };
    t.pages += 1;
    t.nodes += v.nodes.length;
    axeTally.set(key, t);
    if (v.impact === "serious" || v.impact === "critical") {
      const first = v.nodes[0] ? v.nodes[0].target.join(" ") : "";
      axeFailures.push(`FAIL: axe ${name}: ${v.id} (${v.nodes.length} nodes): ${first}… [${v.impact}] ${result.url}`);
    }
  }
}

// The verdict of all the audits: the counts by rule, and one failure listing every serious or
// critical violation of every page.
function axeVerdict() {
  const tally = [...axeTally.values()].sort((a, b) => a.rule.localeCompare(b.rule) || a.impact.localeCompare(b.impact));
  writeFileSync(
    join(axeDir, "summary.json"),
    JSON.stringify({ pages: audited.size, violations: tally, failures: axeFailures }, null, 1),
  );
  console.log(`axe: ${audited.size} pages audited (${AXE_TAGS.join(", ")}); results in ${axeDir}`);
  for (const t of tally) {
    console.log(`axe:   ${t.impact} ${t.rule}: ${t.pages} pages, ${t.nodes} nodes`);
  }
  if (axeFailures.length) {
    throw new Error(`${axeFailures.length} serious or critical axe violations:\n${axeFailures.join("\n")}`);
  }
}

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

// Where each demo account lands after signing in: where its work is.
const LANDING = {
  "leader.st1": "/dashboard",
  supervisor: "/dashboard",
  admin: "/admin",
  "gw.st1c1.1": "/work/field",
  "member.st1c1.1": "/my",
  "secretary.st1c1": "/dashboard",
  "volunteer.st1c1": "/",
  "admin.st1c1": "/work",
  "handler.st001-c001": "/work",
};

async function signIn(page, username) {
  await page.goto(`${base}/login`);
  await page.fill("#username", username);
  await page.fill("#password", PASSWORD);
  await page.click("#login-submit");
  await page.waitForURL((u) => !u.pathname.startsWith("/login"));
  const landed = new URL(page.url()).pathname;
  check(landed === (LANDING[username] || "/work"), `${username} lands on ${LANDING[username] || "/work"}, not ${landed}`);
}

async function staff(username, phone = false) {
  const viewport = phone ? { width: 390, height: 844 } : { width: 1280, height: 900 };
  const context = await browser.newContext({ viewport, locale: "zh-CN", isMobile: phone });
  const page = await context.newPage();
  await signIn(page, username);
  return { context, page };
}

// Paths that are not pages (files, form targets, the API): never audited.
const NOT_PAGES = /^\/(logout|lang|static\/|api\/|open311\/|admin\/export\/|party\/export\/|kpi\/export|healthz|readyz|metrics|openapi)|\/photo\/|\/supervision\/work\/[^/]+\/files\/|^\/emergency\/plans\/[^/]+\/export|\/record\.csv$/;

// One page of each kind is enough when crawling: ids, receipt codes and public numbers in a
// path make the same page, and so do query values, except those that choose what the page is
// (a queue, a kind).
function pageKind(href) {
  const u = new URL(href);
  const path = u.pathname
    .split("/")
    .map((s) => (/\d/.test(s) || /^[0-9A-Z-]{8,}$/.test(s) ? "{}" : s))
    .join("/");
  const query = [...u.searchParams.keys()]
    .sort()
    .map((k) => (k === "queue" || k === "kind" ? `${k}=${u.searchParams.get(k)}` : k));
  return `${path}?${query.join("&")}`;
}

// Audits the pages `wanted` (each of them) and, when `crawl`, every other kind of page their
// links lead to (but those `skip` names). Returns the addresses audited, to visit again in the
// other language.
async function auditPages(page, label, wanted, crawl, skip = NOT_PAGES) {
  const origin = new URL(base).origin;
  const kinds = new Set();
  // A path refused once (403) is seen: its other queries are refused alike.
  const refused = new Set();
  const todo = wanted.map((href) => ({ href: new URL(href, base).href, wanted: true }));
  const done = [];
  while (todo.length && done.length < 80) {
    const { href, wanted: must } = todo.shift();
    const u = new URL(href);
    if (
      u.origin !== origin ||
      NOT_PAGES.test(u.pathname) ||
      refused.has(u.pathname) ||
      (!must && (skip.test(u.pathname) || kinds.has(pageKind(href))))
    ) {
      continue;
    }
    kinds.add(pageKind(href));
    let status;
    try {
      status = (await page.goto(href)).status();
    } catch (e) {
      axeFailures.push(`FAIL: axe ${label}: ${href} did not open: ${e.message.split("\n")[0]}`);
      continue;
    }
    // A link that lands on a kind of page already seen (a redirect to the sign-in) is not new.
    if (!must && page.url() !== href && kinds.has(pageKind(page.url()))) {
      continue;
    }
    kinds.add(pageKind(page.url()));
    if (status === 403) {
      refused.add(u.pathname);
    }
    await audit(page, `${label} ${u.pathname}${u.search}${status >= 400 ? ` ${status}` : ""}`);
    done.push(href);
    if (crawl) {
      // Links in the SVG maps too (whose href is not a string).
      const links = await page.$$eval("a[href]", (as) =>
        as.map((a) => new URL(a.getAttribute("href"), document.baseURI).href.split("#")[0]),
      );
      todo.push(...links.map((l) => ({ href: l, wanted: false })));
    }
  }
  if (todo.length) {
    console.log(`axe: ${label}: stopped at ${done.length} pages, with links left to follow`);
  }
  return done;
}

// Every page, through axe: anonymously, then as each staff account of the loop (and two more
// who see other queues), in Chinese (crawling from the pages listed) and then in English (the
// same pages again).
async function auditEverything(code, caseUrl) {
  const visitorPages = async (page) => {
    await page.goto(`${base}/report`);
    const categories = await page.$$eval("#category-pick optgroup", (gs) =>
      gs.map((g) => g.querySelector("option")?.value).filter(Boolean),
    );
    check(categories.length > 0, "the report form offers categories");
    return [
      "/",
      "/report",
      // The first kind in each group, and the one the loop uses.
      ...[...new Set(["01001", ...categories])].map((c) => `/report?category=${c}`),
      "/track",
      `/track/${code}`,
      "/track/ZZZZ-ZZZZ",
      `/receipt/${code}`,
      "/cases",
      "/login",
      "/responsibility",
      "/community",
      "/community/440305001001",
      "/community/440305001001/wish",
      "/services",
      "/applications/track",
    ];
  };
  const staffPages = [
    "/work",
    "/work/field",
    "/dashboard",
    "/kpi",
    "/kpi?kind=unit",
    "/kpi?kind=region",
    "/kpi?kind=grid",
    "/kpi?kind=staff",
    "/kpi?period=nonsense",
    "/kpi/indicators",
    "/admin",
    "/responsibility",
    "/party",
    "/volunteers",
    "/my",
    "/disputes",
    "/applications",
    "/emergency",
    caseUrl,
    "/work/case/00000000-0000-0000-0000-000000000000",
  ];
  const languages = [
    ["zh", "zh-CN", "zh-CN"],
    ["en", "en-US", "en"],
  ];
  let again = null;
  for (const [tag, locale, lang] of languages) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale });
    const page = await context.newPage();
    const wanted = again || (await visitorPages(page));
    const seen = await auditPages(page, `anon-${tag}`, wanted, !again);
    again = again || seen;
    check((await page.locator("html").getAttribute("lang")) === lang, `the pages are in ${lang}`);
    // A wrong password (of nobody's account, so that no one is held up).
    await page.goto(`${base}/login`);
    await page.fill("#username", "nobody-at-all");
    await page.fill("#password", "not-the-password");
    await page.click("#login-submit");
    await page.waitForLoadState();
    check(await page.locator("#login-error").count() === 1, "a wrong password is said");
    await audit(page, `anon-${tag} /login wrong password`);
    await context.close();
  }
  const accounts = ["calltaker1", "dispatcher.st1", "handler.swjt", "gw.st1c1.1", "shiftlead.st1", "admin", "supervisor", "leader.st1", "secretary.st1c1", "member.st1c1.1"];
  for (const username of accounts) {
    again = null;
    for (const [tag, locale] of languages) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale });
      const page = await context.newPage();
      await signIn(page, username);
      // The residents' pages were seen anonymously; signed in they differ only in the header.
      const seen = await auditPages(page, `${username}-${tag}`, again || staffPages, !again, /^\/($|report|track|receipt|cases)/);
      again = again || seen;
      await context.close();
    }
  }
}

try {
  // --- The resident reports, on a phone-sized screen. ---
  const resident = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "zh-CN", isMobile: true });
  const r = await resident.newPage();
  await r.goto(`${base}/`);
  check((await r.locator("html").getAttribute("lang")) === "zh-CN", "Chinese is the default");
  await shot(r, "01-home-phone");
  await audit(r, "flow-01-home-phone");
  await r.goto(`${base}/report?category=01001`);
  await audit(r, "flow-report-form-phone");
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
  await audit(r, "flow-02-report-errors");
  await r.fill("#description", "安乐社区3号楼旁的上水井盖丢失，晚上很危险");
  await r.fill("#lon", "113.9171");
  await r.fill("#lat", "22.5168");
  await r.fill("#phone", "13800000000");
  await r.setInputFiles("#photos", photo);
  await r.click("#submit-report");
  if (await r.locator("#dup-title").count()) {
    // Nearby reports of the same kind are shown before anything is stored.
    await shot(r, "03-report-duplicates");
    await audit(r, "flow-03-report-duplicates");
    await r.setInputFiles("#photos", photo);
    await r.click("#submit-report");
  }
  await r.waitForURL(/\/receipt\//);
  const code = (await r.locator("#receipt-code").textContent()).trim();
  check(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(code), `a receipt code: ${code}`);
  // The evaluation secret is shown this once, with the code.
  const secret = (await r.locator("#reporter-secret").textContent()).trim();
  check(/^[0-9A-Z]{5}-[0-9A-Z]{5}$/.test(secret), `an evaluation secret: ${secret}`);
  await shot(r, "04-receipt");
  await audit(r, "flow-04-receipt");
  // The language switch is remembered.
  await r.selectOption("#lang-select", "en");
  await r.click("#lang-switch");
  await r.waitForURL(/\/receipt\//);
  check((await r.locator("h1").textContent()).includes("Your report is in"), "English after the switch");
  await audit(r, "flow-receipt-en");
  await r.goto(`${base}/track/${code}`);
  check((await r.locator("html").getAttribute("lang")) === "en", "the choice is remembered");
  check((await r.locator("#case-status").textContent()).includes("Reported"), "tracked in English");
  await shot(r, "05-track-en");
  await audit(r, "flow-05-track-en");

  // --- A call-taker accepts. ---
  const taker = await staff("calltaker1");
  await taker.page.goto(`${base}/work?queue=accept`);
  await shot(taker.page, "06-workbench-queue");
  await audit(taker.page, "flow-06-workbench-queue");
  await taker.page.click(`a.case-link:text("${code}")`);
  const caseUrl = taker.page.url();
  await audit(taker.page, "flow-case-calltaker");
  await taker.page.click("#do-accept");
  await taker.page.waitForLoadState();
  check((await taker.page.locator("#case-status").textContent()).includes("受理"), "accepted");
  await audit(taker.page, "flow-case-accepted");

  // --- A dispatcher dispatches (registering on the way) to the routed unit. ---
  const dispatcher = await staff("dispatcher.st1");
  await dispatcher.page.goto(caseUrl);
  await shot(dispatcher.page, "07-case-page");
  await audit(dispatcher.page, "flow-07-case-page");
  await dispatcher.page.click("#do-dispatch");
  await dispatcher.page.waitForLoadState();
  check((await dispatcher.page.locator("#case-status").textContent()).includes("派遣"), "dispatched");
  await audit(dispatcher.page, "flow-case-dispatched");

  // --- The handler starts and reports back with an "after" photo. ---
  const handler = await staff("handler.swjt");
  await handler.page.goto(caseUrl);
  await audit(handler.page, "flow-case-handler");
  await handler.page.click("#do-start_handling");
  await handler.page.waitForLoadState();
  await audit(handler.page, "flow-case-handling");
  // A report back without its note is refused, named, and changes nothing.
  await handler.page.click("#do-report_back");
  await handler.page.waitForLoadState();
  check(await handler.page.locator("#action-problem").count() === 1, "a missing note is reported");
  check((await handler.page.locator("#case-status").textContent()).includes("处置"), "still being handled");
  await audit(handler.page, "flow-case-missing-note");
  await handler.page.fill("#report_back-note", "已更换新井盖并加装防盗链");
  await handler.page.setInputFiles("#report_back-photo", after);
  await handler.page.click("#do-report_back");
  await handler.page.waitForLoadState();
  check((await handler.page.locator("#case-status").textContent()).includes("已反馈"), "reported back");
  check(await handler.page.locator(".photos img").count() >= 2, "the report photo and the after photo are shown");
  await audit(handler.page, "flow-case-reported-back");

  // --- The grid worker verifies on a phone. ---
  const worker = await staff("gw.st1c1.1");
  await worker.page.setViewportSize({ width: 390, height: 844 });
  await worker.page.goto(`${base}/work/field`);
  check((await worker.page.content()).includes(code), "the case waits for the grid worker's check");
  await shot(worker.page, "08-grid-worker-phone");
  await audit(worker.page, "flow-08-grid-worker-phone");
  await worker.page.goto(caseUrl);
  await audit(worker.page, "flow-case-grid-worker-phone");
  await worker.page.fill("#verify-note", "现场核实，井盖已更换");
  await worker.page.click("#do-verify");
  await worker.page.waitForLoadState();
  check((await worker.page.locator("#case-status").textContent()).includes("结案"), "closed after the check");
  await audit(worker.page, "flow-case-closed-phone");

  // --- The resident is not satisfied: the case reopens. Back to Chinese first. ---
  await r.goto(`${base}/track/${code}`);
  await r.selectOption("#lang-select", "zh-CN");
  await r.click("#lang-switch");
  await r.waitForURL(/\/track\//);
  await audit(r, "flow-track-evaluate-phone");
  await r.check("input[value=unsatisfied]");
  await r.fill("#secret", secret);
  await r.fill("#comment", "井盖还是会响");
  await r.click("#submit-evaluation");
  await r.waitForURL(/\/track\//);
  const status = await r.locator("#case-status").textContent();
  check(status.includes("处置"), `reopened after 不满意: ${status}`);
  check((await r.content()).includes("重新办理"), "the reopening is on the timeline");
  await shot(r, "09-track-reopened");
  await audit(r, "flow-09-track-reopened");

  // --- The other main pages, for the record. ---
  const leader = await staff("shiftlead.st1");
  await leader.page.goto(`${base}/dashboard`);
  check(await leader.page.locator("svg.chart").count() >= 2, "the dashboard draws its charts");
  await shot(leader.page, "10-dashboard");
  await audit(leader.page, "flow-10-dashboard");
  await leader.page.goto(`${base}/kpi?kind=unit&indicator=resolution_rate`);
  check(await leader.page.locator("#kpi-table").count() === 1, "the assessment table");
  await shot(leader.page, "14-assessment");
  await audit(leader.page, "flow-14-assessment");
  const admin = await staff("admin");
  await admin.page.goto(`${base}/admin`);
  await shot(admin.page, "11-admin");
  await audit(admin.page, "flow-11-admin");
  const visitor = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const v = await visitor.newPage();
  await v.goto(`${base}/cases`);
  check(!(await v.content()).includes("13800000000"), "no personal data in the public list");
  await shot(v, "12-public-cases");
  await audit(v, "flow-12-public-cases");
  await v.goto(`${base}/report?category=01001`);
  await shot(v, "13-report-form");
  await audit(v, "flow-13-report-form");
  // Words first: the likeliest categories (the model the retraining job learnt from the
  // demo's history when the server started), each one click that keeps the words.
  const words = "小区门口的路灯坏了好几天，晚上一片漆黑，老人走路容易摔倒";
  const describeUrl = `${base}/report?description=${encodeURIComponent(words)}`;
  await v.goto(describeUrl);
  check(await v.locator("#describe").count() === 1, "the report page asks for the words first");
  for (let i = 0; i < 30 && (await v.locator("form.use-category").count()) === 0; i++) {
    await v.waitForTimeout(2000);
    await v.goto(describeUrl);
  }
  check(await v.locator("form.use-category").count() === 3, "three categories are suggested");
  await shot(v, "54-report-suggested-categories");
  await audit(v, "flow-54-report-suggested-categories");
  await v.locator("form.use-category button").first().click();
  await v.waitForLoadState();
  check(new URL(v.url()).searchParams.get("category") !== "", "a suggestion picks the category");
  check((await v.locator("#description").inputValue()) === words, "the words are kept");
  console.log(`browser flow: ${steps} checks passed; screenshots in ${shots}`);

  // --- Party building: a resident's small wish, taken on by a member, confirmed by the
  // resident; a member's visit logged on a phone; a volunteer checking in by the QR code. ---
  const C1 = "440305001001";
  const home = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "zh-CN", isMobile: true });
  const h = await home.newPage();
  await h.goto(`${base}/community/${C1}`);
  check(await h.locator("#board-wishes li").count() > 0, "the community board lists wishes");
  check(!(await h.content()).includes("1390"), "no phone number on the public board");
  await shot(h, "19-community-board-phone");
  await audit(h, "party-board-phone");
  await h.click("#post-wish");
  await h.fill("#wish-title", "想要一副老花镜");
  await h.fill("#wish-description", "看报纸用，+200度");
  await h.click("#wish-submit");
  const wishNumber = (await h.locator("#wish-number").textContent()).trim();
  const wishSecret = (await h.locator("#wish-secret").textContent()).trim();
  check(/^[0-9A-Z]{12}$/.test(wishNumber), `a wish number: ${wishNumber}`);
  await shot(h, "20-wish-receipt-phone");
  await audit(h, "party-wish-receipt-phone");

  const member = await staff("member.st1c1.1", true);
  check(await member.page.locator("#my-households li").count() > 0, "the member sees the households in their care");
  await shot(member.page, "21-my-page-phone");
  await audit(member.page, "party-my-phone");
  await member.page.goto(`${base}/wishes/${wishNumber}`);
  await member.page.click("#wish-claim");
  check((await member.page.locator("#wish-notice").textContent()).includes("已认领"), "the member took the wish on");
  await member.page.fill("#deliver-note", "已把老花镜送到家中");
  await member.page.setInputFiles("#deliver-photo", photo);
  await member.page.click("#wish-deliver");
  check((await member.page.locator("#wish-status").textContent()).includes("待确认"), "delivered, awaiting the resident");
  await audit(member.page, "party-wish-delivered-phone");

  await h.goto(`${base}/wishes/${wishNumber}`);
  await h.fill("#confirm-secret", "WRONGWRONG");
  await h.click("#wish-confirm");
  check(await h.locator("#wish-error").count() === 1, "a wrong code is refused");
  await h.fill("#confirm-secret", wishSecret);
  await h.check("input[name=fulfilled][value=yes]");
  await h.click("#wish-confirm");
  check((await h.locator("#wish-status").textContent()).includes("已实现"), "the resident confirmed the wish");
  await shot(h, "22-wish-fulfilled-phone");
  await audit(h, "party-wish-fulfilled-phone");

  // A visit, logged in the stairwell.
  await member.page.goto(`${base}/my`);
  await member.page.click("#my-households li a >> nth=0");
  await member.page.check("input[name=channel][value=in_person]");
  await member.page.fill("#visit-topics", "独居老人关怀");
  await member.page.fill("#visit-notes", "身体还好，楼道灯坏了");
  await member.page.click("#visit-submit");
  check((await member.page.locator("#visit-notice").textContent()).includes("已记录"), "the visit is logged");
  await shot(member.page, "23-visit-logged-phone");
  await audit(member.page, "party-visit-phone");

  // The organiser makes an activity starting in half an hour; the volunteer signs up and
  // checks in with the QR code's address.
  const secretary = await staff("secretary.st1c1");
  await secretary.page.goto(`${base}/volunteers`);
  await audit(secretary.page, "party-volunteers");
  await shot(secretary.page, "24-volunteers-desktop");
  const soon = new Date(Date.now() + 30 * 60 * 1000);
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
      .formatToParts(soon)
      .map((p) => [p.type, p.value]),
  );
  await secretary.page.fill("#a-title", "文明劝导：电动车规范停放");
  await secretary.page.selectOption("#a-community", C1);
  await secretary.page.fill("#a-place", "社区南门");
  await secretary.page.fill("#a-date", `${parts.year}-${parts.month}-${parts.day}`);
  await secretary.page.fill("#a-time", `${parts.hour}:${parts.minute}`);
  await secretary.page.fill("#a-capacity", "3");
  await secretary.page.click("#a-create");
  await secretary.page.waitForURL(/\/organise$/);
  const checkIn = await secretary.page.locator("#check-in-link").getAttribute("href");
  check(/\/check-in\?token=/.test(checkIn), `the organiser's page carries the check-in address: ${checkIn}`);
  check(await secretary.page.locator(".qr svg").count() === 1, "the organiser's page draws the QR code");
  await audit(secretary.page, "party-organise");
  const organiserPhone = await secretary.context.newPage();
  await organiserPhone.setViewportSize({ width: 390, height: 844 });
  await organiserPhone.goto(secretary.page.url());
  await shot(organiserPhone, "25-organiser-qr-phone");
  const activityUrl = secretary.page.url().replace(/\/organise$/, "");

  const volunteer = await staff("volunteer.st1c1", true);
  await volunteer.page.goto(activityUrl);
  await volunteer.page.click("form[action$='/signup'] button");
  check((await volunteer.page.locator("#activity-notice").textContent()).includes("已报名"), "the volunteer has a place");
  await audit(volunteer.page, "party-activity-phone");
  await volunteer.page.goto(new URL(checkIn, base).href);
  await volunteer.page.click("#check-in-button");
  check((await volunteer.page.locator("#check-in-done").textContent()).includes("已签到"), "checked in by the QR code");
  await shot(volunteer.page, "26-check-in-phone");
  await audit(volunteer.page, "party-check-in-phone");
  await volunteer.page.goto(`${base}/my`);
  await volunteer.page.click("a[href$='/certificate']");
  check((await volunteer.page.locator("h1").textContent()).includes("志愿服务记录证明"), "the volunteer's certificate");
  await shot(volunteer.page, "27-certificate-phone");
  await audit(volunteer.page, "party-certificate-phone");
  await secretary.page.goto(`${base}/party`);
  await shot(secretary.page, "28-party-desktop");
  await audit(secretary.page, "party-admin");
  await secretary.page.goto(`${base}/community/${C1}`);
  await shot(secretary.page, "29-community-board-desktop");
  console.log(`browser flow: party building checked (${steps} checks so far)`);

  // --- Consultation: a resident raises and supports a topic with the household's key, the
  // community puts it on a meeting's agenda, the meeting decides, the decision's case closes
  // in the loop, and the public result shows the progress. ---
  await member.page.goto(`${base}/my`);
  await member.page.click("#my-households li a >> nth=0");
  await member.page.click("#household-key");
  const householdKey = (await member.page.locator("#handed-out").textContent()).trim();
  check(/^[0-9A-Z-]{10,12}$/.test(householdKey), `a household key: ${householdKey}`);
  await audit(member.page, "consult-key-phone");
  await h.goto(`${base}/consultation/${C1}`);
  check(await h.locator("#topics li").count() > 0, "the community's topics are public");
  await audit(h, "consult-region-phone");
  await h.click("#raise-form >> xpath=.. >> summary");
  await h.fill("#topic-title", "楼下增设快递柜");
  await h.fill("#topic-description", "快递堆在门岗，丢件多");
  await h.click("#raise-topic");
  check(await h.locator("#topic-secret").count() === 1, "the resident is given the topic's secret once");
  await h.fill("#household-key", householdKey);
  await h.click("#support");
  check((await h.locator("#topic-supports").textContent()).startsWith("1 "), "the household's support is counted");
  await h.fill("#household-key", householdKey);
  await h.click("#support");
  check(await h.locator("#topic-error").count() === 1, "a household supports once");
  await shot(h, "30-topic-phone");
  await audit(h, "consult-topic-phone");
  const topicPage = h.url().replace(/\/support$/, "");
  const communityAdmin = await staff("admin.st1c1");
  await communityAdmin.page.goto(topicPage);
  await communityAdmin.page.selectOption("#schedule-meeting", { index: 0 });
  await communityAdmin.page.click("#schedule");
  check((await communityAdmin.page.locator("#topic-status").textContent()).includes("已列入议程"), "the topic is on a meeting's agenda");
  await audit(communityAdmin.page, "consult-topic-scheduled");
  await communityAdmin.page.click("#topic-meeting");
  const items = await communityAdmin.page.locator("#decision-item option").count();
  await communityAdmin.page.selectOption("#decision-item", { index: items - 1 });
  await communityAdmin.page.fill("#decision-title", "增设快递柜");
  await communityAdmin.page.fill("#decision-text", "同意在 3 栋北侧增设快递柜，由社区居委会联系快递企业落实。");
  await communityAdmin.page.selectOption("#case-unit", "ST001-C001");
  await communityAdmin.page.fill("#case-description", "联系快递企业在 3 栋北侧安装快递柜");
  await communityAdmin.page.fill("#case-days", "5");
  await communityAdmin.page.click("#decide");
  check((await communityAdmin.page.locator("#meeting-notice").textContent()).includes("决议已记录"), "the meeting records the decision");
  await shot(communityAdmin.page, "31-meeting-desktop");
  await audit(communityAdmin.page, "consult-meeting");
  const resultHref = await communityAdmin.page.locator("#agenda li:last-child .decision a[href^='/results/']").first().getAttribute("href");
  const unitHandler = await staff("handler.st001-c001");
  await unitHandler.page.goto(`${base}${resultHref}`);
  await unitHandler.page.click("a.work-case");
  const decisionCase = unitHandler.page.url();
  await unitHandler.page.click("#do-start_handling");
  await unitHandler.page.waitForLoadState();
  await unitHandler.page.fill("#report_back-note", "快递柜已安装并投入使用");
  await unitHandler.page.click("#do-report_back");
  await unitHandler.page.waitForLoadState();
  check((await unitHandler.page.locator("#case-status").textContent()).includes("已反馈"), "the unit reported back on the decision's case");
  await worker.page.goto(decisionCase);
  await worker.page.fill("#verify-note", "现场核实，快递柜已安装");
  await worker.page.click("#do-verify");
  await worker.page.waitForLoadState();
  check((await worker.page.locator("#case-status").textContent()).includes("结案"), "the decision's case is closed");
  await h.goto(`${base}${resultHref}`);
  check((await h.locator("#result-percent").textContent()).includes("100%"), "the public result shows the progress");
  await shot(h, "32-result-phone");
  await audit(h, "consult-result-phone");
  const desk = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
  const d = await desk.newPage();
  await d.goto(`${base}${resultHref}`);
  await shot(d, "33-result-desktop");
  await d.goto(`${base}/consultation/${C1}`);
  await shot(d, "34-consultation-desktop");
  await audit(d, "consult-region-desktop");
  console.log(`browser flow: consultation checked (${steps} checks so far)`);

  // --- Mediation: a grid worker raises a family dispute on a phone; it starts at the
  // community's committee, which holds a session, writes the agreement, records the
  // signatures, prints it and records a follow-up visit. ---
  const gwm = await staff("gw.st1c1.1", true);
  await gwm.page.goto(`${base}/disputes`);
  await audit(gwm.page, "mediation-list-phone");
  await gwm.page.selectOption("#raise-kind", "family");
  await gwm.page.fill("#raise-summary", "子女赡养费分担意见不一");
  await gwm.page.fill("#applicant-name", "周玉兰");
  await gwm.page.fill("#applicant-phone", "13800138003");
  await gwm.page.fill("#respondent-name", "周志强");
  await gwm.page.fill("#respondent-phone", "13800138004");
  await gwm.page.click("#raise");
  await gwm.page.waitForURL(/\/disputes\/[0-9A-Z]+$/);
  check((await gwm.page.locator("#dispute-tier").textContent()).includes("社区人民调解委员会"), "a family dispute starts at the community's committee");
  await shot(gwm.page, "35-dispute-raised-phone");
  await audit(gwm.page, "mediation-dispute-phone");
  const disputeUrl = gwm.page.url();
  const ca = communityAdmin.page;
  await ca.goto(disputeUrl);
  await ca.fill("#session-place", "社区人民调解室");
  await ca.fill("#session-mediators", "王秀英、李明");
  await ca.fill("#session-record", "双方到场，说明各自收入和照料父母的情况，经调解同意按月分担。");
  await ca.selectOption("#session-outcome", "written");
  await ca.click("#record-session");
  await ca.waitForLoadState();
  await ca.click("#draft-form >> xpath=.. >> summary");
  await ca.fill("#facts", "周玉兰与周志强因父母赡养费分担发生争议。");
  await ca.fill("#terms", "周志强每月 5 日前向父母支付赡养费 1500 元 | 2027-01-05\n周玉兰负责日常照料及就医陪护");
  await ca.click("#draft");
  await ca.waitForLoadState();
  for (const box of await ca.locator("#sign-form input[type=checkbox]").all()) {
    await box.check();
  }
  await ca.click("#sign");
  await ca.waitForLoadState();
  check((await ca.locator("#dispute-status").textContent()).includes("已达成协议"), "the signed agreement binds");
  await ca.click("#agreement-1");
  check(/^[0-9a-f]{64}$/.test((await ca.locator("#agreement-sha256").textContent()).trim()), "the agreement carries its SHA-256");
  check((await ca.locator("#agreement").textContent()).includes("于2027-01-05前履行"), "the agreement names the term's deadline");
  await shot(ca, "36-agreement-desktop");
  await audit(ca, "mediation-agreement");
  await ca.goto(disputeUrl);
  await ca.fill("#follow-note", "首月赡养费已按时支付");
  await ca.click("#follow-up");
  await ca.waitForLoadState();
  check((await ca.locator("#follow-ups").textContent()).includes("已履行"), "the follow-up visit is recorded");
  await shot(ca, "37-dispute-desktop");
  await audit(ca, "mediation-dispute-desktop");
  console.log(`browser flow: mediation checked (${steps} checks so far)`);

  // --- One-stop services: a resident applies without one required material, is told every
  // missing item at once, supplies it, and the application is done and evaluated. ---
  await d.goto(`${base}/services`);
  await shot(d, "38-service-catalogue-desktop");
  await audit(d, "services-catalogue");
  const applicant = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "zh-CN", isMobile: true });
  const s = await applicant.newPage();
  await s.goto(`${base}/services/JZZ-001`);
  await audit(s, "services-item-phone");
  await s.fill("#apply-name", "赵丽华");
  await s.fill("#apply-phone", "13900139001");
  await s.setInputFiles("#file-id_card", photo);
  await s.setInputFiles("#file-photo", photo);
  await s.click("#apply");
  const appNumber = (await s.locator("#application-number").textContent()).trim();
  const appSecret = (await s.locator("#application-secret").textContent()).trim();
  check(appNumber.length >= 10 && appSecret.length >= 10, "the resident is given a number and a secret");
  await audit(s, "services-receipt-phone");
  await ca.goto(`${base}/applications/${appNumber}`);
  check(await ca.locator("#correct-form input[name=item]:checked").count() === 1, "the missing material is ticked for correction");
  check(await ca.locator("#accept").count() === 0, "an incomplete application cannot be accepted");
  await ca.click("#correct");
  await ca.waitForLoadState();
  check((await ca.locator("#application-status").textContent()).includes("待补正"), "corrections are requested");
  await s.goto(`${base}/applications/track`);
  await s.fill("#track-number", appNumber);
  await s.fill("#track-secret", appSecret);
  await s.click("#track");
  check(await s.locator("#corrections li").count() === 1, "the resident sees every missing item at once");
  await s.setInputFiles("#fix-residence", photo);
  await s.click("#resubmit");
  check(await s.locator("#track-notice").count() === 1, "the corrections are sent");
  await ca.goto(`${base}/applications/${appNumber}`);
  check(await ca.locator("#correct-form").count() === 0, "corrections are requested only once");
  await ca.click("#accept");
  await ca.waitForLoadState();
  await ca.fill("#complete-result", "居住证已制作，请到窗口领取");
  await ca.click("#complete");
  await ca.waitForLoadState();
  check((await ca.locator("#application-status").textContent()).includes("已办结"), "the application is done");
  await audit(ca, "services-application-desktop");
  await s.goto(`${base}/applications/track`);
  await s.fill("#track-number", appNumber);
  await s.fill("#track-secret", appSecret);
  await s.click("#track");
  check((await s.locator("#application-result").textContent()).includes("居住证已制作"), "the resident is told the result");
  await s.click("#evaluate");
  check(await s.locator("#track-notice").count() === 1, "the resident evaluates the service");
  await shot(s, "39-application-phone");
  await audit(s, "services-track-phone");
  console.log(`browser flow: one-stop services checked (${steps} checks so far)`);

  // --- Supervision: an anonymous report with a photo, no cookie given; the officer asks a
  // question; the reporter comes back with the receipt and passphrase and answers it. ---
  const whistle = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "zh-CN", isMobile: true });
  const w = await whistle.newPage();
  await w.goto(`${base}/supervision`);
  await audit(w, "supervision-form-phone");
  await w.selectOption("#r-concern", "petty_corruption");
  await w.fill("#r-subject", "办事窗口索要茶水费");
  await w.fill("#r-content", "在社区服务站办理证明时，工作人员要求另付五十元茶水费，不给不办。");
  await w.setInputFiles("#r-file", evidence);
  await w.click("#supervision-submit");
  const wReceipt = (await w.locator("#supervision-receipt").textContent()).trim();
  const wPass = (await w.locator("#supervision-passphrase").textContent()).trim();
  check(wReceipt.replace(/\s/g, "").length === 16 && wPass.length >= 20, "the reporter is given a 16-digit receipt and a passphrase");
  check((await whistle.cookies()).length === 0, "the reporting pages give the reporter no cookie");
  await shot(w, "40-supervision-receipt-phone");
  await audit(w, "supervision-receipt-phone");
  const officer = await staff("supervisor");
  await officer.page.goto(`${base}/supervision/work`);
  await audit(officer.page, "supervision-list");
  await officer.page.click("text=办事窗口索要茶水费");
  await officer.page.waitForLoadState();
  check(await officer.page.locator("a[href*='/files/']").count() === 1, "the officer sees the photo, kept without its metadata");
  await officer.page.fill("#o-text", "请问是哪一天、哪个窗口？");
  await officer.page.click("#officer-message");
  await officer.page.waitForLoadState();
  check((await officer.page.locator("#report-status").getAttribute("data-status")) === "acknowledged", "writing to the reporter acknowledges the report");
  await w.goto(`${base}/supervision`);
  await w.fill("#f-receipt", wReceipt);
  await w.fill("#f-passphrase", wPass);
  await w.click("button:has-text('查看处理情况')");
  await w.waitForLoadState();
  check((await w.locator("#messages").textContent()).includes("哪个窗口"), "the reporter reads the officer's question");
  await w.fill("#m-text", "上周三上午，二号窗口。");
  await w.click("#send-message");
  await w.waitForLoadState();
  check((await w.locator("#messages li").count()) === 2, "the reporter's answer is added");
  check((await whistle.cookies()).length === 0, "still no cookie after following up");
  await shot(w, "41-supervision-follow-up-phone");
  await audit(w, "supervision-follow-up-phone");
  await officer.page.reload();
  check((await officer.page.locator("#messages").textContent()).includes("二号窗口"), "the officer reads the answer");
  await shot(officer.page, "42-supervision-report-desktop");
  await audit(officer.page, "supervision-report-desktop");
  await d.goto(`${base}/lists/power`);
  await shot(d, "43-power-list-desktop");
  await audit(d, "power-list");
  await d.goto(`${base}/notices`);
  await audit(d, "notices");
  console.log(`browser flow: supervision checked (${steps} checks so far)`);

  // --- Emergency: the street leader activates the typhoon plan over four grids, a grid
  // worker acknowledges and reports on a phone, the board shows it; needs, a situation
  // report, lifting, and the after-action record. ---
  const commander = await staff("leader.st1");
  const e = commander.page;
  await e.goto(`${base}/emergency`);
  await audit(e, "emergency-overview");
  await e.fill("#declare-title-field", "台风“摩羯”防御");
  await e.selectOption("#declare-plan", "typhoon");
  await e.selectOption("#declare-level", "IV");
  await e.click("#declare-form details summary >> nth=0");
  for (let i = 0; i < 4; i += 1) {
    await e.check(`#declare-form details >> nth=0 >> input[name=grid] >> nth=${i}`);
  }
  await e.click("#declare-submit");
  await e.waitForURL(/\/emergency\/incidents\/YJ/);
  const boardUrl = e.url();
  // The board reloads itself every 30 s; the reader may stop that (and the flow does, so
  // that no reload lands between its steps).
  check(await e.locator("#auto-refresh").isChecked(), "the board refreshes itself");
  await e.uncheck("#auto-refresh");
  check((await e.locator("#board-level").textContent()).includes("IV"), "the incident is active at level IV");
  check((await e.locator("#fig-acknowledged").textContent()).trim() === "0/4", "four grids, none acknowledged yet");
  await e.selectOption("#level-select", "III");
  await e.click("#level-submit");
  await e.waitForLoadState();
  check((await e.locator("#board-level").textContent()).includes("III"), "raised to III");
  check(await e.locator("#board-notice").count() === 1, "the raise is confirmed");
  await shot(e, "47-emergency-board-desktop");
  await audit(e, "emergency-board-desktop");
  const gw = await staff("gw.st1c1.1", true);
  await gw.page.goto(boardUrl);
  await gw.page.uncheck("#auto-refresh");
  await audit(gw.page, "emergency-board-phone");
  await gw.page.click("#board-mine a >> nth=0");
  await gw.page.waitForURL(/\/grids\//);
  await gw.page.click("#ack-submit");
  await gw.page.waitForLoadState();
  check(await gw.page.locator("#grid-acked").count() === 1, "the grid worker acknowledged");
  await gw.page.fill("#report-households", "35");
  await gw.page.fill("#report-transferred", "3");
  await gw.page.fill("#report-needs", "3栋201独居老人需转移 #助老");
  await gw.page.click("#report-submit");
  await gw.page.waitForLoadState();
  check(await gw.page.locator("#grid-notice").count() === 1, "the grid report is recorded");
  check((await gw.page.locator("#grid-state").textContent()).includes("已报告"), "the grid shows as reported");
  await shot(gw.page, "48-emergency-grid-phone");
  await audit(gw.page, "emergency-grid-phone");
  await e.goto(boardUrl);
  check((await e.locator("#fig-reported").textContent()).trim() === "1/4", "the board shows the report");
  check((await e.locator("#fig-households").textContent()).trim() === "35", "and its households");
  check(await e.locator("#board-grids li.state-reported").count() === 1, "one grid coloured as reported");
  check((await e.locator("#board-needs").textContent()).includes("独居老人"), "the need is on the board");
  await e.click("#board-needs button[value=need_call] >> nth=0");
  await e.waitForLoadState();
  check((await e.locator("#board-notice").textContent()).includes("志愿者"), "the need became a volunteer call");
  await e.fill("#sitrep-text", "已启动Ⅲ级响应，南联社区第1网格排查35户，转移3人。");
  await e.click("#sitrep-submit");
  await e.waitForLoadState();
  check((await e.locator("#board-latest").textContent()).includes("1"), "the situation report is the latest");
  await shot(e, "49-emergency-board-updated");
  await gw.page.goto(boardUrl);
  await shot(gw.page, "50-emergency-board-phone");
  await e.fill("#lift-reason", "台风已过境");
  await e.click("#lift-submit");
  await e.waitForLoadState();
  await e.click("text=复盘记录");
  await e.waitForURL(/\/record$/);
  check(await e.locator("#record-silent li").count() === 3, "three grids never acknowledged");
  check((await e.locator("#record-timeline").textContent()).includes("解除响应"), "the record's timeline ends with the lifting");
  await shot(e, "51-emergency-record");
  await audit(e, "emergency-record");
  console.log(`browser flow: emergency checked (${steps} checks so far)`);

  // --- Every other page, through axe: anonymously and as each account above, both languages. ---
  await auditEverything(code, caseUrl);
  axeVerdict();
} finally {
  await browser.close();
}
