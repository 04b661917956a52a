/**
 * The ingest layer's pure parts: ffmpeg argument builders per source kind, URL redaction, the
 * frame reader's cutting of a byte stream at any chunk boundary, backoff, the watchdog's state
 * machine, ffmpeg stderr classification, version and probe parsing.
 */
import { describe, test } from 'node:test';
import { RateMeter } from '../../src/common/rate-meter.js';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { ALLOWED_SCHEMES, cameraUrlProblem, ffmpegArgs, fitWithin, inputArgs, outputArgs, outputFps, sourceKind, type FfmpegFlavour } from '../../src/ingest/ffmpeg-args.js';
import { redactText, redactUrl, urlSecrets } from '../../src/common/redact.js';
import { parseFfmpegVersion, rtspTimeoutOptionFor } from '../../src/ingest/ffmpeg.js';
import { SlotPool } from '../../src/common/slot-pool.js';
import type { Frame } from '../../src/common/frame.js';
import { FrameReader } from '../../src/ingest/frame-reader.js';
import { parseFfmpegDuration, parseFfmpegStreamInfo, parseFfprobeDuration, parseFfprobeJson, parseRate, probeArgs } from '../../src/ingest/probe.js';
import { classifyStderr, noVideoProblem, type ProblemContext, type StreamProblem } from '../../src/ingest/stream-problem.js';
import { DEFAULT_BACKOFF, INITIAL_WATCH_STATE, backoffDelay, failuresAfterRun, nextWatchState, type WatchState } from '../../src/ingest/watchdog.js';
import { defined } from '../helpers.js';

const FFMPEG5: FfmpegFlavour = { rtspTimeoutOption: '-timeout' };
const FFMPEG4: FfmpegFlavour = { rtspTimeoutOption: '-stimeout' };

/** The value following `option` in an argument list (asserting the option is there). */
function valueOf(args: string[], option: string): string {
  const index = args.indexOf(option);
  assert.ok(index >= 0 && index + 1 < args.length, `${option} missing from ${args.join(' ')}`);
  return args[index + 1];
}

/** True when `sequence` appears in `args` as consecutive items. */
function hasSequence(args: string[], ...sequence: string[]): boolean {
  return args.some((_, i) => sequence.every((item, j) => args[i + j] === item));
}

describe('sourceKind', () => {
  test('tells RTSP, HTTP, webcams, files and other URLs apart', () => {
    assert.equal(sourceKind('rtsp://10.0.0.2:554/stream1'), 'rtsp');
    assert.equal(sourceKind('RTSPS://cam.local/live'), 'rtsp');
    assert.equal(sourceKind('http://cam.local/mjpeg'), 'http');
    assert.equal(sourceKind('https://example.org/live/index.m3u8'), 'http');
    assert.equal(sourceKind('/dev/video0'), 'webcam');
    assert.equal(sourceKind('/dev/video12'), 'webcam');
    assert.equal(sourceKind('/dev/videox'), 'file');
    assert.equal(sourceKind('clips/door.mp4'), 'file');
    assert.equal(sourceKind('/srv/clips/door.mp4'), 'file');
    assert.equal(sourceKind('file:///srv/clips/door.mp4'), 'file');
    assert.equal(sourceKind('srt://10.0.0.3:9000'), 'url');
  });
});

describe('inputArgs', () => {
  test('rtsp: transport, socket timeout in µs with the option of the ffmpeg version, low delay, then -i', () => {
    const args = inputArgs({ url: 'rtsp://cam/live', transport: 'udp', socketTimeoutMs: 5000 }, FFMPEG5);
    assert.equal(valueOf(args, '-rtsp_transport'), 'udp');
    assert.equal(valueOf(args, '-timeout'), '5000000');
    assert.ok(!args.includes('-stimeout'));
    assert.ok(hasSequence(args, '-fflags', 'nobuffer', '-flags', 'low_delay'));
    assert.deepEqual(args.slice(-2), ['-i', 'rtsp://cam/live']);
    assert.ok(!args.includes('-re') && !args.includes('-stream_loop'));
  });

  test('rtsp: tcp by default, 10 s timeout by default, -stimeout for old builds', () => {
    const args = inputArgs({ url: 'rtsp://cam/live' }, FFMPEG4);
    assert.equal(valueOf(args, '-rtsp_transport'), 'tcp');
    assert.equal(valueOf(args, '-stimeout'), '10000000');
    assert.ok(!args.includes('-timeout'), 'on ffmpeg 4 -timeout means listen mode');
  });

  test('http (MJPEG, HLS): reconnect flags and an I/O timeout', () => {
    const args = inputArgs({ url: 'http://cam/video.mjpg', socketTimeoutMs: 3000 }, FFMPEG5);
    assert.equal(valueOf(args, '-reconnect'), '1');
    assert.equal(valueOf(args, '-reconnect_streamed'), '1');
    assert.equal(valueOf(args, '-rw_timeout'), '3000000');
    assert.ok(!args.includes('-rtsp_transport'));
    assert.ok(!args.includes('nobuffer'), 'nobuffer would drop the packets read while probing: the first second of an HLS stream');
    assert.deepEqual(args.slice(-2), ['-i', 'http://cam/video.mjpg']);
  });

  test('webcam: the v4l2 demuxer', () => {
    const args = inputArgs({ url: '/dev/video0' }, FFMPEG5);
    assert.ok(hasSequence(args, '-f', 'v4l2'));
    assert.deepEqual(args.slice(-2), ['-i', '/dev/video0']);
  });

  test('file: real-time playback, looping unless loop is false, a file: input', () => {
    const looping = inputArgs({ url: '/srv/clips/door.mp4' }, FFMPEG5);
    assert.ok(looping.includes('-re'));
    assert.equal(valueOf(looping, '-stream_loop'), '-1');
    assert.deepEqual(looping.slice(-2), ['-i', 'file:/srv/clips/door.mp4']);
    assert.ok(!looping.includes('-fflags'), 'a file is not a live source');

    const once = inputArgs({ url: '/srv/clips/door.mp4', loop: false }, FFMPEG5);
    assert.ok(once.includes('-re'));
    assert.ok(!once.includes('-stream_loop'));
  });

  test('file: relative paths and file:// URLs become absolute; odd names stay names', () => {
    assert.deepEqual(inputArgs({ url: 'file:///srv/a%20b.mp4' }, FFMPEG5).slice(-1), ['file:/srv/a b.mp4']);
    const relative = inputArgs({ url: 'clips/x.mp4' }, FFMPEG5).at(-1) ?? '';
    assert.ok(relative.startsWith('file:/') && relative.endsWith('/clips/x.mp4'), relative);
    // a name with a colon or a leading dash is not read as a protocol or an option
    assert.deepEqual(inputArgs({ url: '/srv/-x:1.mp4' }, FFMPEG5).slice(-1), ['file:/srv/-x:1.mp4']);
  });

  test('probe leaves out playback and low-delay options', () => {
    const file = inputArgs({ url: '/srv/clip.mp4' }, FFMPEG5, 'probe');
    assert.deepEqual(file, ['-i', 'file:/srv/clip.mp4']);
    const rtsp = inputArgs({ url: 'rtsp://cam/live', transport: 'udp' }, FFMPEG5, 'probe');
    assert.equal(valueOf(rtsp, '-rtsp_transport'), 'udp');
    assert.ok(!rtsp.includes('nobuffer'));
  });
});

describe('fitWithin', () => {
  test('scales down to fit, keeping the aspect ratio', () => {
    assert.deepEqual(fitWithin(1920, 1080, 640, 480), { width: 640, height: 360 });
    assert.deepEqual(fitWithin(1280, 960, 640, 480), { width: 640, height: 480 });
    assert.deepEqual(fitWithin(1080, 1920, 640, 480), { width: 270, height: 480 });
  });

  test('never scales up', () => {
    assert.deepEqual(fitWithin(320, 240, 640, 480), { width: 320, height: 240 });
  });

  test('sides are even and never exceed the limits', () => {
    const odd = fitWithin(321, 241, 640, 480);
    assert.equal(odd.width % 2, 0);
    assert.equal(odd.height % 2, 0);
    assert.ok(odd.width <= 321 && odd.height <= 241);
    const size = fitWithin(2592, 1944, 639, 479);
    assert.ok(size.width <= 639 && size.height <= 479, JSON.stringify(size));
    assert.equal(size.width % 2, 0);
  });

  test('rejects sizes that are not positive', () => {
    assert.throws(() => fitWithin(0, 240, 640, 480), RangeError);
    assert.throws(() => fitWithin(320, 240, 640, -1), RangeError);
  });
});

describe('outputFps and outputArgs', () => {
  test('the fps filter only drops frames, never duplicates them', () => {
    assert.equal(outputFps(10, 25), 10);
    assert.equal(outputFps(25, 25), null);
    assert.equal(outputFps(25, 15), null);
    assert.equal(outputFps(25, 29.97), 25);
    assert.equal(outputFps(12, null), 12);
    assert.equal(outputFps(null, 30), null);
  });

  test('video only, scale (and fps when asked), raw rgb24 on stdout, flushed per frame', () => {
    const args = outputArgs({ width: 640, height: 360, fps: 10 });
    assert.ok(args.includes('-an'));
    assert.equal(valueOf(args, '-vf'), 'fps=10,scale=640:360:flags=area');
    assert.ok(hasSequence(args, '-f', 'rawvideo', '-pix_fmt', 'rgb24'));
    assert.equal(valueOf(args, '-flush_packets'), '1');
    assert.equal(args.at(-1), 'pipe:1');
    assert.equal(valueOf(outputArgs({ width: 320, height: 240, fps: null }), '-vf'), 'scale=320:240:flags=area');
  });

  test('the whole command: errors only on stderr, input before output', () => {
    const args = ffmpegArgs({ url: 'rtsp://cam/live' }, FFMPEG5, { width: 640, height: 480, fps: 15 });
    assert.equal(valueOf(args, '-loglevel'), 'error');
    assert.ok(args.includes('-nostdin') && args.includes('-hide_banner') && args.includes('-nostats'));
    assert.ok(args.indexOf('-rtsp_transport') < args.indexOf('-i'));
    assert.ok(args.indexOf('-i') < args.indexOf('-vf'));
    assert.equal(args.at(-1), 'pipe:1');
  });
});

describe('redactUrl', () => {
  test('hides the password of user:pass URLs', () => {
    assert.equal(redactUrl('rtsp://admin:hunter2@10.0.0.2:554/Streaming/Channels/101'), 'rtsp://admin:***@10.0.0.2:554/Streaming/Channels/101');
    assert.equal(redactUrl('http://u:p@cam.local/video.mjpg?x=1'), 'http://u:***@cam.local/video.mjpg?x=1');
  });

  test('keeps a user name alone and URLs without credentials as they are', () => {
    assert.equal(redactUrl('rtsp://admin@10.0.0.2/live'), 'rtsp://admin@10.0.0.2/live');
    assert.equal(redactUrl('rtsp://10.0.0.2:554/live'), 'rtsp://10.0.0.2:554/live');
    assert.equal(redactUrl('/dev/video0'), '/dev/video0');
    assert.equal(redactUrl('/srv/clips/a:b@c.mp4'), '/srv/clips/a:b@c.mp4');
  });

  test('hides passwords with odd characters, encoded or not', () => {
    assert.equal(redactUrl('rtsp://admin:p@ss:w/rd#1@10.0.0.2:554/live'), 'rtsp://admin:***@10.0.0.2:554/live');
    assert.equal(redactUrl('rtsp://admin:p%40ss%3Aword@cam/live'), 'rtsp://admin:***@cam/live');
    assert.equal(redactUrl('rtsp://admin:@cam/live'), 'rtsp://admin:***@cam/live');
    assert.equal(redactUrl('rtsp://user.name-1:ünïcødé pass@cam/live'), 'rtsp://user.name-1:***@cam/live');
    for (const url of ['rtsp://a:s3cr3t!$&()*+,;=@h/p', 'rtsp://a:s3cr3t?x@h/p', 'rtsp://a:s3cr3t@h/p@q']) {
      assert.ok(!redactUrl(url).includes('s3cr3t'), `${url} → ${redactUrl(url)}`);
    }
  });

  test('urlSecrets gives the raw and decoded password', () => {
    assert.deepEqual(urlSecrets('rtsp://admin:p%40ss@cam/live'), ['p%40ss', 'p@ss']);
    assert.deepEqual(urlSecrets('rtsp://admin@cam/live'), []);
    assert.deepEqual(urlSecrets('/dev/video0'), []);
  });

  test('redactText hides URLs inside ffmpeg messages and the camera password wherever it appears', () => {
    const url = 'rtsp://admin:p%40ss@10.0.0.2/live';
    const line = '[rtsp @ 0x55] rtsp://admin:p%40ss@10.0.0.2/live: 401 Unauthorized (user admin, password p@ss)';
    const clean = redactText(line, [url]);
    assert.ok(!clean.includes('p%40ss') && !clean.includes('p@ss'), clean);
    assert.ok(clean.includes('rtsp://admin:***@10.0.0.2/live') && clean.includes('401 Unauthorized'), clean);
    assert.equal(redactText('no urls here'), 'no urls here');
  });
});

describe('redaction table (issue 9: passwords with "/", query-string credentials)', () => {
  // [url, as shown]: every secret is "Secret9" or holds it, so a leak is one search away
  const TABLE: [string, string][] = [
    ['rtsp://admin:a/b:Secret9@host/x', 'rtsp://admin:***@host/x'],
    ['rtsp://admin:Secret9/@host:554/x', 'rtsp://admin:***@host:554/x'],
    ['rtsp://admin:Sec:ret9@Secret9@host/x', 'rtsp://admin:***@host/x'],
    ['rtsp://admin:S#e?cret9@host/x?a=1', 'rtsp://admin:***@host/x?a=1'],
    ['rtsp://admin:a%2Fb%3ASecret9@host/x', 'rtsp://admin:***@host/x'],
    ['rtsps://admin:Secret9@host/x', 'rtsps://admin:***@host/x'],
    ['RTSP://admin:Secret9@host/x', 'RTSP://admin:***@host/x'],
    ['rtsp://a/b:Secret9@host/x', 'rtsp://***@host/x'], // a "/" before the colon: user or path, all hidden
    ['rtsp://host:554/x?user=admin&pwd=Secret9', 'rtsp://host:554/x?user=admin&pwd=***'],
    ['http://host/cgi?user=admin&password=Secret9&res=720', 'http://host/cgi?user=admin&password=***&res=720'],
    ['http://host/v.mjpg?PASS=Secret9', 'http://host/v.mjpg?PASS=***'],
    ['http://host/v.mjpg?passwd=Secret9;x=1', 'http://host/v.mjpg?passwd=***;x=1'],
    ['https://host/live.m3u8?token=Secret9#t', 'https://host/live.m3u8?token=***#t'],
    ['https://host/live.m3u8?Auth=Secret9&key=Secret9b', 'https://host/live.m3u8?Auth=***&key=***'],
    ['https://host/s?secret=Secret9&apikey=Secret9&api_key=Secret9&access_token=Secret9', 'https://host/s?secret=***&apikey=***&api_key=***&access_token=***'],
    ['https://host/s?x-api-key=Secret9&client_secret=Secret9', 'https://host/s?x-api-key=***&client_secret=***'],
    ['srt://host:9000?passphrase=Secret9Secret9&latency=200', 'srt://host:9000?passphrase=***&latency=200'],
    ['rtsp://admin:Secret9@host/x?pwd=Secret9', 'rtsp://admin:***@host/x?pwd=***'],
    // nothing secret: unchanged
    ['rtsp://host/x?user=admin&monkey=1&keyframe=2', 'rtsp://host/x?user=admin&monkey=1&keyframe=2'],
    ['rtsp://admin@host/x', 'rtsp://admin@host/x'],
    ['/srv/clips/pwd=x:y@z.mp4', '/srv/clips/pwd=x:y@z.mp4'],
  ];

  test('redactUrl hides each password and credential value, and keeps the rest', () => {
    for (const [url, shown] of TABLE) assert.equal(redactUrl(url), shown, url);
  });

  test('redactText hides them in ffmpeg lines that quote the URL whole, partly or decoded', () => {
    for (const [url] of TABLE) {
      const lines = [
        `${url}: Invalid argument`,
        `[tcp @ 0x55] Connection to ${url.replace(/^\w+:\/\//, 'tcp://')} failed: Connection refused`,
        `[rtsp @ 0x55] method DESCRIBE failed for ${url.slice(url.indexOf('/', 8))}`, // the path onward
        `[http @ 0x55] HTTP error for ${decodeURIComponent(url)}`,
      ];
      for (const line of lines) {
        const clean = redactText(line, [url]);
        assert.ok(!clean.includes('Secret9') && !clean.includes('Sec:ret9') && !clean.includes('S#e?cret9'), `${url}\n  ${line}\n  → ${clean}`);
      }
    }
    // the camera's own secret is found even where no URL is around it, and ffmpeg's "url: error" colon stays
    assert.equal(redactText('auth failed for b:Secret9 (a/b:Secret9)', ['rtsp://admin:a/b:Secret9@h/x']), 'auth failed for *** (***)');
    assert.equal(redactText('rtsp://h/x?pwd=Secret9: Connection refused'), 'rtsp://h/x?pwd=***: Connection refused');
    assert.equal(redactText('/x?user=admin&token=Secret9 and pwd=Secret9'), '/x?user=admin&token=*** and pwd=***');
    // a short password is not hunted through the text (it would hit ordinary words), but its URL is redacted
    assert.equal(redactText('rtsp://u:on@h/x: connection refused', ['rtsp://u:on@h/x']), 'rtsp://u:***@h/x: connection refused');
  });

  test('urlSecrets lists the password and query credentials, raw, decoded and in pieces, longest first', () => {
    assert.deepEqual(urlSecrets('rtsp://admin:a/b:Secret9@h/x'), ['a%2Fb%3ASecret9', 'a/b:Secret9', 'b:Secret9', 'Secret9']);
    assert.deepEqual(urlSecrets('rtsp://h/x?user=admin&pwd=Secret%209'), ['Secret%209', 'Secret 9', 'Secret']);
    assert.deepEqual(urlSecrets('rtsp://h/x?user=admin'), []);
  });
});

describe('cameraUrlProblem (which URLs ffmpeg may be given)', () => {
  /** The problem with a URL that must have one. */
  const problemWith = (url: string): string => defined(cameraUrlProblem(url), `a problem with ${JSON.stringify(url)}`);

  test('allows the camera schemes, /dev/videoN and plain file paths', () => {
    const allowed = [
      ...ALLOWED_SCHEMES.map((scheme) => `${scheme}://192.0.2.10:554/stream`),
      'RTSP://cam/live',
      'https://cam/live.m3u8',
      'udp://@239.0.0.1:1234',
      '/dev/video0',
      '/srv/door.mp4',
      'clips/door.mp4',
      './10:30.mp4',
      '/srv/-x:1.mp4',
      'door.mp4',
    ];
    for (const url of allowed) assert.equal(cameraUrlProblem(url), null, url);
    assert.deepEqual([...ALLOWED_SCHEMES].sort(), ['http', 'https', 'rtmp', 'rtmps', 'rtsp', 'rtsps', 'srt', 'udp']);
  });

  test('refuses every other protocol prefix ffmpeg knows, naming the allowed kinds', () => {
    const refused = [
      'concat:a|b',
      'tcp://127.0.0.1:22',
      'file:/etc/passwd',
      'file:///etc/passwd',
      'pipe:0',
      'data:text/plain,x',
      'subfile,,start,0,end,9,,:/etc/passwd',
      'ftp://cam/x',
      'gopher://x',
      'tls://127.0.0.1:443',
      'unix:/run/x.sock',
      'crypto:/x',
      'cache:rtsp://cam/x',
      'async:file:/etc/passwd',
      'hls+file:/x.m3u8',
      'a:b.mp4',
      ':x',
    ];
    for (const url of refused) {
      const problem = cameraUrlProblem(url);
      assert.ok(problem, url);
      assert.match(
        problem,
        /is not allowed: use rtsp:\/\/, rtsps:\/\/, rtmp:\/\/, rtmps:\/\/, http:\/\/ or https:\/\/ \(MJPEG, HLS\), srt:\/\/, udp:\/\/, \/dev\/videoN or a video file path/,
        url,
      );
    }
    assert.match(problemWith('concat:a|b'), /scheme "concat"/);
    assert.match(problemWith('file:/etc/passwd'), /without "file:"/);
    // the prefix is named only when it looks like a scheme: it could hold a secret otherwise
    assert.ok(!problemWith('x?token=Secret9:y').includes('Secret9'));
  });

  test('refuses malformed allowed schemes and control characters', () => {
    assert.match(problemWith('rtsp:/cam/x'), /needs "\/\/" and a host/);
    assert.match(problemWith('rtsp://'), /has no host/);
    assert.match(problemWith('/srv/a.mp4\nfacestream: camera x: live'), /control character/);
  });
});

describe('FrameReader', () => {
  const width = 4;
  const height = 3;
  const frameBytes = width * height * 3;

  /** A stream of `count` frames, frame i filled with bytes (i * 7 + offset) & 255. */
  function stream(count: number): Uint8Array {
    const bytes = new Uint8Array(count * frameBytes);
    for (let i = 0; i < bytes.length; i += 1) bytes[i] = (Math.floor(i / frameBytes) * 7 + (i % frameBytes)) & 255;
    return bytes;
  }

  /** Feeds `bytes` in chunks of the given sizes (cycled) and returns copies of the frames. */
  function feed(bytes: Uint8Array, sizes: number[], poolSize = 3): { frames: { data: number[]; index: number; ts: number }[]; reader: FrameReader } {
    let clock = 1000;
    const frames: { data: number[]; index: number; ts: number }[] = [];
    const reader = new FrameReader({ width, height, poolSize, now: () => clock }, (f: Frame) => {
      assert.equal(f.data.length, frameBytes);
      frames.push({ data: Array.from(f.data), index: f.seq, ts: f.ts });
    });
    let offset = 0;
    for (let k = 0; offset < bytes.length; k += 1) {
      const size = sizes[k % sizes.length];
      clock += 1;
      reader.write(bytes.subarray(offset, offset + size));
      offset += size;
    }
    return { frames, reader };
  }

  function expected(count: number): number[][] {
    const bytes = stream(count);
    return Array.from({ length: count }, (_, i) => Array.from(bytes.subarray(i * frameBytes, (i + 1) * frameBytes)));
  }

  test('whole frames per chunk', () => {
    const { frames, reader } = feed(stream(5), [frameBytes]);
    assert.deepEqual(
      frames.map((f) => f.data),
      expected(5),
    );
    assert.deepEqual(
      frames.map((f) => f.index),
      [0, 1, 2, 3, 4],
    );
    assert.equal(reader.framesRead, 5);
    assert.equal(reader.pendingBytes, 0);
  });

  test('1-byte chunks', () => {
    const { frames } = feed(stream(4), [1]);
    assert.deepEqual(
      frames.map((f) => f.data),
      expected(4),
    );
    // a frame's time is when its last byte arrived: byte k arrives at clock 1001 + k
    assert.deepEqual(
      frames.map((f) => f.ts),
      [1000 + frameBytes, 1000 + 2 * frameBytes, 1000 + 3 * frameBytes, 1000 + 4 * frameBytes],
    );
  });

  test('chunks spanning 2.5 frames', () => {
    const { frames, reader } = feed(stream(10), [Math.round(2.5 * frameBytes)]);
    assert.deepEqual(
      frames.map((f) => f.data),
      expected(10),
    );
    // two chunks of 2.5 frames complete frames 0,1 (first chunk), then 2,3,4 (second chunk)
    assert.deepEqual(frames.map((f) => f.ts).slice(0, 5), [1001, 1001, 1002, 1002, 1002]);
    assert.equal(reader.pendingBytes, 0);
  });

  test('irregular chunk sizes, and a partial frame stays pending', () => {
    const bytes = stream(6);
    const { frames, reader } = feed(bytes.subarray(0, bytes.length - 5), [7, 1, frameBytes + 3, 50, 2]);
    assert.deepEqual(
      frames.map((f) => f.data),
      expected(5),
    );
    assert.equal(reader.pendingBytes, frameBytes - 5);
  });

  test('slots are reused in a ring, views not copies, shared memory by default', () => {
    const seen: Frame[] = [];
    const reader = new FrameReader({ width, height, poolSize: 3 }, (f) => seen.push(f));
    reader.write(stream(4));
    /** Which ring slot each frame's data is, numbered in the order the slots were first seen. */
    const slotsOf = (frames: Frame[]) => frames.map((f) => frames.findIndex((g) => g.data === f.data));
    assert.deepEqual(slotsOf(seen), [0, 1, 2, 0]);
    assert.equal(seen[0].data, seen[3].data, 'slot 0 is reused for frame 3');
    assert.ok(seen[0].data.buffer instanceof SharedArrayBuffer);
    // frame 1 is still intact after frame 3 was written (poolSize - 1 frames later)
    assert.deepEqual(Array.from(seen[1].data), expected(2)[1]);
    const plainSeen: Frame[] = [];
    const plain = new FrameReader({ width, height, shared: false }, (f) => plainSeen.push(f));
    plain.write(stream(9));
    assert.ok(!(plainSeen[0].data.buffer instanceof SharedArrayBuffer));
    assert.deepEqual(slotsOf(plainSeen), [0, 1, 2, 3, 4, 5, 6, 7, 0], 'a ring of 8 by default');
  });

  test('attach reads a stream; detach stops reading', () => {
    const source = new PassThrough();
    let count = 0;
    const reader = new FrameReader({ width, height }, () => {
      count += 1;
    });
    reader.attach(source);
    source.write(Buffer.from(stream(2)));
    reader.detach();
    source.write(Buffer.from(stream(2)));
    assert.equal(count, 2);
  });

  test('a ring from a pool goes back on release: the next reader gets the same memory, the released one reads no more', () => {
    const pool = new SlotPool();
    const firstFrames: Frame[] = [];
    const first = new FrameReader({ width, height, poolSize: 3, pool }, (f) => firstFrames.push(f));
    first.write(stream(3)); // one frame in each slot: the frames show the whole ring
    const ring = firstFrames.map((f) => f.data.buffer);
    first.release();
    first.release(); // twice is harmless: the ring is given back once
    assert.equal(pool.idleBytes, 3 * frameBytes);
    first.write(stream(2));
    assert.equal(firstFrames.length, 3, 'a released reader emits nothing');
    const secondFrames: Frame[] = [];
    const second = new FrameReader({ width, height, poolSize: 3, pool }, (f) => secondFrames.push(f));
    assert.equal(pool.idleBytes, 0);
    second.write(stream(3));
    assert.deepEqual(new Set(secondFrames.map((f) => f.data.buffer)), new Set(ring));
  });

  test('rejects bad sizes', () => {
    assert.throws(() => new FrameReader({ width: 0, height: 3 }, () => undefined), RangeError);
    assert.throws(() => new FrameReader({ width: 2.5, height: 3 }, () => undefined), RangeError);
    assert.throws(() => new FrameReader({ width: 2, height: 3, poolSize: 1 }, () => undefined), RangeError);
  });
});

describe('backoff', () => {
  test('1 s, 2 s, 4 s … capped at 30 s', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 20].map((n) => backoffDelay(n)),
      [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000],
    );
    assert.equal(backoffDelay(0), 1000);
  });

  test('follows a custom policy', () => {
    const policy = { initialMs: 200, maxMs: 1000, factor: 3, resetAfterMs: 5000 };
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => backoffDelay(n, policy)),
      [200, 600, 1000, 1000],
    );
  });

  test('a healthy run resets the count, a short one adds to it', () => {
    assert.equal(failuresAfterRun(0, 0), 1);
    assert.equal(failuresAfterRun(4, 2000), 5);
    assert.equal(failuresAfterRun(4, DEFAULT_BACKOFF.resetAfterMs), 1);
    assert.equal(failuresAfterRun(6, 3_600_000), 1);
  });
});

describe('nextWatchState', () => {
  const retryable: StreamProblem = { kind: 'refused', reason: 'connection refused: is the camera on and the port right?', retry: true };
  const permanent: StreamProblem = { kind: 'file-not-found', reason: 'file not found: /x.mp4', retry: false };
  const run = (...events: Parameters<typeof nextWatchState>[1][]): WatchState => events.reduce(nextWatchState, INITIAL_WATCH_STATE);

  test('start → connecting; a frame → live', () => {
    assert.deepEqual(run({ type: 'start' }), { state: 'connecting', reason: null, everLive: false });
    assert.deepEqual(run({ type: 'start' }, { type: 'frame' }), { state: 'live', reason: null, everLive: true });
  });

  test('before the first frame, retryable errors keep connecting, with the reason', () => {
    assert.deepEqual(run({ type: 'start' }, { type: 'ended', problem: retryable }), { state: 'failed', reason: retryable.reason, everLive: false });
    assert.deepEqual(run({ type: 'start' }, { type: 'no-frames', seconds: 20 }), { state: 'failed', reason: 'no frames for 20 s', everLive: false });
  });

  test('after frames, an outage is stalled, and frames make it live again', () => {
    const stalled = run({ type: 'start' }, { type: 'frame' }, { type: 'no-frames', seconds: 5 });
    assert.deepEqual(stalled, { state: 'stalled', reason: 'no frames for 5 s', everLive: true });
    const retrying = nextWatchState(stalled, { type: 'ended', problem: { kind: 'not-found', reason: 'stream not found: check the path', retry: true } });
    assert.deepEqual(retrying, { state: 'stalled', reason: 'stream not found: check the path', everLive: true });
    assert.equal(nextWatchState(retrying, { type: 'frame' }).state, 'live');
  });

  test('errors that retrying cannot fix → failed; start again → connecting', () => {
    const failed = run({ type: 'start' }, { type: 'ended', problem: permanent });
    assert.deepEqual(failed, { state: 'failed', reason: permanent.reason, everLive: false });
    assert.equal(run({ type: 'start' }, { type: 'frame' }, { type: 'ended', problem: permanent }).state, 'failed');
    assert.deepEqual(nextWatchState(failed, { type: 'start' }), INITIAL_WATCH_STATE);
  });
});

describe('classifyStderr', () => {
  const rtsp: ProblemContext = { kind: 'rtsp', displayName: 'rtsp://admin:***@cam/live', transport: 'tcp', exitCode: 1 };
  const file: ProblemContext = { kind: 'file', displayName: '/srv/clips/door.mp4', exitCode: 1 };
  const webcam: ProblemContext = { kind: 'webcam', displayName: '/dev/video3', exitCode: 1 };

  const cases: [string, string, ProblemContext, StreamProblem['kind'], boolean, RegExp][] = [
    [
      'rtsp 401',
      '[rtsp @ 0x5581] method DESCRIBE failed: 401 Unauthorized\nrtsp://admin:***@cam/live: Server returned 401 Unauthorized (authorization failed)',
      rtsp,
      'unauthorized',
      false,
      /wrong user name or password/,
    ],
    ['http 401', 'http://cam/video.mjpg: Server returned 401 Unauthorized (authorization failed)', { ...rtsp, kind: 'http' }, 'unauthorized', false, /wrong user name or password/],
    ['403', '[rtsp @ 0x5] method DESCRIBE failed: 403 Forbidden', rtsp, 'forbidden', false, /access denied/],
    [
      'refused',
      '[tcp @ 0x55] Connection to tcp://127.0.0.1:1?timeout=10000000 failed: Connection refused\nrtsp://127.0.0.1:1/x: Connection refused',
      rtsp,
      'refused',
      true,
      /^connection refused: is the camera on and the port right\?$/,
    ],
    [
      'rtsp 404',
      '[rtsp @ 0x55] method DESCRIBE failed: 404 Not Found\nrtsp://cam/nope: Server returned 404 Not Found',
      rtsp,
      'not-found',
      true,
      /^stream not found: check the path$/,
    ],
    ['http 404', 'http://cam/x.m3u8: Server returned 404 Not Found', { ...rtsp, kind: 'http' }, 'not-found', true, /stream not found/],
    ['461', '[rtsp @ 0x55] method SETUP failed: 461 Unsupported Transport\nrtsp://cam/live: Protocol not supported', rtsp, 'transport', false, /set transport to udp/],
    ['invalid data', '/etc/passwd: Invalid data found when processing input', file, 'unsupported', false, /^unsupported codec or not a video stream$/],
    ['no decoder', '[vist#0:0 @ 0x1] Decoder (codec hevc) not found for input stream #0:0', rtsp, 'unsupported', false, /unsupported codec/],
    ['file missing', 'file:/srv/clips/door.mp4: No such file or directory', file, 'file-not-found', false, /^file not found: \/srv\/clips\/door\.mp4$/],
    [
      'webcam missing',
      '[video4linux2,v4l2 @ 0x5] Cannot open video device /dev/video3: No such file or directory',
      webcam,
      'device-not-found',
      true,
      /webcam not found: \/dev\/video3/,
    ],
    ['webcam busy', '[video4linux2,v4l2 @ 0x5] ioctl(VIDIOC_STREAMON): Device or resource busy', webcam, 'busy', true, /another program/],
    ['permission', 'file:/srv/secret.mp4: Permission denied', file, 'permission', false, /permission denied/],
    ['timeout', 'rtsp://10.9.9.9/live: Connection timed out', rtsp, 'timeout', true, /timed out/],
    ['unreachable', 'rtsp://10.9.9.9/live: No route to host', rtsp, 'unreachable', true, /unreachable/],
    ['dns', '[tcp @ 0x5] Failed to resolve hostname camm.local: Name or service not known', rtsp, 'unknown-host', true, /unknown host name/],
    ['protocol', 'foo://x: Protocol not found', { ...rtsp, kind: 'url', displayName: 'foo://x' }, 'protocol', false, /cannot open this kind of URL: foo:\/\/x/],
    ['reset', 'rtsp://cam/live: Connection reset by peer', rtsp, 'closed', true, /closed the connection/],
  ];
  for (const [name, stderr, context, kind, retry, reason] of cases) {
    test(name, () => {
      const problem = classifyStderr(stderr, context);
      assert.equal(problem.kind, kind, `${name}: ${JSON.stringify(problem)}`);
      assert.equal(problem.retry, retry);
      assert.match(problem.reason, reason);
    });
  }

  test('no video stream: a file fails for good, a network source is retried', () => {
    assert.deepEqual(noVideoProblem('file'), { kind: 'unsupported', reason: 'unsupported codec or not a video stream (no video stream found)', retry: false });
    for (const kind of ['rtsp', 'http', 'url', 'webcam'] as const) {
      const problem = noVideoProblem(kind);
      assert.equal(problem.retry, true, kind);
      assert.match(problem.reason, /no video stream in what the camera sent/);
    }
  });

  test('461 suggests tcp when udp was refused', () => {
    assert.match(classifyStderr('method SETUP failed: 461 Unsupported Transport', { ...rtsp, transport: 'udp' }).reason, /set transport to tcp/);
  });

  test("an unknown error is retried with ffmpeg's last line as the reason", () => {
    const problem = classifyStderr('first thing\nsomething odd happened\n', { ...rtsp, exitCode: 187 });
    assert.deepEqual(problem, { kind: 'unknown', reason: 'ffmpeg stopped (exit code 187): something odd happened', retry: true });
    assert.equal(classifyStderr('', { ...rtsp, exitCode: null }).reason, 'ffmpeg stopped without an error message');
    assert.equal(classifyStderr('', { ...rtsp, exitCode: 1 }).reason, 'ffmpeg stopped (exit code 1) without an error message');
  });

  test('a clean end of a stream is retried', () => {
    assert.deepEqual(classifyStderr('', { ...rtsp, kind: 'http', exitCode: 0 }), { kind: 'ended', reason: 'the stream ended', retry: true });
  });
});

describe('RateMeter', () => {
  test('counts events in the moving window only', () => {
    const meter = new RateMeter(1000, 64);
    for (let t = 0; t < 2000; t += 40) meter.add(t); // 25 per second
    assert.equal(meter.rate(1999), 25);
    assert.equal(meter.rate(2500), 12); // events at 1520 … 1960 remain: 12
    assert.equal(meter.rate(10_000), 0);
  });

  test('a full ring keeps the newest events', () => {
    const meter = new RateMeter(1000, 8);
    for (let t = 0; t < 1000; t += 10) meter.add(t);
    assert.equal(meter.rate(999), 8, 'capacity bounds the count');
  });
});

describe('version and probe parsing', () => {
  test('parseFfmpegVersion and the RTSP timeout option', () => {
    assert.deepEqual(parseFfmpegVersion('ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026'), { version: '5.1.9-0+deb12u1', major: 5 });
    assert.deepEqual(parseFfmpegVersion('ffmpeg version n6.1.1 Copyright'), { version: 'n6.1.1', major: 6 });
    assert.deepEqual(parseFfmpegVersion('ffmpeg version 4.0.2-static https://johnvansickle.com'), { version: '4.0.2-static', major: 4 });
    assert.deepEqual(parseFfmpegVersion('ffmpeg version N-46360-gd5c5c3b Copyright'), { version: 'N-46360-gd5c5c3b', major: null });
    assert.equal(parseFfmpegVersion('not ffmpeg'), null);
    assert.equal(rtspTimeoutOptionFor(5), '-timeout');
    assert.equal(rtspTimeoutOptionFor(7), '-timeout');
    assert.equal(rtspTimeoutOptionFor(4), '-stimeout');
    assert.equal(
      rtspTimeoutOptionFor(null, 'RTSP demuxer AVOptions:\n  -stimeout          <int>        .D....... set timeout (in microseconds) of socket TCP I/O operations'),
      '-stimeout',
    );
    assert.equal(
      rtspTimeoutOptionFor(null, 'RTSP demuxer AVOptions:\n  -timeout           <int64>      .D....... set timeout (in microseconds) of socket I/O operations'),
      '-timeout',
    );
  });

  test('parseRate', () => {
    assert.equal(parseRate('25/1'), 25);
    assert.ok(Math.abs((parseRate('30000/1001') ?? 0) - 29.97) < 0.01);
    assert.equal(parseRate('0/0'), null);
    assert.equal(parseRate(undefined), null);
  });

  test('parseFfprobeJson: size, fps, codec, rotation', () => {
    const json = JSON.stringify({
      programs: [],
      streams: [{ codec_type: 'video', codec_name: 'h264', width: 1920, height: 1080, r_frame_rate: '30/1', avg_frame_rate: '30000/1001' }],
    });
    const info = parseFfprobeJson(json);
    assert.equal(info?.width, 1920);
    // assert.equal(info?.width, 1920) narrowed info: it is not null from here
    assert.equal(info.height, 1080);
    assert.equal(info.codec, 'h264');
    assert.ok(Math.abs((info.fps ?? 0) - 29.97) < 0.01);
    const portrait = parseFfprobeJson(
      JSON.stringify({ streams: [{ codec_type: 'video', width: 1920, height: 1080, avg_frame_rate: '0/0', r_frame_rate: '25/1', side_data_list: [{ rotation: -90 }] }] }),
    );
    assert.deepEqual(portrait, { width: 1080, height: 1920, fps: 25, codec: null });
    assert.equal(parseFfprobeJson('{"streams":[]}'), null);
    assert.equal(parseFfprobeJson('not json'), null);
  });

  test('parseFfmpegStreamInfo: the first video stream line', () => {
    const stderr = [
      "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/tmp/clip.mp4':",
      '  Duration: 00:00:02.00, start: 0.000000, bitrate: 168 kb/s',
      '  Stream #0:0[0x1](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 2 kb/s (default)',
      '  Stream #0:1[0x2](und): Video: h264 (High 4:4:4 Predictive) (avc1 / 0x31637661), yuv444p(progressive), 320x240 [SAR 1:1 DAR 4:3], 164 kb/s, 25 fps, 25 tbr, 12800 tbn (default)',
      '    Side data:',
      '      displaymatrix: rotation of 90.00 degrees',
      'At least one output file must be specified',
    ].join('\n');
    assert.deepEqual(parseFfmpegStreamInfo(stderr), { width: 240, height: 320, fps: 25, codec: 'h264' });
    const rtsp = '  Stream #0:0: Video: h264 (Constrained Baseline), yuv420p(progressive), 640x480, 29.97 tbr, 90k tbn';
    assert.deepEqual(parseFfmpegStreamInfo(rtsp), { width: 640, height: 480, fps: 29.97, codec: 'h264' });
    assert.equal(parseFfmpegStreamInfo('file:/x: No such file or directory'), null);
  });

  test('durations: ffprobe format.duration, ffmpeg "Duration:", none for live streams', () => {
    assert.equal(parseFfprobeDuration(JSON.stringify({ streams: [], format: { duration: '10.008000' } })), 10.008);
    assert.equal(parseFfprobeDuration(JSON.stringify({ streams: [] })), null);
    assert.equal(parseFfmpegDuration('  Duration: 00:01:02.50, start: 0.000000, bitrate: 168 kb/s'), 62.5);
    assert.equal(parseFfmpegDuration('  Duration: N/A, start: 0.000000, bitrate: N/A'), null);
  });

  test('parseFfprobeJson: an older rotate tag turns the picture as side data does', () => {
    const tagged = parseFfprobeJson(JSON.stringify({ streams: [{ codec_type: 'video', width: 1920, height: 1080, avg_frame_rate: '25/1', tags: { rotate: '90' } }] }));
    assert.deepEqual(tagged, { width: 1080, height: 1920, fps: 25, codec: null });
  });

  test('probeArgs: ffprobe JSON query, or ffmpeg with an input and no output', () => {
    const ffprobe = probeArgs({ url: 'rtsp://cam/live', transport: 'udp' }, FFMPEG5, 'ffprobe');
    assert.equal(valueOf(ffprobe, '-print_format'), 'json');
    assert.equal(valueOf(ffprobe, '-select_streams'), 'v:0');
    assert.equal(valueOf(ffprobe, '-rtsp_transport'), 'udp');
    assert.deepEqual(ffprobe.slice(-2), ['-i', 'rtsp://cam/live']);
    const ffmpeg = probeArgs({ url: '/srv/a.mp4' }, FFMPEG5, 'ffmpeg');
    assert.deepEqual(ffmpeg, ['-hide_banner', '-nostdin', '-i', 'file:/srv/a.mp4']);
  });
});
