// SPDX-License-Identifier: MIT
// Drives Debian's chromium (headless, never a downloaded browser) through siprec-web: log in,
// filter, open a call, play (duration equals the call's WAV, currentTime advances), seek (a
// Range request answered 206), download through the browser and compare with siprec-export's
// WAV, CSRF rejection, a viewer refused playback, a supervisor places a legal hold (seen on the
// call page) and releases it; screenshots of every page into OUTDIR.
// Usage: node web.js URL LISTENER_PW VIEWER_PW UUID EXPORT_WAV DURATION_S OUTDIR SUPERVISOR_PW
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');

const [url, listenerPw, viewerPw, uuid, exportWav, durationS, outDir, superPw] =
	process.argv.slice(2);
let fails = 0;
function ok(cond, what) {
	console.log((cond ? 'ok - ' : 'not ok - ') + what);
	if (!cond) fails++;
}

async function login(page, user, pw) {
	await page.goto(url + '/login');
	await page.type('#user', user);
	await page.type('#password', pw);
	await Promise.all([page.waitForNavigation(), page.click('#login')]);
}

(async () => {
	const udd = fs.mkdtempSync(path.join(os.tmpdir(), 'siprec-web-chromium-'));
	const dl = fs.mkdtempSync(path.join(os.tmpdir(), 'siprec-web-dl-'));
	const browser = await puppeteer.launch({
		executablePath: '/usr/bin/chromium',
		headless: 'shell',
		userDataDir: udd,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
		       '--disable-background-networking', '--disable-component-update',
		       '--disable-sync', '--autoplay-policy=no-user-gesture-required',
		       '--user-data-dir=' + udd],
	});
	try {
		const page = await browser.newPage();
		await page.setViewport({width: 1200, height: 800});
		const audioStatus = [];
		page.on('response', (r) => {
			if (r.url().includes('/audio?')) audioStatus.push(r.status());
		});

		await login(page, 'lisa', listenerPw);
		ok(new URL(page.url()).pathname === '/calls', 'logged in: on /calls');
		await page.screenshot({path: path.join(outDir, 'web-calls.png'), fullPage: true});

		await page.type('#who', 'alice');
		await Promise.all([page.waitForNavigation(), page.click('#search')]);
		const links = await page.$$eval('a.call', (as) => as.map((a) => a.getAttribute('href')));
		ok(links.includes('/call?id=' + uuid), 'filter "alice" lists the call');
		await page.$eval('#who', (e) => { e.value = ''; });
		await page.type('#who', 'nobody-at-all');
		await Promise.all([page.waitForNavigation(), page.click('#search')]);
		ok((await page.$$('a.call')).length === 0, 'filter "nobody-at-all" lists nothing');

		await page.goto(url + '/calls');
		await Promise.all([page.waitForNavigation(), page.click(`a[href="/call?id=${uuid}"]`)]);
		ok((await page.$('#player')) !== null, 'call page has the audio player');
		const verdicts = await page.$$eval('#files td.verdict', (ts) => ts.map((t) => t.textContent));
		ok(verdicts.length >= 2 && verdicts.every((v) => v === 'ok'),
		   `every file's integrity verdict is ok (${verdicts})`);
		const waves = await page.$$eval('#files svg.wave', (ws) => ws.map((w) =>
			[w.getBoundingClientRect().width, Number(w.dataset.peak)]));
		ok(waves.length === verdicts.length && waves.every(([w, p]) => w === 600 && p > 4000),
		   `a 600-pixel waveform of decoded audio per stream (${JSON.stringify(waves)})`);

		const dur = await page.$eval('#player', (a) => new Promise((res) => {
			if (a.readyState >= 1) return res(a.duration);
			a.addEventListener('loadedmetadata', () => res(a.duration), {once: true});
			a.load();
		}));
		ok(Math.abs(dur - Number(durationS)) < 0.005,
		   `player duration ${dur} s equals the call's ${durationS} s`);

		const played = await page.$eval('#player', (a) => { a.muted = true;
			return a.play().then(() => 'ok', (e) => String(e)); });
		ok(played === 'ok', `play() started (${played})`);
		await page.waitForFunction(() => document.getElementById('player').currentTime > 0.2,
					   {timeout: 10000}).catch(() => {});
		const t1 = await page.$eval('#player', (a) => a.currentTime);
		ok(t1 > 0.2, `currentTime advances while playing (${t1} s)`);
		await page.screenshot({path: path.join(outDir, 'web-call.png'), fullPage: true});

		const target = dur * 0.75;
		const seeked = await page.$eval('#player', (a, t) => new Promise((res) => {
			a.pause();
			a.addEventListener('seeked', () => res(a.currentTime), {once: true});
			a.currentTime = t;
		}), target);
		ok(Math.abs(seeked - target) < 0.05, `seek to ${target.toFixed(3)} s lands at ${seeked} s`);
		ok(audioStatus.includes(206), `the player used Range requests (statuses ${audioStatus})`);

		const cdp = await page.target().createCDPSession();
		await cdp.send('Browser.setDownloadBehavior', {behavior: 'allow', downloadPath: dl});
		await page.click('#download');
		const want = path.join(dl, uuid + '.wav');
		for (let i = 0; i < 200 && !fs.existsSync(want); i++)
			await new Promise((r) => setTimeout(r, 50));
		ok(fs.existsSync(want) && Buffer.compare(fs.readFileSync(want), fs.readFileSync(exportWav)) === 0,
		   'downloaded WAV equals siprec-export\'s');

		const csrf = await page.evaluate(() => fetch('/logout', {method: 'POST',
			body: new URLSearchParams({csrf: '0'.repeat(64)})}).then((r) => r.status));
		ok(csrf === 403, `POST /logout with a forged CSRF token refused (${csrf})`);
		const still = await page.evaluate(() => fetch('/calls', {redirect: 'manual'}).then((r) => r.status));
		ok(still === 200, 'still logged in after the forged POST');

		await page.goto(url + '/status');
		await page.screenshot({path: path.join(outDir, 'web-status.png'), fullPage: true});
		ok((await page.$('#daemon')) !== null, 'status page shows siprecd');

		await Promise.all([page.waitForNavigation(), page.click('nav button')]);
		ok(new URL(page.url()).pathname === '/login', 'logged out with the form (its CSRF token)');
		await page.screenshot({path: path.join(outDir, 'web-login.png')});

		await login(page, 'vic', viewerPw);
		await page.goto(url + '/call?id=' + uuid);
		ok((await page.$('#player')) === null && (await page.$('#noaudio')) !== null,
		   'viewer: call page without a player');
		const vs = await page.evaluate((u) => fetch('/audio?id=' + u).then((r) => r.status), uuid);
		ok(vs === 403, `viewer refused playback (${vs})`);
		await page.screenshot({path: path.join(outDir, 'web-call-viewer.png'), fullPage: true});
		ok((await page.$('#placehold')) === null, 'viewer: no hold form');

		// A supervisor places a legal hold from the call page, sees it, releases it.
		await Promise.all([page.waitForNavigation(), page.click('nav button')]);
		await login(page, 'sue', superPw);
		await page.goto(url + '/call?id=' + uuid);
		ok((await page.$('#noholds')) !== null, 'supervisor: no hold on the call yet');
		await page.type('#case', 'CASE-42');
		await Promise.all([page.waitForNavigation(), page.click('#hold')]);
		ok(new URL(page.url()).pathname === '/call', 'after placing the hold: back on the call page');
		const holds = await page.$$eval('#holds tr.hold', (rs) => rs.map((r) =>
			Array.from(r.cells).map((c) => c.textContent)));
		ok(holds.length === 1 && holds[0][1] === 'session' && holds[0][2] === uuid &&
		   holds[0][3] === 'CASE-42' && holds[0][4] === 'siprec-web:sue',
		   `the call page shows the hold (${JSON.stringify(holds)})`);
		await page.screenshot({path: path.join(outDir, 'web-call-hold.png'), fullPage: true});
		await page.type('#holds tr.hold input[name=reason]', 'case closed');
		await Promise.all([page.waitForNavigation(), page.click('#holds tr.hold button')]);
		ok((await page.$$('#holds tr.hold')).length === 0 && (await page.$('#noholds')) !== null,
		   'the hold is released: gone from the call page');
	} catch (e) {
		ok(false, 'browser run: ' + e);
	} finally {
		await browser.close();
		fs.rmSync(udd, {recursive: true, force: true});
		fs.rmSync(dl, {recursive: true, force: true});
	}
	process.exit(fails ? 1 : 0);
})();
