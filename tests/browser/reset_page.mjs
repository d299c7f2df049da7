// Drives the service's own password-reset page in a real headless Chromium (playwright-core), with
// JavaScript switched off as a person's locked-down browser may have it: opens the link from the
// mail, types the new password twice, submits, and prints what the browser saw as one JSON line.
//
//   node reset_page.mjs LINK NEW_PASSWORD CHROMIUM_PATH
import { chromium } from "playwright-core";

const [link, password, executablePath] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
try {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  // The Content-Security-Policy reports what it blocks on the console: the page must need nothing blocked.
  const problems = [];
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") problems.push(m.text()); });
  page.on("pageerror", (e) => problems.push(String(e)));
  const opened = await page.goto(link);
  const form = {
    status: opened.status(),
    heading: (await page.textContent("h1")).trim(),
    // The page's own inline style sheet applied (its hash is in the policy): 28rem wide at most.
    maxWidth: await page.$eval("body", (b) => getComputedStyle(b).maxWidth),
  };
  await page.fill("#new_password", password);
  await page.fill("#confirm_password", password);
  const [answer] = await Promise.all([
    page.waitForNavigation(),
    page.click("button[type=submit]"),
  ]);
  const done = {
    status: answer.status(),
    heading: (await page.textContent("h1")).trim(),
    url: page.url(),
  };
  console.log(JSON.stringify({ form, done, problems }));
} finally {
  await browser.close();
}
