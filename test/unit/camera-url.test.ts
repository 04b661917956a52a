/**
 * Which camera URLs the server takes (src/ingest/ffmpeg-args.ts cameraUrlProblem): a scheme one
 * slip from an allowed one is refused with the scheme it meant, a /dev entry that is no webcam
 * with the webcams' form. test/e2e/camera-url.test.ts checks the page says the same.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cameraUrlProblem, intendedScheme } from '../../src/ingest/ffmpeg-args.js';
import { defined } from '../helpers.js';

describe('camera URL typos', () => {
  it('suggests the scheme a typo meant', () => {
    assert.match(defined(cameraUrlProblem('rstp://cam/x'), 'a problem'), /scheme "rstp" is not allowed: did you mean rtsp:\/\/\?/);
    assert.match(defined(cameraUrlProblem('htp://cam/x'), 'a problem'), /did you mean http:\/\/\?/);
    assert.match(defined(cameraUrlProblem('rtspp://cam/x'), 'a problem'), /did you mean rtsp:\/\/\?/);
    assert.doesNotMatch(defined(cameraUrlProblem('tcp://cam/x'), 'a problem'), /did you mean/, 'tcp is no typo of udp');
    assert.match(defined(cameraUrlProblem('/dev/vidoe0'), 'a problem'), /is not a webcam: webcams are \/dev\/videoN/);
    assert.equal(cameraUrlProblem('/dev/video2'), null);
    assert.equal(cameraUrlProblem('/dev/shm/clip.mp4'), null, 'a file under a folder of /dev is a file');
  });

  it('takes a typo to be one slip: a letter wrong, missing, added, or two letters swapped', () => {
    assert.deepEqual(['rstp', 'rtsq', 'rtp', 'rtspp', 'htpp', 'htps', 'udpp'].map(intendedScheme), ['rtsp', 'rtsp', 'rtsp', 'rtsp', 'http', 'https', 'udp']);
    for (const far of ['tcp', 'ftp', 'tls', 'file', 'concat', 'pipe', 'xy']) assert.equal(intendedScheme(far), null, far);
  });
});
