// A stand-in tile server for tests and demos, with no dependencies: answers /{z}/{x}/{y}.png
// with a real 256×256 PNG (a light colour that changes with x+y, and a 1px darker border, so
// that the tiles can be told apart on a screenshot) and anything else with 404. It prints
// `LISTENING http://127.0.0.1:PORT` first, then `TILE z/x/y` for every tile asked for.
//
// Usage: node scripts/tile_server.mjs [port]   (port 0, the default, takes any free port)
import { createServer } from "node:http";
import { deflateSync } from "node:zlib";

const SIZE = 256;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) {
      c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) {
    c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

// HSL (h in degrees, s and l in 0..1) to 8-bit RGB.
function hsl(h, s, l) {
  const a = s * Math.min(l, 1 - l);
  const f = (n) => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

const PALETTE = 12;
const cache = new Map();

/** The PNG for a tile whose x+y is `sum`: eight-bit RGB, filter 0 on every row. */
function tile(sum) {
  const i = ((sum % PALETTE) + PALETTE) % PALETTE;
  if (cache.has(i)) {
    return cache.get(i);
  }
  const hue = (i * 360) / PALETTE;
  const fill = hsl(hue, 0.45, 0.9);
  const edge = hsl(hue, 0.35, 0.62);
  const row = SIZE * 3 + 1;
  const raw = Buffer.alloc(row * SIZE);
  for (let y = 0; y < SIZE; y++) {
    raw[y * row] = 0;
    for (let x = 0; x < SIZE; x++) {
      const border = x === 0 || y === 0 || x === SIZE - 1 || y === SIZE - 1;
      const [r, g, b] = border ? edge : fill;
      const o = y * row + 1 + x * 3;
      raw[o] = r;
      raw[o + 1] = g;
      raw[o + 2] = b;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(SIZE, 0);
  ihdr.writeUInt32BE(SIZE, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  ihdr[10] = 0; // compression
  ihdr[11] = 0; // filter
  ihdr[12] = 0; // no interlace
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
  cache.set(i, png);
  return png;
}

const TILE_PATH = /^\/(\d{1,2})\/(\d{1,9})\/(\d{1,9})\.png$/;

const server = createServer((req, res) => {
  const path = (req.url || "/").split("?")[0];
  const m = TILE_PATH.exec(path);
  const headers = { "Access-Control-Allow-Origin": "*" };
  if (!m || (req.method !== "GET" && req.method !== "HEAD")) {
    res.writeHead(404, { ...headers, "Content-Type": "text/plain; charset=utf-8" });
    res.end("not found\n");
    return;
  }
  const [z, x, y] = m.slice(1).map(Number);
  const n = 2 ** z;
  if (z > 22 || x >= n || y >= n) {
    res.writeHead(404, { ...headers, "Content-Type": "text/plain; charset=utf-8" });
    res.end("no such tile\n");
    return;
  }
  console.log(`TILE ${z}/${x}/${y}`);
  const body = tile(x + y);
  res.writeHead(200, {
    ...headers,
    "Content-Type": "image/png",
    "Content-Length": body.length,
    "Cache-Control": "public, max-age=3600",
  });
  res.end(req.method === "HEAD" ? undefined : body);
});

const port = Number(process.argv[2] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`usage: node scripts/tile_server.mjs [port]   (not a port: ${process.argv[2]})`);
  process.exit(2);
}
server.listen(port, "127.0.0.1", () => {
  console.log(`LISTENING http://127.0.0.1:${server.address().port}`);
});
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
