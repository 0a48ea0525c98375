// Drives `weft studio` in Debian's Chromium, headless, as a person would use it; host/tests/studio.rs starts the
// studio and checks AWS afterwards. Every check prints "ok: ..." or throws; the last line is JSON for the caller.
//   node browser.cjs URL      (NODE_PATH: .node/node_modules; STUDIO_MANIFEST and STUDIO_TABLE: the rule set's
//                              manifest and queue-name table, edited; STUDIO_SHOTS: where the 1280x800 screenshots go)
"use strict";
const { chromium } = require("playwright-core");
const fs = require("fs");
const http = require("http");

const url = new URL(process.argv[2]);
const shots = process.env.STUDIO_SHOTS;
const EVENT = "fc713fae-8cda-5291-9e2d-a58aba00bf8e"; // an acd.start of the voice sample, in queue "Support (voice)"

function check(condition, what) {
  if (!condition) throw new Error("FAILED: " + what);
  console.log("ok: " + what);
}

function get(path, headers) {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: "127.0.0.1", port: url.port, path, headers }, (response) => {
      let body = "";
      response.on("data", (d) => (body += d));
      response.on("end", () => resolve({ status: response.statusCode, body }));
    });
    request.on("error", reject);
  });
}

const text = (page, selector) => page.$eval(selector, (node) => node.textContent);
const shot = (page, name) => page.screenshot({ path: `${shots}/${name}.png` });

async function refusals() {
  const token = url.searchParams.get("token");
  for (const path of ["/", "/api/state", "/api/event?index=0", "/?token=" + token.slice(0, -1) + "x"]) {
    const answer = await get(path);
    check(answer.status === 403 && answer.body === "", `${path.replace(token.slice(0, -1), "…")} without the token gets a bare 403`);
  }
  const rebound = await get("/api/state?token=" + token, { Host: `weft.example:${url.port}` });
  check(rebound.status === 403 && rebound.body === "", "the token under another host name (DNS rebinding) gets a bare 403");
}

async function verdicts(page) {
  await page.waitForFunction(() => document.querySelector("#count-events b")?.textContent === "29");
  check((await text(page, "#count-written b")) === "27", "27 of the 29 sample events are written");
  check((await text(page, "#count-dropped b")) === "2", "2 are dropped");
  check((await text(page, "#count-dead b")) === "0", "none is dead-lettered");
  await page.selectOption("#filter-verdict", "dropped");
  await page.waitForFunction(() => document.querySelector("#shown").textContent === "2 shown");
  await page.click(".row >> nth=0");
  await page.waitForSelector("#verdict .reason");
  check((await text(page, "#verdict .reason")) === "not a conversation detail event", "a dropped event shows its reason");
  const ids = await page.$$eval(".row", (rows) => rows.map((row) => row.dataset.id));
  await page.keyboard.press("j");
  await page.waitForFunction((id) => document.querySelector(".row.picked")?.dataset.id === id, ids[1]);
  check(ids.length === 2, "j moves to the next event of the list");
  await page.keyboard.press("k");
  await page.waitForFunction((id) => document.querySelector(".row.picked")?.dataset.id === id, ids[0]);
  check(true, "k back to the one before");
  await page.selectOption("#filter-verdict", "");
  await page.keyboard.press("/");
  check(await page.evaluate(() => document.activeElement.id === "search"), "/ goes to the search box");
  await page.keyboard.type(EVENT);
  await page.waitForFunction(() => document.querySelector("#shown").textContent === "1 shown");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector("#verdict pre")?.textContent.includes("queueName"));
  const record = JSON.parse(await text(page, "#verdict pre"));
  check(record._id === EVENT && record.queueName === "Support (voice)", "the event's record, as JSON, has its queue's name");
  await shot(page, "events");
}

async function edit(page) {
  await page.evaluate(() => (window.notReloaded = true));
  const table = process.env.STUDIO_TABLE;
  fs.writeFileSync(table, fs.readFileSync(table, "utf8").replace("Support (voice)", "Support (renamed)"));
  await page.waitForFunction(() => document.querySelector("#verdict pre")?.textContent.includes("Support (renamed)"), null, { timeout: 10000 });
  check(await page.evaluate(() => window.notReloaded === true), "a table edited on disk changes the record on the page without a reload");
  await page.waitForFunction(() => document.querySelector("#count-changed b")?.textContent === "6");
  check(true, "the 6 events of that queue are counted as changed since the last judgement");
  const manifest = process.env.STUDIO_MANIFEST, good = fs.readFileSync(manifest, "utf8");
  fs.writeFileSync(manifest, good.replace('"rules"', '"rulez"'));
  await page.waitForSelector("#load-error:not([hidden])");
  check((await text(page, "#load-error")).includes("loading " + manifest), "a rule set that no longer loads shows the loader's error");
  check((await text(page, "#count-events b")) === "29" && (await text(page, "#verdict pre")).includes("Support (renamed)"), "and the last good verdicts stay");
  fs.writeFileSync(manifest, good);
  await page.waitForSelector("#load-error", { state: "hidden" });
  check(true, "the error goes once the rule set loads again");
}

async function diff(page) {
  await page.keyboard.press("2");
  await page.waitForSelector("#diff-paths");
  const paths = await text(page, "#diff-paths");
  check(paths.includes("builtin:default -> (default): data.queueName"), "the diff against builtin:default names the changed path");
  // The queue names of 6 events, and the records the example's other two rules add for 4 more (one event is both).
  check((await text(page, "#diff-summary")).startsWith("9 of 29 events change"), "and counts the events it changes");
  check(paths.includes("Support (renamed)"), "with the new value beside the old");
  await shot(page, "diff");
  await page.click(`#diff-paths a:text("${EVENT}")`);
  await page.waitForFunction((id) => document.querySelector(".row.picked")?.dataset.id === id && document.querySelector("#verdict pre"), EVENT);
  check(!(await page.isHidden("#page-events")), "an example's link opens its event");
}

async function letters(page) {
  await page.keyboard.press("3");
  await page.waitForFunction(() => document.querySelectorAll(".letter").length === 3);
  const groups = await page.$$eval(".group h3", (hs) => hs.map((h) => h.textContent));
  check(groups.includes("sink · kinesis-rejected · no rule (2)") && groups.includes("parse · invalid-json · no rule (1)"), "dead letters are grouped by stage, class and rule");
  const letter = page.locator(".letter").filter({ hasText: EVENT.slice(0, 8) }).first();
  const id = await letter.getAttribute("data-id");
  await letter.click();
  await page.waitForSelector("#preview pre");
  check((await text(page, "#letter .class")) === "kinesis-rejected", "an opened dead letter shows its class");
  check((await text(page, "#preview pre")).includes("Support (renamed)"), "and what the current rules would write for it");
  await shot(page, "letters");
  await letter.locator("input[type=checkbox]").check();
  await page.click("#letters-redrive");
  await page.waitForFunction(() => document.querySelector("#letters-said").textContent.includes("were written"), null, { timeout: 30000 });
  check((await text(page, "#letters-said")).startsWith("weft redrive: 1 dead letters: 1 were written (1 records)"), "a redrive of one selected letter says what it did");
  await page.waitForFunction(() => document.querySelectorAll(".letter").length === 2);
  check(true, "the others are still on the queue, and the page peeks again to show them");
  return id;
}

(async () => {
  await refusals();
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url.href);
  let redriven;
  try {
    await verdicts(page);
    await edit(page);
    await diff(page);
    redriven = await letters(page);
  } catch (e) {
    await shot(page, "failure");
    console.log("the page when it failed (target/studio/failure.png):\n" + (await page.evaluate(() => document.body.innerText)).slice(0, 3000));
    throw e;
  }
  await page.keyboard.press("4");
  await page.waitForSelector("#status p");
  await shot(page, "status");
  check(errors.length === 0, "the page threw nothing: " + errors.join("; "));
  await browser.close();
  console.log(JSON.stringify({ redriven, event: EVENT }));
})().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
