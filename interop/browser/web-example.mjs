// Drives the web example (examples/web) as two people would, in Debian's Chromium (headless,
// through playwright-core): tests/tests/web_example.rs serves it and reads the one
// `result {...}` line this prints.
//
//   node web-example.mjs URL SCREENSHOT.png
//
// alice and bob log in from two browser contexts (two browsers' worth of storage), alice over
// WebSocket and bob over WebTransport (`?transport=webtransport`), add and complete items, and
// each sees the other's change arrive (the server calls the page's listener back, across the
// two transports); the activity log is a stream (read by both); a login without a name and an empty item are
// refused with messages the page shows. The screenshot is alice's page at the end (or where a step failed). A failed
// step exits non-zero, naming the step, with both pages' console output.
import { launchChromium } from "./chromium.mjs";

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node web-example.mjs URL SCREENSHOT.png");
  process.exit(2);
}

const browser = await launchChromium();
const consoleLog = [];
let step = "start";
let alice;
try {
  step = "a login without a name is refused, with the server's message";
  alice = await open("alice");
  await alice.locator("#name").press("Enter");
  await alice.locator("#login-error", { hasText: "Give a name to log in" }).waitFor();

  step = "alice logs in over WebSocket, bob over WebTransport";
  await logIn(alice, "alice");
  const bob = await logIn(await open("bob", "?transport=webtransport"), "bob");
  await alice.locator("#transport", { hasText: "WebSocket" }).waitFor();
  await bob.locator("#transport", { hasText: "WebTransport" }).waitFor();

  step = "alice adds an item; bob's page shows it, called back by the server";
  await add(alice, "Buy milk");
  await row(bob, "Buy milk", "added by alice").waitFor();

  step = "bob completes it; alice's page shows it done";
  await row(bob, "Buy milk").getByRole("button", { name: "Done" }).click();
  await row(alice, "Buy milk", "done by bob").waitFor();

  step = "bob adds an item; alice's page shows it";
  await add(bob, "Walk the dog");
  await row(alice, "Walk the dog", "added by bob").waitFor();

  step = "alice adds an empty item; the server's refusal is shown";
  await add(alice, "   ");
  await alice.locator("#error", { hasText: "An item needs a title." }).waitFor();

  step = "the activity log (a stream) and the open items per person (.map()) are current";
  await alice.locator("#activity li", { hasText: "bob added “Walk the dog”" }).waitFor();
  await alice.locator("#people li", { hasText: "bob: 1 open" }).waitFor();
  await bob.locator("#activity li", { hasText: "bob added “Walk the dog”" }).waitFor();
  await bob.locator("#people li", { hasText: "bob: 1 open" }).waitFor();

  step = "read both pages";
  console.log(`result ${JSON.stringify({ alice: await read(alice), bob: await read(bob) })}`);
} catch (error) {
  console.error(`failed at step "${step}": ${error.message}`);
  console.error(consoleLog.length ? consoleLog.join("\n") : "(the pages logged nothing)");
  process.exitCode = 1;
} finally {
  if (alice) await alice.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
  await browser.close();
}

/** The page in a browser context of its own (its own storage, as another browser's). */
async function open(name, query = "") {
  const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  page.on("console", (message) => consoleLog.push(`[${name}] ${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => consoleLog.push(`[${name}] page error: ${error}`));
  await page.goto(new URL(query, url).href);
  return page;
}

async function logIn(page, name) {
  await page.locator("#name").fill(name);
  await page.locator("#name").press("Enter");
  await page.locator("#whoami", { hasText: name }).waitFor();
  return page;
}

async function add(page, title) {
  await page.locator("#title").fill(title);
  await page.locator("#title").press("Enter");
}

/** The row of the item `title`, with `text` in it too. */
function row(page, title, text = "") {
  return page.locator("#todos li", { hasText: title }).filter({ hasText: text });
}

/** What the page shows. */
async function read(page) {
  const texts = (selector) => page.locator(selector).allTextContents();
  return {
    whoami: await page.locator("#whoami").textContent(),
    transport: await page.locator("#transport").textContent(),
    todos: await page.locator("#todos li").evaluateAll((rows) =>
      rows.map((row) => ({
        title: row.querySelector(".title")?.textContent,
        by: row.querySelector(".by")?.textContent,
        done: row.classList.contains("done"),
      })),
    ),
    error: await page.locator("#error").textContent(),
    people: await texts("#people li"),
    activity: await texts("#activity li"),
  };
}
