// SPDX-License-Identifier: MIT
// An S3-compatible server on loopback for tests/integration/s3.sh: s3rver (a file-backed S3
// API) with one bucket, in front of which this file checks AWS Signature Version 4 the way
// AWS does (s3rver accepts any v4 signature), so a request signed wrongly, with another
// secret or an unsigned payload hash fails here as it would in production. With a SESSION_TOKEN
// (temporary credentials) every request must carry it, signed, in X-Amz-Security-Token.
// Virtual-hosted requests come to BUCKET.s3.localhost (curl resolves *.localhost to loopback);
// each request's method, Host and path is printed, so a test sees which style came.
// Usage: node server.js DIR ADDRESS PORT BUCKET ACCESS_KEY_ID SECRET [SESSION_TOKEN]
'use strict';
const crypto = require('crypto');
const S3rver = require('s3rver');

const [dir, address, port, bucket, keyId, secret, token] = process.argv.slice(2);
if (!secret) {
	console.error('usage: node server.js DIR ADDRESS PORT BUCKET ACCESS_KEY_ID SECRET');
	process.exit(2);
}

const hmac = (key, s) => crypto.createHmac('sha256', key).update(s).digest();
const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');
// RFC 3986 unreserved characters stay; everything else is %XX (AWS's UriEncode).
const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

function deny(ctx, code, message) {
	ctx.status = 403;
	ctx.type = 'application/xml';
	ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
}

async function sigv4(ctx, next) {
	console.log(`${ctx.method} ${ctx.host} ${ctx.path}`);
	const auth = ctx.get('authorization');
	const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
	if (!m)
		return deny(ctx, 'AccessDenied', 'no SigV4 Authorization header');
	const [, id, date, region, signed, signature] = m;
	if (id !== keyId)
		return deny(ctx, 'InvalidAccessKeyId', 'unknown access key id');
	const amzDate = ctx.get('x-amz-date');
	const payload = ctx.get('x-amz-content-sha256');
	const names = signed.split(';');
	if (!amzDate.startsWith(date) || !payload || !names.includes('host') ||
	    !names.includes('x-amz-content-sha256') || !names.includes('x-amz-date'))
		return deny(ctx, 'AccessDenied', 'host, x-amz-date and x-amz-content-sha256 must be signed');
	if (token && (ctx.get('x-amz-security-token') !== token || !names.includes('x-amz-security-token')))
		return deny(ctx, 'InvalidToken', 'the security token is missing, unsigned or not the current one');
	const [rawPath, rawQuery = ''] = ctx.req.url.split('?');
	const path = rawPath.split('/').map((p) => enc(decodeURIComponent(p))).join('/');
	const query = rawQuery ? rawQuery.split('&').map((kv) => {
		const [k, v = ''] = kv.split('=');
		return [enc(decodeURIComponent(k)), enc(decodeURIComponent(v))];
	}).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1))
		.map(([k, v]) => `${k}=${v}`).join('&') : '';
	const headers = names.map((h) => `${h}:${String(ctx.get(h)).trim().replace(/\s+/g, ' ')}\n`).join('');
	const canonical = [ctx.method, path, query, headers, signed, payload].join('\n');
	const scope = `${date}/${region}/s3/aws4_request`;
	const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
	const key = hmac(hmac(hmac(hmac('AWS4' + secret, date), region), 's3'), 'aws4_request');
	const want = hmac(key, toSign).toString('hex');
	if (!crypto.timingSafeEqual(Buffer.from(want), Buffer.from(signature)))
		return deny(ctx, 'SignatureDoesNotMatch', 'the request signature does not match');
	// s3rver only knows its own dummy account: the request goes on signed as it.
	await next();
}

const server = new S3rver({
	address,
	port: Number(port),
	directory: dir,
	silent: true,
	allowMismatchedSignatures: true,
	serviceEndpoint: 'localhost',
	configureBuckets: [{ name: bucket }],
});
server.middleware.unshift(sigv4);
server.run().then(({ address: a, port: p }) => {
	console.log(`listening ${a}:${p}`);
}, (e) => {
	console.error(e);
	process.exit(1);
});
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
